// Drives the package's PortOpener component on Mono the way Unity's player loop would: Unity
// messages (Start, Update, OnApplicationPause, OnApplicationQuit, OnDestroy) called on one main
// thread, and await continuations posted back to it by a synchronization context pumped once
// per frame, as UnitySynchronizationContext does. The engine is the stub in UnityEngineStub.cs;
// the library and the router are real. Modes:
//   unavailable   the native library cannot be used (missing, or of another C ABI): the
//                 component must say so on screen and raise Failed, never throw;
//   lab           inside the lab's lan namespace, driven line by line by tests/bindings/unity_lab.sh:
//                 it prints a line when a step is done and waits for the script's go-ahead.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Reflection;
using System.Threading;
using PortOpen;
using PortOpen.Unity;
using UnityEngine;

static class PortOpenerLab
{
    const int Port = 45010;
    const int QuitPort = 45011;
    const int SilentPort = 45012;

    static readonly FrameContext mainThread = new FrameContext();
    static readonly List<string> events = new List<string>();
    static int failures;

    static int Main(string[] args)
    {
        SynchronizationContext.SetSynchronizationContext(mainThread);
        string mode = args.Length == 1 ? args[0] : "";
        if (mode == "unavailable") Unavailable();
        else if (mode == "lab") Lab();
        else
        {
            Console.Error.WriteLine("usage: PortOpenerLab.exe unavailable | lab");
            return 2;
        }
        Console.WriteLine(failures == 0 ? "ALL PASSED" : failures + " FAILED");
        return failures == 0 ? 0 : 1;
    }

    static void Unavailable()
    {
        PortOpener opener = Create(Port);
        Message(opener, "Start");
        Frames(opener, TimeSpan.FromSeconds(5), () => opener.State != PortOpenerState.Idle && opener.State != PortOpenerState.Opening);
        Check(opener.State == PortOpenerState.Unavailable, "state " + opener.State + ", expected Unavailable");
        Check(opener.Result != null && opener.Result.Error != null, "Result.Error says why");
        Check(events.Contains("failed"), "the Failed event was raised: " + string.Join(",", events.ToArray()));
        Check(!opener.Result.IsOpen && opener.PublicV6 == null && opener.PublicV4 == null, "nothing advertised");
        Console.WriteLine("STATUS " + opener.Status.Trim().Replace('\n', '|'));
        events.Clear();
        opener.OpenAsync(); // a Host button pressed again: the same answer at once
        Frames(opener, TimeSpan.FromSeconds(1), () => false);
        Check(opener.State == PortOpenerState.Unavailable, "still Unavailable after a second OpenAsync");
        Message(opener, "OnApplicationQuit");
        Message(opener, "OnDestroy");
    }

    static void Lab()
    {
        PortOpener opener = Create(Port);
        // The package's sample on the same object, as its scene has it.
        PortOpen.Samples.PortOpenDemo demo = opener.gameObject.AddComponent<PortOpen.Samples.PortOpenDemo>();
        Message(demo, "Awake");
        Message(demo, "OnEnable");
        Message(opener, "Start");
        Frames(opener, TimeSpan.FromSeconds(20), () => events.Contains("opened") || events.Contains("failed"));
        Check(events.Contains("opened"), "Opened raised: " + string.Join(",", events.ToArray()));
        Check(opener.State == PortOpenerState.Open, "state " + opener.State);
        Check(opener.Result.V6.Status == PortStatus.Open && opener.Result.V4.Status == PortStatus.Open, "both open: " + opener.Result);
        Check(opener.RouterV6 != null && opener.RouterV4 != null, "both routers found");
        Console.WriteLine("OPEN v6 " + opener.PublicV6);
        Console.WriteLine("OPEN v4 " + opener.PublicV4);

        Frames(opener, TimeSpan.FromSeconds(30), () => opener.Grade.HasValue);
        Console.WriteLine("GRADE " + (opener.Grade.HasValue ? opener.Grade.Value.ToString() : "none"));

        // Zero allocation per frame while open: Update polls the (empty) event queue. Mono has no
        // allocation counter, but its nursery (1 MB here, MONO_GC_PARAMS) is collected when full:
        // 200000 frames allocating even 16 bytes each fill it three times. The same loop with
        // one small allocation per frame shows that the meter sees it.
        Action update = (Action)Delegate.CreateDelegate(typeof(Action), opener,
            typeof(PortOpener).GetMethod("Update", BindingFlags.Instance | BindingFlags.NonPublic));
        int collections = Collections(() => update());
        int meter = Collections(() => { update(); sink = new object(); });
        Console.WriteLine("COLLECTIONS " + collections + " in " + Frames200k + " frames of Update (" + meter + " with one object allocated per frame)");
        Check(meter > 0, "the allocation meter saw no collection for 200000 allocations");
        Check(collections == 0, "Update allocates: " + collections + " nursery collections in " + Frames200k + " frames");
        Console.WriteLine("PROBE");

        Expect("watch"); // the script has restarted the router: rules flushed
        events.Clear();
        Frames(opener, TimeSpan.FromSeconds(20), () => events.Contains("recovered V6"));
        Check(events.Contains("lost V6") && events.Contains("recovered V6"), "Lost then Recovered for IPv6: " + string.Join(",", events.ToArray()));
        Check(opener.PublicV6 != null && opener.State == PortOpenerState.Open, "IPv6 advertised again");
        Console.WriteLine("RECOVERED v6 " + opener.PublicV6);
        Message(demo, "OnGUI");
        string panel = (string)typeof(PortOpen.Samples.PortOpenDemo)
            .GetField("panelText", BindingFlags.Instance | BindingFlags.NonPublic).GetValue(demo);
        foreach (string line in panel.Split('\n'))
        {
            if (line.Length == 0) continue;
            if (line == "Steps:") break;
            Console.WriteLine("DEMO " + line);
        }
        Console.WriteLine("DEMO-END");

        Expect("close");
        events.Clear();
        opener.CloseAsync();
        Frames(opener, TimeSpan.FromSeconds(10), () => events.Contains("closed"));
        Check(events.Contains("closed") && opener.State == PortOpenerState.Idle, "Closed raised, state " + opener.State);
        Check(opener.PublicV6 == null && opener.PublicV4 == null, "nothing advertised after close");
        Console.WriteLine("CLOSED");

        Expect("pause"); // a phone app going to the background
        Environment.SetEnvironmentVariable("UNITY_FAKE_MOBILE", "1");
        events.Clear();
        opener.OpenAsync();
        Frames(opener, TimeSpan.FromSeconds(20), () => events.Contains("opened"));
        Check(events.Contains("opened"), "reopened before the pause");
        Console.WriteLine("REOPENED");
        Expect("paused");
        Message(opener, "OnApplicationPause", true);
        Frames(opener, TimeSpan.FromSeconds(10), () => events.Contains("closed"));
        Check(events.Contains("closed"), "closed on pause");
        Console.WriteLine("PAUSED");
        Expect("resume");
        events.Clear();
        Message(opener, "OnApplicationPause", false);
        Frames(opener, TimeSpan.FromSeconds(20), () => events.Contains("opened"));
        Check(events.Contains("opened") && opener.State == PortOpenerState.Open, "reopened on resume");
        Console.WriteLine("RESUMED");

        Expect("destroy"); // a scene change: must not wait for the router
        var clock = Stopwatch.StartNew();
        Message(opener, "OnDestroy");
        Console.WriteLine("DESTROYED in " + clock.ElapsedMilliseconds + " ms");
        Check(clock.ElapsedMilliseconds < 100, "OnDestroy blocked the main thread for " + clock.ElapsedMilliseconds + " ms");

        Expect("quit"); // the script saw the background close remove the rules
        PortOpener second = Create(QuitPort);
        Message(second, "Start");
        events.Clear();
        Frames(second, TimeSpan.FromSeconds(20), () => events.Contains("opened"));
        Check(events.Contains("opened"), "second component opened");
        Console.WriteLine("OPEN-QUIT " + QuitPort);
        Expect("quit-now");
        clock = Stopwatch.StartNew();
        Message(second, "OnApplicationQuit");
        Message(second, "OnDestroy");
        Console.WriteLine("QUIT in " + clock.ElapsedMilliseconds + " ms");
        Check(clock.ElapsedMilliseconds < 2500, "quit waited longer than its bound: " + clock.ElapsedMilliseconds + " ms");

        Expect("quit-silent"); // a third component, then the router stops answering
        PortOpener third = Create(SilentPort);
        Message(third, "Start");
        events.Clear();
        Frames(third, TimeSpan.FromSeconds(20), () => events.Contains("opened"));
        Check(events.Contains("opened"), "third component opened");
        Console.WriteLine("OPEN-SILENT " + SilentPort);
        Expect("quit-now");
        clock = Stopwatch.StartNew();
        Message(third, "OnApplicationQuit");
        Message(third, "OnDestroy");
        long waited = clock.ElapsedMilliseconds;
        Console.WriteLine("QUIT-SILENT in " + waited + " ms");
        // The close waits up to the action timeout (3 s) per family for a router that does not
        // answer; quitting waits its bound (Quit Wait Seconds, 2 s) and no longer.
        Check(waited >= 1900 && waited < 2600, "quit with a silent router took " + waited + " ms, bound 2000 ms");
        Expect("exit");
    }

    const int Frames200k = 200000;
    public static object sink; // where the meter check allocates to

    static int Collections(Action frame)
    {
        GC.Collect(); // an empty nursery: a stray allocation of another thread cannot tip it over
        GC.WaitForPendingFinalizers();
        int before = GC.CollectionCount(0);
        for (int i = 0; i < Frames200k; i++) frame();
        return GC.CollectionCount(0) - before;
    }

    static PortOpener Create(int port)
    {
        var go = new GameObject("PortOpener " + port);
        PortOpener opener = go.AddComponent<PortOpener>();
        opener.Port = port;
        opener.Protocol = Protocol.Udp;
        opener.Opened.AddListener(r => events.Add("opened"));
        opener.Failed.AddListener(r => events.Add("failed"));
        opener.Closed.AddListener(r => events.Add("closed"));
        opener.Lost.AddListener(f => events.Add("lost " + f.Family));
        opener.Recovered.AddListener(f => events.Add("recovered " + f.Family));
        return opener;
    }

    // Runs frames (continuations, then Update) until done() or the time is up.
    static void Frames(PortOpener opener, TimeSpan limit, Func<bool> done)
    {
        var clock = Stopwatch.StartNew();
        while (!done() && clock.Elapsed < limit)
        {
            mainThread.Pump();
            Message(opener, "Update");
            Thread.Sleep(16);
        }
        mainThread.Pump();
    }

    static void Message(MonoBehaviour target, string name, params object[] args)
    {
        MethodInfo method = target.GetType().GetMethod(name, BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);
        if (method == null) throw new MissingMethodException(target.GetType().Name, name);
        method.Invoke(target, args.Length == 0 ? null : args);
    }

    static void Expect(string word)
    {
        string line = Console.ReadLine();
        if (line != word) throw new InvalidOperationException("expected '" + word + "' from the script, got '" + line + "'");
    }

    static void Check(bool condition, string what)
    {
        if (condition) return;
        failures++;
        Console.WriteLine("FAIL " + what);
    }

    /// <summary>Continuations posted from any thread, run on the main thread once per frame.</summary>
    sealed class FrameContext : SynchronizationContext
    {
        readonly Queue<KeyValuePair<SendOrPostCallback, object>> queue = new Queue<KeyValuePair<SendOrPostCallback, object>>();

        public override void Post(SendOrPostCallback d, object state)
        {
            lock (queue) queue.Enqueue(new KeyValuePair<SendOrPostCallback, object>(d, state));
        }

        public override void Send(SendOrPostCallback d, object state)
        {
            throw new NotSupportedException("Send is not used by await");
        }

        public void Pump()
        {
            while (true)
            {
                KeyValuePair<SendOrPostCallback, object> next;
                lock (queue)
                {
                    if (queue.Count == 0) return;
                    next = queue.Dequeue();
                }
                next.Key(next.Value);
            }
        }
    }
}
