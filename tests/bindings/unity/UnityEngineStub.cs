// A stub of the UnityEngine API the package uses, with Unity's signatures, so mcs can type-check
// the package's assemblies outside Unity (tests/bindings/unity_compile.sh). The few bodies that
// matter do what Unity does, just enough for tests/bindings/unity_lab.sh to drive a PortOpener
// on Mono: UnityEvents call their listeners, Debug prints, components live on a GameObject,
// Application reads its answers from UNITY_FAKE_* variables. Rendering (GUI) does nothing.
using System;
using System.Collections.Generic;

namespace UnityEngine
{
    public class Object
    {
        public string name { get; set; }
        public static void Destroy(Object obj) { }
        public static implicit operator bool(Object exists) { return exists != null; }
    }

    public class Component : Object
    {
        public GameObject gameObject { get; internal set; }
        public T GetComponent<T>() { return gameObject.GetComponent<T>(); }
        public T GetComponentInParent<T>() { return gameObject.GetComponent<T>(); }
    }

    public class Behaviour : Component
    {
        public bool enabled { get; set; }
    }

    public class MonoBehaviour : Behaviour { }

    public sealed class GameObject : Object
    {
        readonly List<Component> components = new List<Component>();

        public GameObject(string name)
        {
            this.name = name;
        }

        public T AddComponent<T>() where T : Component
        {
            T component = Activator.CreateInstance<T>();
            component.gameObject = this;
            components.Add(component);
            return component;
        }

        public T GetComponent<T>()
        {
            foreach (Component c in components)
            {
                if (c is T) return (T)(object)c;
            }
            return default(T);
        }
    }

    public sealed class SerializeField : Attribute { }

    public sealed class TooltipAttribute : PropertyAttribute
    {
        public TooltipAttribute(string tooltip) { }
    }

    public sealed class RangeAttribute : PropertyAttribute
    {
        public RangeAttribute(float min, float max) { }
    }

    public sealed class HeaderAttribute : PropertyAttribute
    {
        public HeaderAttribute(string header) { }
    }

    public abstract class PropertyAttribute : Attribute { }

    public sealed class AddComponentMenu : Attribute
    {
        public AddComponentMenu(string menuName) { }
    }

    public sealed class DisallowMultipleComponent : Attribute { }

    public sealed class RequireComponent : Attribute
    {
        public RequireComponent(Type requiredComponent) { }
    }

    public static class Debug
    {
        public static void Log(object message) { Console.WriteLine("unity log: " + message); }
        public static void LogWarning(object message) { Console.WriteLine("unity warning: " + message); }
        public static void LogWarning(object message, Object context) { LogWarning(message); }
        public static void LogError(object message) { Console.WriteLine("unity error: " + message); }
    }

    public enum RuntimePlatform
    {
        OSXEditor = 0,
        OSXPlayer = 1,
        WindowsPlayer = 2,
        WindowsEditor = 7,
        IPhonePlayer = 8,
        Android = 11,
        LinuxPlayer = 13,
        LinuxEditor = 16,
    }

    public static class Application
    {
        public static string persistentDataPath { get { return Environment.GetEnvironmentVariable("UNITY_FAKE_DATA") ?? ""; } }
        public static bool isMobilePlatform { get { return Environment.GetEnvironmentVariable("UNITY_FAKE_MOBILE") == "1"; } }
        public static RuntimePlatform platform { get { return RuntimePlatform.LinuxPlayer; } }
    }

    public static class Screen
    {
        public static int width { get { return 0; } }
        public static int height { get { return 0; } }
    }

    public static class Mathf
    {
        public static float Min(float a, float b) { return a < b ? a : b; }
    }

    public struct Rect
    {
        public Rect(float x, float y, float width, float height) { }
    }

    public struct Vector2
    {
        public float x, y;
    }

    public enum TextAnchor
    {
        UpperLeft = 0,
    }

    public sealed class GUIStyle
    {
        public GUIStyle() { }
        public GUIStyle(GUIStyle other) { }
        public TextAnchor alignment { get; set; }
        public bool wordWrap { get; set; }
        public int fontSize { get; set; }
    }

    public sealed class GUISkin : Object
    {
        public GUIStyle box { get { return null; } }
    }

    public sealed class GUILayoutOption { }

    public class GUI
    {
        public static GUISkin skin { get { return null; } }
        public static void Box(Rect position, string text, GUIStyle style) { }
    }

    public class GUILayout
    {
        public static void BeginArea(Rect screenRect) { }
        public static void EndArea() { }
        public static void BeginHorizontal(params GUILayoutOption[] options) { }
        public static void EndHorizontal() { }
        public static Vector2 BeginScrollView(Vector2 scrollPosition, params GUILayoutOption[] options) { return scrollPosition; }
        public static void EndScrollView() { }
        public static void Label(string text, params GUILayoutOption[] options) { }
        public static bool Button(string text, params GUILayoutOption[] options) { return false; }
        public static GUILayoutOption Width(float width) { return null; }
    }
}

namespace UnityEngine.Events
{
    public delegate void UnityAction();

    public delegate void UnityAction<T0>(T0 arg0);

    public abstract class UnityEventBase { }

    [Serializable]
    public class UnityEvent : UnityEventBase
    {
        UnityAction calls;
        public void AddListener(UnityAction call) { calls += call; }
        public void RemoveListener(UnityAction call) { calls -= call; }
        public void Invoke() { if (calls != null) calls(); }
    }

    [Serializable]
    public abstract class UnityEvent<T0> : UnityEventBase
    {
        UnityAction<T0> calls;
        public void AddListener(UnityAction<T0> call) { calls += call; }
        public void RemoveListener(UnityAction<T0> call) { calls -= call; }
        public void Invoke(T0 arg0) { if (calls != null) calls(arg0); }
    }
}

namespace AOT
{
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type type) { }
    }
}
