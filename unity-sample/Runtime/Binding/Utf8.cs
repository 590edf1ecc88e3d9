// UTF-8 by hand, both ways: works on every Mono, .NET and IL2CPP (no UnmanagedType.LPUTF8Str).
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;

namespace PortOpen
{
    internal static unsafe class Utf8
    {
        /// <summary>A NUL-terminated UTF-8 string the library owns or lent (null for NULL).</summary>
        internal static string Decode(IntPtr text)
        {
            if (text == IntPtr.Zero) return null;
            byte* p = (byte*)text;
            int length = 0;
            while (p[length] != 0) length++;
            return Encoding.UTF8.GetString(p, length);
        }

        /// <summary>A UTF-8 buffer of at most <paramref name="capacity"/> bytes, NUL-terminated within.</summary>
        internal static string Decode(byte* text, int capacity)
        {
            int length = 0;
            while (length < capacity && text[length] != 0) length++;
            return Encoding.UTF8.GetString(text, length);
        }
    }

    /// <summary>
    /// The <c>const char*</c> arguments of one call: NUL-terminated UTF-8 copies in unmanaged
    /// memory (the library only borrows them during the call), freed on Dispose.
    /// </summary>
    internal sealed class Utf8Args : IDisposable
    {
        readonly List<IntPtr> allocated = new List<IntPtr>();

        /// <summary>A copy of <paramref name="text"/> (IntPtr.Zero for null, which means "default").</summary>
        internal IntPtr Add(string text, string name)
        {
            if (text == null) return IntPtr.Zero;
            if (text.IndexOf('\0') >= 0) throw new ArgumentException("contains a NUL character", name);
            byte[] bytes = Encoding.UTF8.GetBytes(text);
            IntPtr p = Marshal.AllocHGlobal(bytes.Length + 1);
            allocated.Add(p);
            Marshal.Copy(bytes, 0, p, bytes.Length);
            Marshal.WriteByte(p, bytes.Length, 0);
            return p;
        }

        public void Dispose()
        {
            foreach (IntPtr p in allocated) Marshal.FreeHGlobal(p);
            allocated.Clear();
        }
    }
}
