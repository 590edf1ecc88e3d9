// The sample MonoBehaviour: opens the game port over IPv6 and IPv4 on Start, shows each step and
// the outcome in a UI Text, keeps the port open while the game runs, closes it on destroy/quit.
using System;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;
using UnityEngine.UI;

namespace PortOpen.Unity
{
    /// <summary>
    /// Opens <see cref="port"/> on the home router for as long as this component lives. Read
    /// <see cref="PublicV6"/> and <see cref="PublicV4"/> for what to advertise to matchmaking.
    /// </summary>
    public sealed class PortOpener : MonoBehaviour
    {
        [Tooltip("The port your game listens on (1024-65535: routers often refuse pinholes below 1024).")]
        [SerializeField, Range(1, 65535)] int port = 7777;
        [SerializeField] Protocol protocol = Protocol.Udp;
        [Tooltip("Where the steps and the outcome are shown (optional; they also go to the Console).")]
        [SerializeField] Text statusText = null;
        [SerializeField] LogLevel libraryLogLevel = LogLevel.Info;

        readonly CancellationTokenSource destroyed = new CancellationTokenSource();
        readonly StringBuilder steps = new StringBuilder();
        PortOpenClient client;
        PortLease lease;
        PortEvent polled; // reused every frame: polling allocates nothing

        /// <summary>What peers send to over IPv6 while the pinhole is open, else null.</summary>
        public IPEndPoint PublicV6 { get; private set; }

        /// <summary>What peers send to over IPv4 while the port mapping is open, else null.</summary>
        public IPEndPoint PublicV4 { get; private set; }

        /// <summary>Raised on the main thread whenever PublicV6 or PublicV4 changes.</summary>
        public event Action AddressesChanged;

        // async void: Unity resumes each await on the main thread; the blocking native calls run
        // on the thread pool inside the binding's *Async methods.
        async void Start()
        {
            PortOpenLog.Level = libraryLogLevel;
            PortOpenLog.Message += ForwardLog;
            client = new PortOpenClient(new PortOpenConfig
            {
                // The cache makes the next start faster; the journal lets it remove what a crash left open.
                CacheFile = Path.Combine(Application.persistentDataPath, "portopen-gateways.cache"),
                JournalFile = Path.Combine(Application.persistentDataPath, "portopen-journal"),
            });
            try
            {
                Show("Looking for the router over IPv6 and IPv4...");
                Task<Gateway> v6 = Discover(IpFamily.V6), v4 = Discover(IpFamily.V4);
                bool hasV6 = await v6 != null, hasV4 = await v4 != null;
                if (!hasV6 && !hasV4)
                {
                    Show("No router answered: players cannot connect directly; use a relay.");
                    return;
                }
                Show(string.Format("Opening {0} port {1}...", protocol, port));
                var options = new OpenOptions(protocol, (ushort)port) { WantV6 = hasV6, WantV4 = hasV4 };
                lease = await client.OpenAsync(options, destroyed.Token);
                if (destroyed.IsCancellationRequested) // destroyed just as it opened
                {
                    lease.Dispose();
                    return;
                }
                Report(lease.V6);
                Report(lease.V4);
            }
            catch (OperationCanceledException)
            {
                // Destroyed while working: OnDestroy cleans up.
            }
            catch (PortOpenException e)
            {
                Show("portopen failed: " + e.Message);
            }
        }

        async Task<Gateway> Discover(IpFamily family)
        {
            try
            {
                Gateway g = await client.DiscoverAsync(family, destroyed.Token);
                Show(string.Format("{0}: router at {1} ({2}); pinholes: {3}, port mappings: {4}; this device: {5}",
                    Name(family), g.Location, g.Server, g.HasPinhole ? "yes" : "no", g.HasPortMapping ? "yes" : "no", g.LocalAddress));
                return g;
            }
            catch (PortOpenException e)
            {
                Show(Name(family) + ": " + e.Message);
                return null;
            }
        }

        void Update()
        {
            if (client == null) return;
            while (client.TryPollEvent(out polled))
            {
                switch (polled.Kind)
                {
                    case LeaseEventKind.Opened:
                        SetPublic(polled.Family, polled.Address.ToEndPoint());
                        break;
                    case LeaseEventKind.Recovered: // the address or port may have changed: re-advertise
                        SetPublic(polled.Family, polled.Address.ToEndPoint());
                        Show(string.Format("{0}: open again - peers connect to {1}", Name(polled.Family), polled.Address));
                        break;
                    case LeaseEventKind.Lost: // recovery is under way: stop advertising until Recovered
                        SetPublic(polled.Family, null);
                        Show(string.Format("{0}: lost ({1}), reopening...", Name(polled.Family), polled.Message));
                        break;
                    case LeaseEventKind.Failed:
                    case LeaseEventKind.Closed:
                        SetPublic(polled.Family, null);
                        break;
                }
            }
        }

        void OnDestroy()
        {
            destroyed.Cancel(); // stops a discovery or open still running
            PortOpenLog.Message -= ForwardLog;
            // Deleting the pinhole and mapping waits for the router (at most the action timeout
            // per family, 3 s by default): fine on quit. Disposing the client alone would too.
            if (lease != null) lease.Dispose();
            if (client != null) client.Dispose();
        }

        void Report(FamilyState state)
        {
            SetPublic(state.Family, state.IsOpen ? state.External.ToEndPoint() : null);
            string name = Name(state.Family);
            switch (state.Status)
            {
                case PortStatus.Open:
                    Show(string.Format("{0}: OPEN - peers connect to {1}", name, state.External));
                    break;
                case PortStatus.OpenAlready:
                    Show(string.Format("{0}: reachable (the router's firewall is off) - peers connect to {1}", name, state.External));
                    break;
                case PortStatus.NotRequested:
                    Show(name + ": not tried (no router answered)");
                    break;
                case PortStatus.NotAllowed:
                    Show(name + ": the router does not allow pinholes - the player can enable them in its settings");
                    break;
                default:
                    Show(string.Format("{0}: not open ({1}): {2}", name, state.Status, state.Message));
                    break;
            }
        }

        IPEndPoint Public(IpFamily family)
        {
            return family == IpFamily.V6 ? PublicV6 : PublicV4;
        }

        void SetPublic(IpFamily family, IPEndPoint value)
        {
            if (Equals(Public(family), value)) return;
            if (family == IpFamily.V6) PublicV6 = value;
            else PublicV4 = value;
            if (AddressesChanged != null) AddressesChanged();
        }

        static string Name(IpFamily family)
        {
            return family == IpFamily.V6 ? "IPv6" : "IPv4";
        }

        void Show(string line)
        {
            Debug.Log("[portopen] " + line);
            steps.AppendLine(line);
            if (statusText != null) statusText.text = steps.ToString();
        }

        // Any thread, possibly under the library's locks: only Debug.Log, which is thread safe.
        static void ForwardLog(LogLevel level, string message)
        {
            if (level <= LogLevel.Warn) Debug.LogWarning("[portopen] " + message);
            else Debug.Log("[portopen] " + message);
        }
    }
}
