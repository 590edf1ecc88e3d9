// Just enough of UnityEngine's API for mcs to type-check unity-sample/Runtime outside Unity
// (tests/bindings/csharp.sh compiles it with UNITY_5_3_OR_NEWER defined, as Unity does).
namespace UnityEngine
{
    public class Object { }
    public class Component : Object { }
    public class Behaviour : Component { }
    public class MonoBehaviour : Behaviour { }

    public sealed class SerializeField : System.Attribute { }

    public sealed class TooltipAttribute : System.Attribute
    {
        public TooltipAttribute(string tooltip) { }
    }

    public sealed class RangeAttribute : System.Attribute
    {
        public RangeAttribute(float min, float max) { }
    }

    public static class Debug
    {
        public static void Log(object message) { }
        public static void LogWarning(object message) { }
    }

    public static class Application
    {
        public static string persistentDataPath { get { return "/tmp"; } }
    }
}

namespace UnityEngine.UI
{
    public class Text : Component
    {
        public string text { get; set; }
    }
}

namespace AOT
{
    public sealed class MonoPInvokeCallbackAttribute : System.Attribute
    {
        public MonoPInvokeCallbackAttribute(System.Type type) { }
    }
}
