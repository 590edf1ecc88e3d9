// The C# API used wrongly, as a careless game might: each misuse must surface as the documented
// exception, never a crash. Network: only unicast searches to 127.0.0.1:9 (the discard port,
// nobody answers), never multicast or the default gateway, exactly as tests/c/misuse.c.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Net;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Threading;
using System.Threading.Tasks;
using PortOpen;

static class MisuseTests
{
    const string Nobody = "127.0.0.1:9";

    public static int Run(string layoutFile)
    {
        StructsAreLaidOutAsTheHeaderSays(layoutFile);
        VersionIsReported();
        NullArgumentsThrowArgumentNullException();
        DisposedObjectsThrowObjectDisposedException();
        InvalidValuesThrowInvalidArgument();
        CancellingTheTokenStopsDiscoveryMidway();
        CancelFromAnotherThreadStopsABlockingCall();
        LogMessagesReachTheCSharpHandler();
        LeaseWithoutGatewayReportsEachFamilyAndQueuesEvents();
        CheckWithoutGatewayIsGradeD();
        return Check.Summary("csharp misuse");
    }

    /// <summary>A client whose searches go only to 127.0.0.1:9 by unicast: nothing leaves loopback.</summary>
    static PortOpenClient UnicastClient(int discoveryMs)
    {
        return new PortOpenClient(new PortOpenConfig
        {
            Router = Nobody,
            NoMulticast = true,
            NoDefaultGateway = true,
            DiscoveryTimeout = TimeSpan.FromMilliseconds(discoveryMs),
        });
    }

    static long Bound(int ms)
    {
        return (long)(ms * Check.Scale);
    }

    /// <summary>Every C struct's size and every field's offset (from a C program built against
    /// include/portopen.h) must match what the marshaller computes for the C# mirror.</summary>
    static void StructsAreLaidOutAsTheHeaderSays(string layoutFile)
    {
        var types = new Dictionary<string, string>
        {
            { "portopen_addr", "PortOpen.PortAddress" },
            { "portopen_config", "PortOpen.NativeConfig" },
            { "portopen_open_options", "PortOpen.NativeOpenOptions" },
            { "portopen_event", "PortOpen.PortEvent" },
            { "portopen_gateway_info", "PortOpen.NativeGatewayInfo" },
            { "portopen_family_state", "PortOpen.NativeFamilyState" },
            { "portopen_lease_info", "PortOpen.NativeLeaseInfo" },
        };
        Assembly binding = typeof(PortOpenClient).Assembly;
        var fieldsSeen = new Dictionary<string, int>();
        foreach (string line in File.ReadAllLines(layoutFile))
        {
            string[] parts = line.Split(' ');
            string[] name = parts[0].Split('.');
            long expected = long.Parse(parts[1]);
            Type type = binding.GetType(types[name[0]], true);
            if (name.Length == 1)
            {
                int size = Marshal.SizeOf(type);
                Check.That(size == expected, string.Format("sizeof {0}: C {1}, C# {2}", name[0], expected, size));
                continue;
            }
            long offset = -1;
            try
            {
                offset = Marshal.OffsetOf(type, name[1]).ToInt64();
            }
            catch (ArgumentException)
            {
            }
            Check.That(offset == expected, string.Format("offsetof {0}: C {1}, C# {2}", parts[0], expected, offset));
            fieldsSeen[name[0]] = (fieldsSeen.ContainsKey(name[0]) ? fieldsSeen[name[0]] : 0) + 1;
        }
        foreach (var pair in types)
        {
            Type type = binding.GetType(pair.Value, true);
            int fields = type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Length;
            int seen = fieldsSeen.ContainsKey(pair.Key) ? fieldsSeen[pair.Key] : 0;
            Check.That(fields == seen, string.Format("{0}: C# has {1} fields, C {2}", pair.Key, fields, seen));
        }
    }

    static void VersionIsReported()
    {
        Check.That(!string.IsNullOrEmpty(PortOpenClient.Version), "Version is empty");
    }

    static void NullArgumentsThrowArgumentNullException()
    {
        using (PortOpenClient client = UnicastClient(100))
        {
            Check.Throws<ArgumentNullException>(() => client.Open(null), "Open(null)");
            Check.Throws<ArgumentNullException>(() => client.OpenAsync(null), "OpenAsync(null) throws at once");
        }
        using (var client = new PortOpenClient(null)) // null config: every default, sends nothing
        {
        }
        Check.Throws<ArgumentException>(() => new PortOpenClient(new PortOpenConfig { Router = "127.0.0.1\0:9" }),
            "a string with a NUL");
    }

    static void DisposedObjectsThrowObjectDisposedException()
    {
        PortOpenClient client = UnicastClient(100);
        PortLease lease = client.Open(new OpenOptions(Protocol.Udp, 7777));
        PortLease outliving = client.Open(new OpenOptions(Protocol.Udp, 7778));
        lease.Dispose();
        lease.Dispose(); // a second Dispose does nothing
        Check.Throws<ObjectDisposedException>(() => { var s = lease.V4; }, "lease.V4 after Dispose");
        Check.Throws<ObjectDisposedException>(() => lease.Close(), "lease.Close after Dispose");
        Check.Throws<ObjectDisposedException>(() => lease.CloseAsync(), "lease.CloseAsync after Dispose");
        Check.That(lease.ToString().EndsWith("disposed"), "lease.ToString after Dispose: " + lease);

        client.Dispose();
        client.Dispose();
        PortEvent ev;
        Check.Throws<ObjectDisposedException>(() => client.Discover(IpFamily.V4), "Discover after Dispose");
        Check.Throws<ObjectDisposedException>(() => client.DiscoverAsync(IpFamily.V4), "DiscoverAsync after Dispose throws at once");
        Check.Throws<ObjectDisposedException>(() => client.Open(new OpenOptions(Protocol.Udp, 7777)), "Open after Dispose");
        Check.Throws<ObjectDisposedException>(() => client.TryPollEvent(out ev), "TryPollEvent after Dispose");
        Check.Throws<ObjectDisposedException>(() => client.Cancel(), "Cancel after Dispose");
        Check.Throws<ObjectDisposedException>(() => client.RenewDue(), "RenewDue after Dispose");

        // A lease outlives its client: still readable, closed.
        Check.That(outliving.V6.Status == PortStatus.Closed, "lease after its client's Dispose: " + outliving.V6);
        outliving.Dispose();
    }

    static void InvalidValuesThrowInvalidArgument()
    {
        using (PortOpenClient client = UnicastClient(100))
        {
            ExpectInvalid(() => client.Open(new OpenOptions(Protocol.Udp, 0)), "internal_port must be 1..=65535, not 0");
            var e = Check.Throws<PortOpenException>(() => client.OpenAsync(new OpenOptions(Protocol.Udp, 0)).GetAwaiter().GetResult(),
                "OpenAsync port 0");
            Check.That(e != null && e.Status == PortOpenStatus.InvalidArgument, "OpenAsync port 0: InvalidArgument");
            ExpectInvalid(() => client.Open(new OpenOptions((Protocol)99, 7777)), "protocol");
            ExpectInvalid(() => client.Discover((IpFamily)5), "family");
            ExpectInvalid(() => client.Open(new OpenOptions(Protocol.Udp, 7777) { InternalV6 = IPAddress.Parse("192.168.1.2") }),
                "internal_v6");
            ExpectInvalid(() => client.Open(new OpenOptions(Protocol.Udp, 7777) { WantV4 = false, WantV6 = false }), "IPv4, IPv6");
        }
        ExpectInvalid(() => new PortOpenClient(new PortOpenConfig { Description = "" }), "description");
        ExpectInvalid(() => new PortOpenClient(new PortOpenConfig { Router = "router.local" }), "router");
        Check.Throws<ArgumentOutOfRangeException>(() => new PortOpenClient(new PortOpenConfig { DiscoveryTimeout = TimeSpan.FromSeconds(-1) }),
            "negative timeout");
    }

    static void ExpectInvalid(Action action, string needle)
    {
        var e = Check.Throws<PortOpenException>(action, "expected InvalidArgument mentioning " + needle);
        if (e == null) return;
        Check.That(e.Status == PortOpenStatus.InvalidArgument, "status " + e.Status + ": " + e.Message);
        Check.That(e.Message.Contains(needle), "message \"" + e.Message + "\" does not mention \"" + needle + "\"");
    }

    static void CancellingTheTokenStopsDiscoveryMidway()
    {
        using (PortOpenClient client = UnicastClient(2000))
        using (var cts = new CancellationTokenSource())
        {
            cts.CancelAfter(100);
            var watch = Stopwatch.StartNew();
            Task<Gateway> task = client.DiscoverAsync(IpFamily.V4, cts.Token);
            Check.Throws<OperationCanceledException>(() => task.GetAwaiter().GetResult(), "DiscoverAsync cancelled after 100 ms");
            Check.That(task.IsCanceled, "the task is Canceled, not " + task.Status);
            Check.That(watch.ElapsedMilliseconds < Bound(1000), "cancelled discovery took " + watch.ElapsedMilliseconds + " ms");

            // OpenAsync cancelled mid-discovery: a cancelled task, no lease.
            using (var openCts = new CancellationTokenSource(100))
            {
                watch.Restart();
                Task<PortLease> opening = client.OpenAsync(new OpenOptions(Protocol.Udp, 7777), openCts.Token);
                Check.Throws<OperationCanceledException>(() => opening.GetAwaiter().GetResult(), "OpenAsync cancelled after 100 ms");
                Check.That(opening.IsCanceled, "the open task is Canceled, not " + opening.Status);
                Check.That(watch.ElapsedMilliseconds < Bound(1000), "cancelled open took " + watch.ElapsedMilliseconds + " ms");
            }

            // An already cancelled token: the call never starts.
            Task<PortLease> open = client.OpenAsync(new OpenOptions(Protocol.Udp, 7777), cts.Token);
            Check.Throws<OperationCanceledException>(() => open.GetAwaiter().GetResult(), "OpenAsync with a cancelled token");

            // The client's cancel flag was reset: the next call runs to its own outcome.
            watch.Restart();
            var e = Check.Throws<PortOpenException>(() => client.DiscoverAsync(IpFamily.V4).GetAwaiter().GetResult(),
                "discovery after a cancelled one");
            Check.That(e != null && e.Status == PortOpenStatus.NoGateway, "after cancel: NoGateway, got " + (e == null ? "-" : e.Message));
            Check.That(watch.ElapsedMilliseconds >= 1500, "discovery after a cancelled one ran its course: " + watch.ElapsedMilliseconds + " ms");
        }
    }

    static void CancelFromAnotherThreadStopsABlockingCall()
    {
        using (PortOpenClient client = UnicastClient(5000))
        {
            var watch = Stopwatch.StartNew();
            Task.Run(() =>
            {
                Thread.Sleep(100);
                client.Cancel();
            });
            Check.Throws<OperationCanceledException>(() => client.Discover(IpFamily.V4), "Discover stopped by Cancel()");
            Check.That(watch.ElapsedMilliseconds < Bound(1000), "cancelled discovery took " + watch.ElapsedMilliseconds + " ms");
            Check.Throws<OperationCanceledException>(() => client.Open(new OpenOptions(Protocol.Udp, 7777)),
                "calls stay cancelled until ResetCancel");
            client.ResetCancel();
            Check.Throws<PortOpenException>(() => client.Discover(IpFamily.V6), "after ResetCancel: NoGateway");
        }
    }

    static void LogMessagesReachTheCSharpHandler()
    {
        var lines = new ConcurrentQueue<string>();
        var threads = new ConcurrentDictionary<int, bool>();
        Action<LogLevel, string> handler = (level, message) =>
        {
            threads[Thread.CurrentThread.ManagedThreadId] = true;
            lines.Enqueue(level + " " + message);
        };
        Action<LogLevel, string> faulty = (level, message) => { throw new InvalidOperationException("a handler's bug"); };
        using (PortOpenClient client = UnicastClient(300))
        {
            PortOpenLog.Level = LogLevel.Debug;
            PortOpenLog.Message += faulty; // its exception must not reach native code
            PortOpenLog.Message += handler;
            Check.Throws<PortOpenException>(() => client.Discover(IpFamily.V4), "discovery without gateway");
            PortOpenLog.Message -= handler;
            PortOpenLog.Message -= faulty;
            int count = lines.Count;
            Check.That(count > 0, "no log line reached C#");
            Check.That(lines.All(l => l.StartsWith("Error ") || l.StartsWith("Warn ") || l.StartsWith("Info ") || l.StartsWith("Debug ")),
                "log levels: " + string.Join(" | ", lines));
            Check.That(lines.Any(l => l.Contains("127.0.0.1:9")), "the story names the address searched: " + string.Join(" | ", lines));
            Console.WriteLine("log: {0} lines from {1} thread(s), e.g. \"{2}\"", count, threads.Count, lines.FirstOrDefault());

            Check.Throws<PortOpenException>(() => client.Discover(IpFamily.V4), "discovery without gateway");
            Check.That(lines.Count == count, "log lines arrived after the last handler was removed");
        }
    }

    static void LeaseWithoutGatewayReportsEachFamilyAndQueuesEvents()
    {
        using (PortOpenClient client = UnicastClient(200))
        using (PortLease lease = client.Open(new OpenOptions(Protocol.Udp, 7777)))
        {
            FamilyState v4 = lease.V4, v6 = lease.V6;
            // IPv6: NoLocalAddress instead on a host without a global IPv6 address (no search then).
            Check.That(v4.Status == PortStatus.NoGateway && (v6.Status == PortStatus.NoGateway || v6.Status == PortStatus.NoLocalAddress), "both NoGateway: " + lease);
            Check.That(!v4.IsOpen && v4.External.IsNone && v4.External.ToEndPoint() == null, "no address when not open: " + v4);
            Check.That(v4.Message.Contains("no UPnP gateway"), "message: " + v4.Message);

            int failed = 0;
            PortEvent ev;
            while (client.TryPollEvent(out ev))
            {
                Check.That(ev.LeaseId == lease.Id && ev.Kind == LeaseEventKind.Failed, "event: " + ev);
                Check.That(ev.Family == IpFamily.V4 || ev.Family == IpFamily.V6, "event family: " + ev);
                Check.That(ev.Message.Length > 0 && ev.Address.IsNone, "event message and address: " + ev);
                failed++;
            }
            Check.That(failed == 2, "one Failed event per family, got " + failed);

            // Polling an empty queue, frame after frame, allocates nothing.
            long before = GC.GetAllocatedBytesForCurrentThread();
            bool any = false;
            for (int i = 0; i < 10000; i++) any |= client.TryPollEvent(out ev);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Check.That(!any && allocated == 0, "10000 polls allocated " + allocated + " bytes");

            lease.Close();
            lease.Close(); // idempotent
            Check.That(lease.V4.Status == PortStatus.Closed, "after Close: " + lease.V4);
            Check.That(client.RenewDue() == null, "nothing to renew");
            Check.That(client.CleanLeftovers() == 0, "no journal, no leftovers");
        }
    }

    static void CheckWithoutGatewayIsGradeD()
    {
        using (PortOpenClient client = UnicastClient(200))
        {
            RouterCheck check = client.CheckRouterAsync().GetAwaiter().GetResult();
            Check.That(check.Grade == RouterGrade.D, "grade " + check.Grade);
            Check.That(check.ReportJson.StartsWith("{\"grade\":\"D\",") && check.ReportJson.EndsWith("}"), "report: " + check.ReportJson);
            Check.That(check.V6Routes == RouteFlags.None && check.V4Routes == RouteFlags.None && check.V4Speaks == RouteFlags.None,
                "no route: " + check.V6Routes + " " + check.V4Routes + " " + check.V4Speaks);
            Check.That(check.NatPmpExternal.IsNone && check.PcpVersion == 0, "no PCP/NAT-PMP");
        }
        // A set of routes: only those are tried (the report says which were allowed); a byte
        // that is neither a route nor a set is refused.
        using (var client = new PortOpenClient(new PortOpenConfig
        {
            Router = Nobody,
            NoMulticast = true,
            NoDefaultGateway = true,
            DiscoveryTimeout = TimeSpan.FromMilliseconds(200),
            Routes = RouteFlags.Upnp | RouteFlags.NatPmp,
        }))
        {
            RouterCheck check = client.CheckRouter();
            Check.That(check.ReportJson.Contains("\"routes_allowed\":[\"upnp\",\"natpmp\"]"), "report: " + check.ReportJson);
        }
        ExpectInvalid(() => new PortOpenClient(new PortOpenConfig { Routes = (RouteFlags)0x80 }), "config->route must be");
    }
}
