// Against the lab's real miniupnpd, from inside its lan namespace: discover, open both families,
// close, and let the garbage collector close a lease nobody disposed. tests/bindings/csharp.sh
// probes from wan and reads the router's rules between the steps: this program prints a line
// when a step is done ("PROBE 45000") and waits for the script's go-ahead on stdin ("close").
using System;
using System.Diagnostics;
using System.Threading;
using PortOpen;

static class LabTest
{
    const ushort Port = 45000;
    const ushort GcPort = 45001;

    public static int Run()
    {
        PortOpenLog.Level = LogLevel.Info;
        PortOpenLog.Message += (level, message) => Console.WriteLine("log {0}: {1}", level, message);
        var config = new PortOpenConfig { DiscoveryTimeout = TimeSpan.FromSeconds(2), ActionTimeout = TimeSpan.FromSeconds(3) };
        using (var client = new PortOpenClient(config))
        {
            Gateway v6 = client.DiscoverAsync(IpFamily.V6).GetAwaiter().GetResult();
            Gateway v4 = client.DiscoverAsync(IpFamily.V4).GetAwaiter().GetResult();
            Console.WriteLine("gateway " + v6);
            Console.WriteLine("gateway " + v4);
            Check.That(v6.IgdVersion == 2 && v6.HasPinhole && v6.Location.StartsWith("http://[2001:db8:1::1]"), "IPv6 gateway: " + v6);
            Check.That(v4.HasPortMapping && v4.LocalAddress.ToString() == "192.168.77.100", "IPv4 gateway: " + v4);

            PortLease lease = client.OpenAsync(new OpenOptions(Protocol.Udp, Port) { Lease = TimeSpan.FromMinutes(10) })
                .GetAwaiter().GetResult();
            Check.That(lease.V4.Status == PortStatus.Open && lease.V6.Status == PortStatus.Open, "both open: " + lease);
            Check.That(lease.Protocol == Protocol.Udp && lease.InternalPort == Port, "protocol and port: " + lease.Protocol + " " + lease.InternalPort);
            Console.WriteLine("OPEN v4 " + lease.V4.External);
            Console.WriteLine("OPEN v6 " + lease.V6.External);
            ExpectEvents(client, lease.Id, LeaseEventKind.Opened);
            Console.WriteLine("PROBE " + Port);

            Expect("close");
            lease.Dispose();
            ExpectEvents(client, lease.Id, LeaseEventKind.Closed);
            Console.WriteLine("CLOSED " + Port);

            ulong gcId = OpenOnAThreadAndDropIt(client);
            ExpectEvents(client, gcId, LeaseEventKind.Opened);
            Console.WriteLine("GC-READY " + GcPort);

            Expect("gc");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            ExpectEvents(client, gcId, LeaseEventKind.Closed);
            Console.WriteLine("GC-CLOSED " + GcPort);

            // The check on the lab router (UPnP, PCP and NAT-PMP on): each family opens by PCP
            // and UPnP; over IPv4 the router speaks all three.
            RouterCheck check = client.CheckRouterAsync(45100).GetAwaiter().GetResult();
            Console.WriteLine("CHECK grade={0} v6={1} v4={2} v4speaks={3} pcp={4} natpmp={5}", check.Grade, check.V6Routes,
                check.V4Routes, check.V4Speaks, check.PcpVersion, check.NatPmpExternal);
            Check.That(check.Grade == RouterGrade.A, "grade " + check.Grade);
            Check.That(check.V6Routes == (RouteFlags.Upnp | RouteFlags.Pcp) && check.V4Routes == (RouteFlags.Upnp | RouteFlags.Pcp),
                "routes " + check.V6Routes + " / " + check.V4Routes);
            Check.That(check.V4Speaks == (RouteFlags.Upnp | RouteFlags.Pcp | RouteFlags.NatPmp), "v4 speaks " + check.V4Speaks);
            Check.That(check.V6IgdVersion == 2 && check.PcpVersion == 2 && !check.V6OpenAlready, "versions");
            Check.That(check.NatPmpExternal.Address != null && check.NatPmpExternal.Address.ToString() == "11.0.0.1", "NAT-PMP " + check.NatPmpExternal);

            Expect("quit");
        }
        return Check.Summary("csharp lab");
    }

    /// <summary>
    /// Opens GcPort and keeps no reference. On a thread of its own, which then ends: Mono scans
    /// stacks conservatively, and a dead thread's stack holds nothing.
    /// </summary>
    static ulong OpenOnAThreadAndDropIt(PortOpenClient client)
    {
        ulong id = 0;
        var thread = new Thread(() =>
        {
            PortLease lease = client.Open(new OpenOptions(Protocol.Udp, GcPort) { Lease = TimeSpan.FromMinutes(10) });
            Check.That(lease.V4.IsOpen && lease.V6.IsOpen, "second lease open: " + lease);
            Console.WriteLine("OPEN-GC " + lease);
            id = lease.Id;
        });
        thread.Start();
        thread.Join();
        return id;
    }

    /// <summary>Polls as a game loop would until <paramref name="kind"/> came for both families.</summary>
    static void ExpectEvents(PortOpenClient client, ulong leaseId, LeaseEventKind kind)
    {
        bool v4 = false, v6 = false;
        var watch = Stopwatch.StartNew();
        PortEvent ev;
        while (!(v4 && v6) && watch.ElapsedMilliseconds < 5000 * Check.Scale)
        {
            while (client.TryPollEvent(out ev))
            {
                Console.WriteLine("event " + ev);
                if (ev.LeaseId != leaseId || ev.Kind != kind) continue;
                if (ev.Family == IpFamily.V4) v4 = true;
                if (ev.Family == IpFamily.V6) v6 = true;
            }
            Thread.Sleep(16);
        }
        Check.That(v4 && v6, string.Format("{0} events for lease {1}: v4 {2}, v6 {3}", kind, leaseId, v4, v6));
    }

    static void Expect(string word)
    {
        string line = Console.ReadLine();
        if (line == word) return;
        Check.That(false, "expected \"" + word + "\" on stdin, got " + (line == null ? "end of input" : "\"" + line + "\""));
        throw new InvalidOperationException("the test script stopped driving this program");
    }
}
