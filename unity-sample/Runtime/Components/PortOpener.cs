// The PortOpener component: opens the game's port on the home router (IPv6 pinhole and IPv4 port
// mapping), reports each step and outcome (status text, UnityEvents), keeps it open while the
// game runs and closes it off the main thread.
using System;
using System.Collections.Generic;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;

namespace PortOpen.Unity
{
    /// <summary>Where a <see cref="PortOpener"/> stands.</summary>
    public enum PortOpenerState
    {
        /// <summary>Nothing open, nothing under way.</summary>
        Idle,
        /// <summary>Looking for the router and opening.</summary>
        Opening,
        /// <summary>At least one family is open (or being recovered after a loss).</summary>
        Open,
        /// <summary>Deleting the pinhole and mapping on the router.</summary>
        Closing,
        /// <summary>The last attempt opened nothing (<see cref="PortOpener.Result"/> says why).</summary>
        Failed,
        /// <summary>The native library is missing or of another version: nothing can work.</summary>
        Unavailable,
    }

    /// <summary>
    /// Opens <see cref="Port"/> on the home router: on Start (<c>Open On Start</c>) or when a
    /// "Host game" button calls <see cref="OpenAsync"/>, until <see cref="CloseAsync"/>, the
    /// object's destruction or quitting. Read <see cref="PublicV6"/> and <see cref="PublicV4"/>
    /// for what to advertise to matchmaking. Never blocks the main thread: the router is talked
    /// to on the thread pool, and closing on destruction runs in the background.
    /// </summary>
    [AddComponentMenu("portopen/Port Opener")]
    [DisallowMultipleComponent]
    public sealed class PortOpener : MonoBehaviour
    {
        const int StatusLines = 12;

        [Tooltip("The port your game listens on (1024-65535: routers often refuse pinholes below 1024).")]
        [SerializeField, Range(1, 65535)] int port = 7777;
        [SerializeField] Protocol protocol = Protocol.Udp;
        [Tooltip("Open as soon as the scene starts. Off: call OpenAsync, e.g. from a Host button.")]
        [SerializeField] bool openOnStart = true;
        [Tooltip("Ask for an IPv6 firewall pinhole.")]
        [SerializeField] bool ipv6 = true;
        [Tooltip("Ask for an IPv4 port mapping.")]
        [SerializeField] bool ipv4 = true;
        [Tooltip("After the first open, grade the router A-D (a short trial pinhole and mapping on another port, removed at once).")]
        [SerializeField] bool gradeRouter = true;
        [Tooltip("Keep a journal and a gateway cache under Application.persistentDataPath: what a crash left open on the router is removed at the next start, and the router is found faster.")]
        [SerializeField] bool keepJournal = true;
        [Tooltip("Mobile only: close the port when the app goes to the background, reopen it on return (a suspended game cannot answer, and the OS may end it without a word).")]
        [SerializeField] bool closeWhilePaused = true;
        [Tooltip("On quit, wait at most this long for the router to delete the pinhole and mapping (the journal removes what is left at the next start).")]
        [SerializeField, Range(0f, 10f)] float quitWaitSeconds = 2f;
        [Tooltip("Draw the status in a corner of the screen (IMGUI), so a missing native library is visible even without a UI.")]
        [SerializeField] bool showOverlay = true;
        [Tooltip("Mapping description shown in the router's list (printable ASCII, at most 128; empty: \"portopen\").")]
        [SerializeField] string mappingDescription = "";
        [SerializeField] LogLevel libraryLogLevel = LogLevel.Info;

        [Header("Events (main thread)")]
        [Tooltip("An open attempt ended with at least one family open; the result has both.")]
        [SerializeField] PortOpenResultEvent opened = new PortOpenResultEvent();
        [Tooltip("A family was lost (router reboot, lease gone): stop advertising it; recovery is under way.")]
        [SerializeField] FamilyResultEvent lost = new FamilyResultEvent();
        [Tooltip("A lost family is open again (its address may have changed): advertise it again.")]
        [SerializeField] FamilyResultEvent recovered = new FamilyResultEvent();
        [Tooltip("An open attempt opened nothing, recovery gave up, or the native library is unusable.")]
        [SerializeField] PortOpenResultEvent failed = new PortOpenResultEvent();
        [Tooltip("The port was closed on the router.")]
        [SerializeField] PortOpenResultEvent closed = new PortOpenResultEvent();
        [Tooltip("The status text changed (wire a Text's or TMP_Text's text here).")]
        [SerializeField] StatusTextEvent statusChanged = new StatusTextEvent();

        // Closes started by destroyed components; quitting waits for them (bounded).
        static readonly List<Task> releases = new List<Task>();

        readonly Queue<string> lines = new Queue<string>();
        readonly StringBuilder text = new StringBuilder();
        PortOpenClient client;
        PortLease lease;
        PortEvent polled; // reused every frame: polling allocates nothing
        CancellationTokenSource openCancel;
        Task<PortOpenResult> opening;
        Task closing;
        bool logSubscribed, reopenOnResume, destroyed;
        GUIStyle overlayStyle;

        /// <summary>The port to open (set before opening).</summary>
        public int Port { get { return port; } set { port = value; } }

        /// <summary>UDP or TCP (set before opening).</summary>
        public Protocol Protocol { get { return protocol; } set { protocol = value; } }

        /// <summary>Open when the scene starts (set it in Awake or the Inspector to take effect).</summary>
        public bool OpenOnStart { get { return openOnStart; } set { openOnStart = value; } }

        /// <summary>Draw the status overlay (off when your own UI shows <see cref="Status"/>).</summary>
        public bool ShowOverlay { get { return showOverlay; } set { showOverlay = value; } }

        /// <summary>Where it stands.</summary>
        public PortOpenerState State { get; private set; }

        /// <summary>The latest result (null before the first attempt); families follow lost/recovered events.</summary>
        public PortOpenResult Result { get; private set; }

        /// <summary>The IPv6 router found (null until found).</summary>
        public Gateway RouterV6 { get; private set; }

        /// <summary>The IPv4 router found (null until found).</summary>
        public Gateway RouterV4 { get; private set; }

        /// <summary>The router's grade once checked (see Grade Router), else null.</summary>
        public RouterGrade? Grade { get; private set; }

        /// <summary>The whole router check once done (see Grade Router), else null: besides the
        /// grade, which routes the router speaks and through which each family opened.</summary>
        public RouterCheck Check { get; private set; }

        /// <summary>What peers send to over IPv6 while the pinhole is open, else null.</summary>
        public IPEndPoint PublicV6 { get; private set; }

        /// <summary>What peers send to over IPv4 while the port mapping is open, else null.</summary>
        public IPEndPoint PublicV4 { get; private set; }

        /// <summary>The last lines of the story (what the overlay and the status events show).</summary>
        public string Status { get; private set; }

        /// <summary>Raised when an attempt ends with at least one family open.</summary>
        public PortOpenResultEvent Opened { get { return opened; } }

        /// <summary>Raised when a family is lost (stop advertising it).</summary>
        public FamilyResultEvent Lost { get { return lost; } }

        /// <summary>Raised when a lost family is open again (advertise it again).</summary>
        public FamilyResultEvent Recovered { get { return recovered; } }

        /// <summary>Raised when an attempt opens nothing or nothing can be tried.</summary>
        public PortOpenResultEvent Failed { get { return failed; } }

        /// <summary>Raised when the port was closed on the router.</summary>
        public PortOpenResultEvent Closed { get { return closed; } }

        /// <summary>Raised with <see cref="Status"/> whenever it changes.</summary>
        public StatusTextEvent StatusChanged { get { return statusChanged; } }

        /// <summary>Raised on the main thread whenever PublicV6 or PublicV4 changes.</summary>
        public event Action AddressesChanged;

        void Start()
        {
            if (openOnStart) OpenAsync();
        }

        /// <summary>
        /// Finds the router over each family and opens the port; the task ends on the main thread
        /// with each family's outcome (never faults: problems are in the result). While an open
        /// is under way it returns that one; when open, the current result.
        /// </summary>
        public Task<PortOpenResult> OpenAsync()
        {
            if (opening == null || opening.IsCompleted) opening = Open();
            return opening;
        }

        /// <summary>
        /// Stops an open under way and deletes the pinhole and mapping on the router, on the
        /// thread pool; the task ends on the main thread after <see cref="Closed"/>.
        /// </summary>
        public Task CloseAsync()
        {
            if (openCancel != null) openCancel.Cancel();
            if (closing != null && !closing.IsCompleted) return closing;
            PortLease open = lease;
            lease = null;
            if (open == null) return Task.FromResult(0);
            closing = Close(open);
            return closing;
        }

        async Task<PortOpenResult> Open()
        {
            if (closing != null) await closing;
            if (destroyed || lease != null) return Result;
            if (port < 1 || port > 65535)
            {
                string why = "port " + port + " is not 1-65535";
                return Finish(new PortOpenResult(NotTried(IpFamily.V6, why), NotTried(IpFamily.V4, why), why));
            }
            if (!EnsureClient()) return Result;
            var cancel = new CancellationTokenSource();
            openCancel = cancel;
            State = PortOpenerState.Opening;
            try
            {
                Show(string.Format("Looking for the router ({0}{1})...", ipv6 ? "IPv6" : "", ipv6 && ipv4 ? " and IPv4" : ipv4 ? "IPv4" : ""));
                Task<Gateway> v6 = Discover(IpFamily.V6, ipv6, cancel.Token);
                Task<Gateway> v4 = Discover(IpFamily.V4, ipv4, cancel.Token);
                RouterV6 = await v6;
                RouterV4 = await v4;
                cancel.Token.ThrowIfCancellationRequested();
                if (RouterV6 == null && RouterV4 == null)
                {
                    return Finish(new PortOpenResult(NoRouter(IpFamily.V6, ipv6), NoRouter(IpFamily.V4, ipv4), null));
                }
                Show(string.Format("Opening {0} port {1}...", protocol, port));
                var options = new OpenOptions(protocol, (ushort)port)
                {
                    WantV6 = RouterV6 != null,
                    WantV4 = RouterV4 != null,
                    Description = string.IsNullOrEmpty(mappingDescription) ? null : mappingDescription,
                };
                PortLease newLease = await client.OpenAsync(options, cancel.Token); // closed by the binding if cancelled
                var result = new PortOpenResult(
                    RouterV6 != null ? new FamilyResult(newLease.V6) : NoRouter(IpFamily.V6, ipv6),
                    RouterV4 != null ? new FamilyResult(newLease.V4) : NoRouter(IpFamily.V4, ipv4), null);
                if (destroyed || !result.IsOpen)
                {
                    Release(newLease, null); // nothing to keep (failed families are not retried)
                }
                else
                {
                    lease = newLease;
                }
                return Finish(result);
            }
            catch (OperationCanceledException)
            {
                if (!destroyed) State = PortOpenerState.Idle;
                if (!destroyed) Show("Stopped.");
                return Result;
            }
            catch (PortOpenException e) // a bad setting (port, description): nothing was sent
            {
                return Finish(new PortOpenResult(NotTried(IpFamily.V6, e.Message), NotTried(IpFamily.V4, e.Message), e.Message));
            }
            catch (ArgumentException e)
            {
                return Finish(new PortOpenResult(NotTried(IpFamily.V6, e.Message), NotTried(IpFamily.V4, e.Message), e.Message));
            }
            finally
            {
                if (openCancel == cancel) openCancel = null;
                cancel.Dispose();
            }
        }

        async Task<Gateway> Discover(IpFamily family, bool wanted, CancellationToken token)
        {
            if (!wanted) return null;
            try
            {
                Gateway g = await client.DiscoverAsync(family, token);
                Show(string.Format("{0}: router found at {1} ({2}); this device: {3}",
                    Name(family), g.Location, g.Server, g.LocalAddress));
                return g;
            }
            catch (PortOpenException e)
            {
                Show(Name(family) + ": " + e.Message);
                return null;
            }
        }

        PortOpenResult Finish(PortOpenResult result)
        {
            if (destroyed) return result;
            Result = result;
            SetPublic(IpFamily.V6, result.V6.External);
            SetPublic(IpFamily.V4, result.V4.External);
            if (result.Error != null) Show("portopen: " + result.Error);
            else
            {
                Show(result.V6.ToString());
                Show(result.V4.ToString());
            }
            if (result.IsOpen)
            {
                State = PortOpenerState.Open;
                opened.Invoke(result);
                if (gradeRouter && Grade == null) GradeRouter();
            }
            else
            {
                if (result.Error == null) Show("Nothing opened: players cannot connect to this device directly; use a relay.");
                State = PortOpenerState.Failed;
                failed.Invoke(result);
            }
            return result;
        }

        async void GradeRouter()
        {
            PortOpenClient checking = client;
            try
            {
                RouterCheck check = await checking.CheckRouterAsync();
                if (destroyed) return;
                Check = check;
                Grade = check.Grade;
                Show("Router grade: " + GradeText(check.Grade));
                Show("Router opens: " + OpensText(check));
            }
            catch (Exception e) // cancelled, disposed, or the router check failed: no grade
            {
                if (!destroyed && !(e is OperationCanceledException) && !(e is ObjectDisposedException))
                {
                    Show("Router grade: unknown (" + e.Message + ")");
                }
            }
        }

        async Task Close(PortLease open)
        {
            State = PortOpenerState.Closing;
            Show("Closing the port...");
            string error = null;
            try
            {
                await open.CloseAsync(); // on the thread pool; Dispose then has nothing to wait for
            }
            catch (Exception e)
            {
                error = e.Message;
            }
            open.Dispose();
            if (destroyed) return;
            Result = new PortOpenResult(
                new FamilyResult(IpFamily.V6, PortStatus.Closed, ""),
                new FamilyResult(IpFamily.V4, PortStatus.Closed, ""), error);
            SetPublic(IpFamily.V6, null);
            SetPublic(IpFamily.V4, null);
            State = PortOpenerState.Idle;
            Show(error == null ? "Closed." : "Closed (the router did not confirm: " + error + ").");
            closed.Invoke(Result);
        }

        void Update()
        {
            if (client == null) return;
            while (client.TryPollEvent(out polled))
            {
                if (lease == null || polled.LeaseId != lease.Id || Result == null) continue;
                FamilyResult family = Result.Get(polled.Family);
                switch (polled.Kind)
                {
                    case LeaseEventKind.Lost:
                        family.Status = PortStatus.Lost;
                        family.External = null;
                        family.Message = polled.Message;
                        SetPublic(polled.Family, null);
                        Show(string.Format("{0}: lost ({1}), reopening...", family.FamilyName, family.Message));
                        lost.Invoke(family);
                        break;
                    case LeaseEventKind.Recovered:
                        family.Status = PortStatus.Open;
                        family.External = polled.Address.ToEndPoint();
                        family.Message = "";
                        SetPublic(polled.Family, family.External);
                        Show(string.Format("{0}: open again - peers connect to {1}", family.FamilyName, family.External));
                        recovered.Invoke(family);
                        break;
                    case LeaseEventKind.Failed:
                        family.Status = PortStatus.Failed;
                        family.External = null;
                        family.Message = polled.Message;
                        SetPublic(polled.Family, null);
                        Show(family.ToString());
                        failed.Invoke(Result);
                        break;
                }
            }
        }

        void OnApplicationPause(bool paused)
        {
            if (!closeWhilePaused || !Application.isMobilePlatform) return;
            if (paused)
            {
                reopenOnResume = lease != null || (opening != null && !opening.IsCompleted);
                if (reopenOnResume) CloseAsync();
            }
            else if (reopenOnResume)
            {
                reopenOnResume = false;
                OpenAsync();
            }
        }

        // Unity calls it on every component before OnDestroy when the player quits (and when
        // play mode ends in the editor): close, and wait a little for the router.
        void OnApplicationQuit()
        {
            Teardown();
            Task[] pending;
            lock (releases) pending = releases.ToArray();
            try
            {
                Task.WaitAll(pending, TimeSpan.FromSeconds(quitWaitSeconds));
            }
            catch (AggregateException)
            {
                // A close that failed: the journal removes its leftovers at the next start.
            }
        }

        void OnDestroy()
        {
            Teardown(); // a scene change: close in the background, never wait
        }

        void Teardown()
        {
            if (destroyed) return;
            destroyed = true;
            if (openCancel != null) openCancel.Cancel();
            if (logSubscribed)
            {
                logSubscribed = false;
                PortOpenLog.Message -= ForwardLog;
            }
            PortLease open = lease;
            PortOpenClient owner = client;
            lease = null;
            client = null;
            Release(open, owner);
        }

        // Deletes what is open and frees the client on the thread pool (each waits for the router
        // up to the action timeout per family).
        static void Release(PortLease open, PortOpenClient owner)
        {
            if (open == null && owner == null) return;
            Task release = Task.Run(() =>
            {
                try
                {
                    if (open != null) open.Dispose();
                }
                finally
                {
                    if (owner != null) owner.Dispose();
                }
            });
            lock (releases)
            {
                releases.RemoveAll(t => t.IsCompleted);
                releases.Add(release);
            }
        }

        // The client, made once. False (and the state Unavailable, with the reason shown) when
        // the native library cannot be used: every later open fails the same way at once.
        bool EnsureClient()
        {
            if (client != null) return true;
            if (State == PortOpenerState.Unavailable) return false;
            string problem = null;
            try
            {
                var config = new PortOpenConfig();
                if (keepJournal)
                {
                    // One journal per port and protocol: two components never clean each other's.
                    string name = string.Format("portopen-{0}-{1}", protocol.ToString().ToLowerInvariant(), port);
                    config.JournalFile = Path.Combine(Application.persistentDataPath, name + ".journal");
                    config.CacheFile = Path.Combine(Application.persistentDataPath, name + ".gateways");
                }
                client = new PortOpenClient(config); // loads the library and checks its C ABI
            }
            catch (DllNotFoundException e)
            {
                problem = "the native library is missing for this platform (" + NativeFileName() + "): " +
                    "stage it with the package's Tools~/stage-native.sh (package README, step 2). (" + e.Message + ")";
            }
            catch (EntryPointNotFoundException e)
            {
                problem = "the native library found is not portopen's, or is too old for this package: " + e.Message;
            }
            catch (BadImageFormatException e)
            {
                problem = "the native library found is for another CPU or OS: " + e.Message;
            }
            catch (PortOpenException e) // NotSupported: the C ABI differs (the message names both)
            {
                problem = e.Message;
            }
            catch (ArgumentException e) // the journal path (persistentDataPath) is unusable
            {
                problem = e.Message;
            }
            if (client != null)
            {
                ForwardLibraryLog();
                return true;
            }
            State = PortOpenerState.Unavailable;
            var result = new PortOpenResult(NotTried(IpFamily.V6, problem), NotTried(IpFamily.V4, problem), problem);
            Result = result;
            Show("portopen cannot work: " + problem);
            Debug.LogError("[portopen] " + problem);
            failed.Invoke(result);
            return false;
        }

        void ForwardLibraryLog()
        {
            try
            {
                PortOpenLog.Level = libraryLogLevel;
                PortOpenLog.Message += ForwardLog;
                logSubscribed = true;
            }
            catch (PortOpenException e) // the process already has another Rust logger
            {
                Debug.LogWarning("[portopen] library log not shown: " + e.Message);
            }
        }

        static string NativeFileName()
        {
            switch (Application.platform)
            {
                case RuntimePlatform.WindowsPlayer:
                case RuntimePlatform.WindowsEditor:
                    return "portopen.dll";
                case RuntimePlatform.OSXPlayer:
                case RuntimePlatform.OSXEditor:
                    return "libportopen.dylib";
                case RuntimePlatform.IPhonePlayer:
                    return "libportopen.a, linked into the player";
                default:
                    return "libportopen.so";
            }
        }

        FamilyResult NoRouter(IpFamily family, bool wanted)
        {
            return wanted
                ? new FamilyResult(family, PortStatus.NoGateway, "no router answered over " + Name(family))
                : new FamilyResult(family, PortStatus.NotRequested, "");
        }

        static FamilyResult NotTried(IpFamily family, string why)
        {
            return new FamilyResult(family, PortStatus.NotRequested, why);
        }

        void SetPublic(IpFamily family, IPEndPoint value)
        {
            IPEndPoint now = family == IpFamily.V6 ? PublicV6 : PublicV4;
            if (Equals(now, value)) return;
            if (family == IpFamily.V6) PublicV6 = value;
            else PublicV4 = value;
            if (AddressesChanged != null) AddressesChanged();
        }

        static string Name(IpFamily family)
        {
            return family == IpFamily.V6 ? "IPv6" : "IPv4";
        }

        /// <summary>"IPv6 by PCP, UPnP; IPv4 by PCP, UPnP" (or "IPv6 no"): the routes whose trial
        /// opened each family in the router check.</summary>
        public static string OpensText(RouterCheck check)
        {
            return "IPv6 " + RoutesText(check.V6Routes) + "; IPv4 " + RoutesText(check.V4Routes);
        }

        /// <summary>"by PCP, UPnP", or "no" for none.</summary>
        public static string RoutesText(RouteFlags routes)
        {
            if (routes == RouteFlags.None) return "no";
            var names = new System.Collections.Generic.List<string>(3);
            if ((routes & RouteFlags.Pcp) != 0) names.Add("PCP");
            if ((routes & RouteFlags.NatPmp) != 0) names.Add("NAT-PMP");
            if ((routes & RouteFlags.Upnp) != 0) names.Add("UPnP");
            return "by " + string.Join(", ", names.ToArray());
        }

        /// <summary>"A (IPv6 pinholes work)" ... "D (no router answered)".</summary>
        public static string GradeText(RouterGrade grade)
        {
            switch (grade)
            {
                case RouterGrade.A: return "A (IPv6 pinholes work as delivered)";
                case RouterGrade.B: return "B (IPv6 pinholes work after a router setting is changed)";
                case RouterGrade.C: return "C (the router answers, but IPv6 pinholes are unusable)";
                default: return "D (no router answered)";
            }
        }

        // Main thread only; not called per frame.
        void Show(string line)
        {
            Debug.Log("[portopen] " + line);
            lines.Enqueue(line);
            while (lines.Count > StatusLines) lines.Dequeue();
            text.Length = 0;
            foreach (string l in lines) text.AppendLine(l);
            Status = text.ToString();
            statusChanged.Invoke(Status);
        }

        void OnGUI()
        {
            if (!showOverlay || string.IsNullOrEmpty(Status)) return;
            if (overlayStyle == null)
            {
                overlayStyle = new GUIStyle(GUI.skin.box) { alignment = TextAnchor.UpperLeft, wordWrap = true, fontSize = 14 };
            }
            GUI.Box(new Rect(10, 10, Mathf.Min(Screen.width - 20, 720), Mathf.Min(Screen.height - 20, 300)), Status, overlayStyle);
        }

        // Any thread, possibly under the library's locks: only Debug.Log, which is thread safe.
        static void ForwardLog(LogLevel level, string message)
        {
            if (level <= LogLevel.Warn) Debug.LogWarning("[portopen] " + message);
            else Debug.Log("[portopen] " + message);
        }
    }
}
