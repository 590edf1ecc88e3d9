// Stubs of nunit.framework (as Unity's Test Framework ships it) and UnityEngine.TestRunner, as
// far as the package's tests use them. Compiled into two assemblies by unity_compile.sh.
#if NUNIT_STUB
namespace NUnit.Framework
{
    public delegate void TestDelegate();

    [System.AttributeUsage(System.AttributeTargets.Method)]
    public sealed class TestAttribute : System.Attribute { }

    public static class Assert
    {
        public static void IsTrue(bool condition) { }
        public static void IsTrue(bool condition, string message) { }
        public static void IsFalse(bool condition) { }
        public static void IsNull(object anObject) { }
        public static void AreEqual(object expected, object actual) { }
        public static T Throws<T>(TestDelegate code) where T : System.Exception { return null; }
    }
}
#else
namespace UnityEngine.TestTools
{
    [System.AttributeUsage(System.AttributeTargets.Method)]
    public sealed class UnityTestAttribute : System.Attribute { }
}
#endif
