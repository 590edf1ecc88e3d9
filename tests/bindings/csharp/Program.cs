// Test program of the C# binding: `misuse LAYOUT_FILE` (no network beyond 127.0.0.1:9) or `lab`
// (inside the lab's lan namespace, driven line by line by tests/bindings/csharp.sh).
using System;
using System.Diagnostics;

static class Program
{
    static int Main(string[] args)
    {
        string mode = args.Length > 0 ? args[0] : "";
        if (mode == "misuse" && args.Length == 2) return MisuseTests.Run(args[1]);
        if (mode == "lab") return LabTest.Run();
        Console.Error.WriteLine("usage: test.exe misuse LAYOUT_FILE | lab");
        return 2;
    }
}

/// <summary>Counts and reports failed checks without stopping, so one run shows every failure.</summary>
static class Check
{
    static int total, failed;

    public static void That(bool condition, string what)
    {
        total++;
        if (condition) return;
        failed++;
        Console.WriteLine("FAIL " + what);
    }

    /// <summary><paramref name="action"/> must throw a <typeparamref name="T"/> (or a subclass).</summary>
    public static T Throws<T>(Action action, string what) where T : Exception
    {
        try
        {
            action();
        }
        catch (T e)
        {
            total++;
            return e;
        }
        catch (Exception e)
        {
            That(false, what + ": threw " + e.GetType().Name + ": " + e.Message + ", expected " + typeof(T).Name);
            return null;
        }
        That(false, what + ": did not throw, expected " + typeof(T).Name);
        return null;
    }

    /// <summary>Time limits are multiplied by PORTOPEN_TEST_TIME_SCALE (e.g. on slow CI).</summary>
    public static double Scale
    {
        get
        {
            double v;
            return double.TryParse(Environment.GetEnvironmentVariable("PORTOPEN_TEST_TIME_SCALE"), out v) && v > 1 ? v : 1;
        }
    }

    public static long Ms(Stopwatch watch)
    {
        return watch.ElapsedMilliseconds;
    }

    public static int Summary(string program)
    {
        Console.WriteLine("{0}: {1} checks, {2} failed", program, total, failed);
        return failed == 0 ? 0 : 1;
    }
}
