//! Every size cap and time budget the library uses, in one place.
//! Each value says why it is what it is; nothing else in the crate hard-codes a limit.

use std::time::Duration;

/// Largest SSDP datagram accepted. Real M-SEARCH responses are 300–500 bytes; a larger one is
/// junk or an attack, and is dropped whole rather than parsed in part.
pub const SSDP_DATAGRAM_MAX: usize = 2048;
/// Longest LOCATION URL accepted. Routers send ~40 bytes (`http://192.168.1.1:5000/rootDesc.xml`).
pub const SSDP_LOCATION_MAX: usize = 512;
/// Distinct SSDP responders kept per search (deduplicated by USN). A LAN has a handful of UPnP
/// devices; a flood of unique answers stops being kept here instead of growing memory.
pub const SSDP_MAX_RESPONSES: usize = 64;
/// Distinct LOCATIONs whose description is fetched per discovery.
pub const SSDP_MAX_LOCATIONS: usize = 8;
/// Multicast hop limit for M-SEARCH (UDA: "should be 2"; the router is one hop away).
pub const SSDP_TTL: u32 = 2;
/// MX sent in multicast M-SEARCH. UDA 1.1 wants 1..=5; devices answer within a random delay up
/// to MX, so the smallest value keeps well-behaved devices fast.
pub const SSDP_MX: u8 = 1;
/// How long discovery keeps listening after the first usable answer, to catch a better gateway
/// (IGD:2 over IGD:1). miniupnpd answers every search target in one burst, so a short window
/// is enough; configurable per client.
pub const DEFAULT_DISCOVERY_GRACE: Duration = Duration::from_millis(30);
/// After another device's answer (a second router, a mesh node, anything that answers SSDP),
/// how long discovery waits for the host's default gateway to answer. A device answers a
/// multicast M-SEARCH within a random delay of up to MX seconds (`SSDP_MX`, 1 s); miniupnpd
/// after a fixed ~50 ms. Waiting less could miss a slow but compliant gateway and hand the
/// game's requests to the wrong device; the wait is only spent when the gateway is slower than
/// another device, or is no IGD at all (then the choice among the others is reported).
pub const DEFAULT_GATEWAY_WAIT: Duration = Duration::from_secs(SSDP_MX as u64);
/// When no gateway has answered the first SSDP round by then, search again with every target.
pub const SSDP_SECOND_ROUND: Duration = Duration::from_millis(250);
/// Whole-discovery budget when the caller gives none. miniupnpd answers in ~50 ms; slow
/// firmware within MX (1 s). Two seconds is miniupnpc's fixed window, here only an upper bound.
pub const DEFAULT_DISCOVERY_TIMEOUT: Duration = Duration::from_secs(2);
/// Budget for one SOAP action or description fetch when the caller gives none.
pub const DEFAULT_ACTION_TIMEOUT: Duration = Duration::from_secs(3);
/// A TCP connect inside the LAN completes in well under a millisecond or is refused; a router
/// that does not answer a SYN within this is treated as gone (bounded also by the call deadline).
pub const HTTP_CONNECT_MAX: Duration = Duration::from_millis(1500);

/// A SYN not answered within this was probably dropped: a LAN router's kernel answers a SYN
/// within a millisecond however busy its daemon is, unless its accept queue is full (miniupnpd
/// listens with a backlog of 5; two dozen clients overflow it, see tests/lab_load.rs). Another
/// connect is started then, rather than waiting for the kernel's own retransmits (1 s, then
/// 3 s), of which `HTTP_CONNECT_MAX` leaves room for one. Earlier ones stay pending.
pub const CONNECT_RETRY: Duration = Duration::from_millis(100);
/// Connects in flight at once for one exchange (one socket each).
pub const CONNECT_ATTEMPTS_MAX: usize = 8;

/// Longest pause between checks of a pending TCP connect (checks start at 0.1 ms and double):
/// a LAN connect is seen at once, a cancel within this.
pub const CONNECT_POLL_MAX: Duration = Duration::from_millis(5);

/// Granularity at which blocking waits check for cancellation: a cancelled call returns
/// within about this long.
pub const CANCEL_POLL: Duration = Duration::from_millis(20);

/// Largest HTTP response head (status line + headers).
pub const HTTP_HEAD_MAX: usize = 8 * 1024;
/// Largest device description body. miniupnpd's is ~4 KiB; big vendor ones ~20 KiB.
pub const DESCRIPTION_BODY_MAX: usize = 64 * 1024;
/// Largest SOAP response body. Answers are < 1 KiB; GetListOfPortMappings can list many entries.
pub const SOAP_BODY_MAX: usize = 16 * 1024;
/// Interim (1xx) responses skipped before the real one. A router sends at most one `100
/// Continue` (portopen never asks for it); a stream of them is refused, not read to the deadline.
pub const HTTP_INTERIM_MAX: usize = 4;
/// Largest total of chunk-size lines, extensions and trailers in a chunked body.
pub const HTTP_CHUNK_OVERHEAD_MAX: usize = 8 * 1024;

/// XML nesting depth allowed before the document is handed to roxmltree (which recurses per
/// level). A root description nests ~8 levels; SOAP ~5.
pub const XML_MAX_DEPTH: usize = 48;
/// XML node count limit given to roxmltree.
pub const XML_MAX_NODES: u32 = 20_000;
/// Namespace declarations (`xmlns`, `xmlns:p`) on one element. A SOAP envelope declares 1-5
/// (`s`, `u`, sometimes `xsi`, `xsd`, `SOAP-ENC`), a description's root 1-4. roxmltree checks each
/// declaration against the element's earlier ones and copies every namespace in scope into
/// each element that declares one: thousands of declarations took 34 s on 62 KB (issue 19).
pub const XML_MAX_NAMESPACES_PER_ELEMENT: usize = 16;
/// Namespace declarations in one document. Real ones have fewer than ten; firmware that repeats
/// `xmlns` on every service element stays far below. With the per-element cap this bounds the
/// namespaces in scope, and so roxmltree's work per element, to a few thousand comparisons.
pub const XML_MAX_NAMESPACES: usize = 128;
/// Attributes on one element (namespace declarations included). UPnP documents carry 0-3
/// (`s:encodingStyle`, `xsi:type`, `dt:dt`); roxmltree compares each new attribute with every
/// earlier one of its element, so 10^5 on one element took 30 s.
pub const XML_MAX_ATTRIBUTES: usize = 32;
/// Services kept from one description (a real IGD has 3–6).
pub const DESCRIPTION_MAX_SERVICES: usize = 64;

/// IGDv2: PortMappingLeaseDuration is at most one week.
pub const MAPPING_LEASE_MAX_SECS: u32 = 604_800;
/// WANIPv6FirewallControl:1: LeaseTime is 1..=86400 seconds.
pub const PINHOLE_LEASE_MAX_SECS: u32 = 86_400;
/// Default lease for `open`: finite, so a crash never leaves a port open for days.
pub const DEFAULT_LEASE_SECS: u32 = 3600;
/// Lowest external port tried when looking for a free one on an IGDv1 router.
pub const MAPPING_PORT_FLOOR: u16 = 1024;
/// AddPortMapping attempts with other external ports after 718 ConflictInMappingEntry.
pub const MAPPING_CONFLICT_TRIES: u32 = 8;

/// Renewal happens at this fraction of the lease the router granted.
pub const RENEW_FRACTION: f64 = 0.5;
/// Shortest wait between renewals (a router granting 1 s leases must not turn the keeper into
/// a busy loop).
pub const RENEW_MIN_INTERVAL: Duration = Duration::from_millis(500);
/// Back-off after a failed renewal or recovery: doubling from the first value up to the cap.
pub const RECOVER_BACKOFF_FIRST: Duration = Duration::from_millis(500);
pub const RECOVER_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A permanent mapping (lease 0, on routers refusing finite ones) is checked this often, so a
/// router reboot is noticed and the mapping re-added.
pub const PERMANENT_CHECK_INTERVAL: Duration = Duration::from_secs(120);
/// Between renewals, how often the keeper looks for signs that what it holds is gone: this
/// host's IPv6 address toward a pinhole's gateway no longer the pinholed one (a route lookup),
/// the router announcing a restart (its SSDP NOTIFYs, `SSDP_NOTIFY_READS_MAX`), and each
/// gateway held on answering one unicast M-SEARCH for its own UDN with a new boot id or
/// LOCATION (a router powered on again announces nothing for ~15 minutes). Each is then acted
/// on within this, not at the next renewal (half an hour into a one-hour lease). The search
/// costs one datagram each way per gateway per look: 12 a minute (~170 and ~350 bytes).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(5);
/// NOTIFY datagrams read per look (a router sends ~13 per family when it starts; more wait for
/// the next look, and a flood past the socket buffer is dropped by the kernel).
pub const SSDP_NOTIFY_READS_MAX: usize = 64;
/// How long a look waits for the answers to its unicast searches (`transport::probe`), all
/// gateways at once. miniupnpd (2.3.1, 2.3.9) answers after ~51 ms (measured in the lab), so
/// this is paid in full only when a router is silent (down, or dropping searches; a closed
/// port 1900 is reported at once on a connected socket): then the keeper loses this much per
/// look. A later answer is dropped; silence is not acted on.
pub const SSDP_PROBE_WAIT: Duration = Duration::from_millis(300);
/// Datagrams read per probe (a valid answer ends it; these bound what anything else on the
/// probed address can make the look read).
pub const SSDP_PROBE_READS_MAX: usize = 8;
/// Lease of the pinhole made for an instant when a leftover pinhole is looked up by its tuple
/// (it is deleted right after).
pub const LEFTOVER_PINHOLE_LEASE_SECS: u32 = 60;
/// Description of mappings when the caller gives none; leftovers are only deleted when they
/// carry the description they were made with.
pub const DEFAULT_DESCRIPTION: &str = "portopen";

/// `check`: lease of the trial pinhole and mapping (removed at once; this bounds a leftover).
pub const CHECK_LEASE_SECS: u32 = 30;
/// `check`: trial port is this plus (process id mod 1000), unless the caller names one.
pub const CHECK_PORT_BASE: u16 = 50_000;

/// `portopen list`: GetGenericPortMappingEntry indexes read at most.
pub const LIST_MAX_ENTRIES: u32 = 1024;

/// Events kept for polling; the oldest are dropped past this (a game that never polls must
/// not grow memory).
pub const EVENT_QUEUE_MAX: usize = 256;
/// Largest cache or journal file read back.
pub const STATE_FILE_MAX: usize = 64 * 1024;

/// PCP (RFC 6887 §8.1.1): first retransmission of an unanswered request after this (IRT), then
/// doubling. The lease engine may pass a shorter schedule for the race with UPnP.
pub const PCP_INITIAL_RETRANSMIT: Duration = Duration::from_secs(3);
/// PCP (RFC 6887 §8.1.1): longest wait between retransmissions (MRT).
pub const PCP_MAX_RETRANSMIT: Duration = Duration::from_secs(1024);
/// ANNOUNCE / NAT-PMP notice datagrams read per look: a server sends a handful when it starts;
/// this many empties what a flood leaves in the socket's buffer (a few hundred datagrams), and
/// bounds one look's work.
pub const PCP_ANNOUNCE_READS_MAX: usize = 1024;
/// ANNOUNCEs heard within this long of one acted on, with an epoch of the same run of the
/// server, repeat it (RFC 6887 §14.1.3: a server may send several): they re-make nothing more.
pub const PCP_ANNOUNCE_REPEAT_WINDOW: Duration = Duration::from_secs(60);
/// Pause after a receive error other than a timeout or a refusal (an ICMP host unreachable
/// while the router is down repeats at once), so the exchange does not spin until its deadline.
pub const PCP_RECV_ERROR_PAUSE: Duration = Duration::from_millis(20);
/// How long an `open` waits for the PCP/NAT-PMP server's first answer before the family is
/// UPnP's alone. A PCP router answers in 1-2 ms in the lab; the exchange goes on in the
/// background up to the action budget (a late grant that lost the race is deleted again).
pub const PCP_RACE_BOUND: Duration = Duration::from_millis(250);
/// How long `discover` and `check` wait for each answer of their PCP/NAT-PMP probe (which maps
/// nothing): a diagnosis, not a race, so a slow server (a loaded one, a run under valgrind) is
/// not reported as silent. A closed port 5351 still refuses at once.
pub const PCP_PROBE_BOUND: Duration = Duration::from_secs(1);
/// The budget of deleting a PCP grant that came after its map was settled without it.
pub const PCP_LATE_DELETE_BUDGET: Duration = Duration::from_secs(3);
/// The lifetime asked to cut a pinhole PCP will not delete (miniupnpd 2.3.1 after an IPv6
/// refresh): the server clamps it to its minimum (120 s on miniupnpd).
pub const PCP_SHORTEN_LIFETIME: u32 = 1;
/// How long an `open` waits for the PCP/NAT-PMP answer before UPnP's discovery starts beside
/// it: a PCP router answers in 1-2 ms in the lab (then UPnP is never started, and opening takes
/// no more than that), a closed port 5351 refuses at once. Only a router that drops PCP in
/// silence makes UPnP start this much later.
pub const PCP_HEAD_START: Duration = Duration::from_millis(10);
/// How long a PCP server that gave an open no answer (port 5351 refused, or silence) gets no
/// head start in the next races: long enough to cover a burst of opens (a Linux router answers
/// one IPv4 refusal a second per host after a burst of 6, silence for the rest), short enough
/// that a router that turns PCP on is soon given it again (it wins the race anyway when UPnP
/// is slower).
pub const PCP_UNANSWERED_MEMORY: Duration = Duration::from_secs(60);
