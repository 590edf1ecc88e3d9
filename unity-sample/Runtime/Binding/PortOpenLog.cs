// Native log messages as a C# event. One static callback, marked for IL2CPP and kept alive in a
// static field, is handed to the library while anybody listens.
using System;
using AOT;

namespace PortOpen
{
    /// <summary>
    /// The library's log. Subscribing installs the native callback (process-wide); removing the
    /// last handler turns it off.
    /// </summary>
    /// <remarks>
    /// Handlers run on whatever thread logs (game threads, the renewal thread), possibly several
    /// at once, often while the library holds internal locks: return quickly, do not call
    /// portopen, and do not touch Unity objects (Debug.Log is fine; queue the rest to the main
    /// thread). An exception from a handler is swallowed: it must not unwind into native code.
    /// </remarks>
    public static class PortOpenLog
    {
        static readonly object gate = new object();
        // The delegate handed to native code: a static field, so the GC never collects it.
        static readonly NativeMethods.LogCallback callback = OnNativeLog;
        static Action<LogLevel, string> handlers;
        static LogLevel level = LogLevel.Info;

        static PortOpenLog()
        {
            // The native library outlives a domain reload (Unity's editor reloads on every play
            // and recompile); a callback into the unloaded domain would crash the next log line.
            AppDomain.CurrentDomain.DomainUnload += (sender, args) =>
            {
                lock (gate)
                {
                    handlers = null;
                    NativeMethods.portopen_set_log_callback(null, 0, IntPtr.Zero);
                }
            };
        }

        /// <summary>A log message: its level and its text.</summary>
        /// <exception cref="PortOpenException">NotSupported when the process already has another Rust logger.</exception>
        public static event Action<LogLevel, string> Message
        {
            add
            {
                lock (gate)
                {
                    handlers += value;
                    Apply();
                }
            }
            remove
            {
                lock (gate)
                {
                    handlers -= value;
                    Apply();
                }
            }
        }

        /// <summary>The most verbose level delivered (default Info).</summary>
        public static LogLevel Level
        {
            get { return level; }
            set
            {
                lock (gate)
                {
                    level = value;
                    Apply();
                }
            }
        }

        static void Apply()
        {
            PortOpenStatus status = handlers == null
                ? NativeMethods.portopen_set_log_callback(null, 0, IntPtr.Zero)
                : NativeMethods.portopen_set_log_callback(callback, level, IntPtr.Zero);
            status.ThrowOnError();
        }

        [MonoPInvokeCallback(typeof(NativeMethods.LogCallback))]
        static void OnNativeLog(LogLevel messageLevel, IntPtr message, IntPtr userData)
        {
            Action<LogLevel, string> current = handlers;
            if (current == null) return;
            string text = Utf8.Decode(message);
            foreach (Action<LogLevel, string> handler in current.GetInvocationList())
            {
                try
                {
                    handler(messageLevel, text);
                }
                catch (Exception)
                {
                    // A handler's bug must neither unwind through the library's frames nor
                    // keep the message from the other handlers.
                }
            }
        }
    }
}

#if !UNITY_5_3_OR_NEWER
namespace AOT
{
    /// <summary>
    /// Unity's marker (UnityEngine's AOT.MonoPInvokeCallbackAttribute) for static methods that
    /// native code calls: IL2CPP generates a native entry point for them. Outside Unity it only
    /// documents that.
    /// </summary>
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class MonoPInvokeCallbackAttribute : Attribute
    {
        public MonoPInvokeCallbackAttribute(Type delegateType)
        {
            DelegateType = delegateType;
        }

        public Type DelegateType { get; private set; }
    }
}
#endif
