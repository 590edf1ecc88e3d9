#!/usr/bin/env python3
"""portopen against its peers on lab routers side by side, same run, alternating. Run by
scripts/bench.sh (which builds the release CLI and the igd-next peer and brings the labs up);
needs root (ip netns exec).

Routers (one lab each, `--lab LABEL=NAME`, repeatable): `pcp` speaks UPnP, PCP and NAT-PMP
(miniupnpd as the lab starts it); `upnp-only` is the same router with UDP 5351 closed by an nft
`reject` (the ICMP port unreachable a router without PCP/NAT-PMP sends); `upnp-silent` (only
with bench.sh --silent) drops 5351 without a word, as a firewall may.

Clients, each for IPv4 alone, IPv6 alone and both, N times after a warm-up:
  portopen         the default: PCP/NAT-PMP raced with UPnP, per family
  portopen upnp    `--route upnp`
  upnpc            the reference C client: `-a` (IPv4), `-6 -A` (IPv6), one process per action
                   (both = the IPv4 and the IPv6 process of the same round, one after the other)
  igd-next         the closest Rust library (bench/igd-next-peer), in-process, both families in
                   parallel threads
cold = from starting the process to its "opened" line (upnpc: its exit), discovery included.
warm = portopen: a new process with the gateway cache file of an earlier run; upnpc: `-u` with
the root description URL (no discovery); igd-next: the same action again in the process that
found the gateway (in-process, no process start: not comparable with the others' warm).
Also: the time from starting `portopen open --v6` to the first datagram from `wan` arriving
through the new pinhole, per router; the launcher's own cost; the library sizes.
"""
import argparse, json, os, re, statistics, subprocess, sys, time

FAMILIES = ("v4", "v6", "both")
CLIENTS = ("portopen", "portopen upnp", "upnpc", "igd-next")


def env_file(lab):
    return dict(l.split("=", 1) for l in open(f"/tmp/portopen-lab/{lab}/env").read().splitlines() if "=" in l)


def run_measured(argv, until=None):
    """Run argv (an `ip netns exec NS cmd...` line; GNU time is slipped in before cmd so the peak
    RSS is cmd's own, not `ip`'s). Returns (wall s, wall s until a stdout line containing
    `until` appeared (None if none did), peak RSS KiB, stdout)."""
    rss_file = "/tmp/portopen-bench-rss"
    argv = argv[:4] + ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv[4:]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, t_until = [], None
    for line in p.stdout:
        lines.append(line)
        if until and t_until is None and until in line:
            t_until = time.monotonic() - t0
    err = p.stderr.read()
    p.wait()
    wall = time.monotonic() - t0
    out = "".join(lines)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({p.returncode}): {out}{err}")
    rss = int(open(rss_file).read().split()[-1])
    return wall, t_until, rss, out


class RouterLog:
    """Counts what the router saw: HTTP requests and M-SEARCHes (its -d log)."""
    def __init__(self, path):
        self.path, self.pos = path, os.path.getsize(path)

    def delta(self):
        with open(self.path, errors="replace") as f:
            f.seek(self.pos)
            text = f.read()
            self.pos = f.tell()
        # miniupnpd logs an IPv4 M-SEARCH once per listening socket (as a.b.c.d and as
        # ::ffff:a.b.c.d): one search = one (source port, ST).
        searches = {(port, st) for port, st in re.findall(r"SSDP M-SEARCH from \S+:(\d+) ST: (\S+)", text)}
        return len(re.findall(r"HTTP REQUEST from", text)) + len(searches)


class Router:
    """One lab router and how every client is run against it."""
    def __init__(self, label, lab, cli, peer):
        self.label, self.lab, self.cli, self.peer = label, lab, cli, peer
        self.env = env_file(lab)
        self.inns = ["ip", "netns", "exec", self.env["LAN_NS"]]
        self.log = RouterLog(self.env["ROUTER_LOG"])
        # portopen's own "opened in" figures (from its open call, no process start), per
        # (client, family, warm): the race's cost against --route upnp without launch noise.
        self.inside = {}
        self.cache = {route: f"/tmp/portopen-lab/{lab}/bench-cache-{route.replace(' ', '-')}" for route in ("portopen", "portopen upnp")}

    def portopen(self, client, family, port, warm):
        argv = self.inns + [self.cli, "open", "udp", str(port), "--hold", "0", "--lease", "600"]
        if family != "both":
            argv.append("--" + family)
        if client == "portopen upnp":
            argv += ["--route", "upnp"]
        if warm:
            argv += ["--cache", self.cache[client]]
        wall, until, kib, out = run_measured(argv, until="opened in")
        m = re.search(r"opened in ([\d.]+) ms", out)
        if until is None or not m:
            sys.exit(f"bench: {' '.join(argv)}: no 'opened' line")
        self.inside.setdefault((client, family, warm), []).append(float(m.group(1)) / 1000)
        return until, wall, kib

    def upnpc_one(self, family, port, warm):
        """One upnpc process adding the mapping (v4) or the pinhole (v6), then its delete by the
        description URL (not timed). Returns (wall s, peak RSS KiB, router round trips of the add)."""
        e = self.env
        self.log.delta()
        if family == "v4":
            url = ["-u", e["LOCATION_V4"]] if warm else []
            wall, _, kib, _ = run_measured(self.inns + ["upnpc"] + url + ["-a", e["LAN_V4"], str(port), str(port), "UDP", "600"])
            time.sleep(0.1)
            trips = self.log.delta()
            run_measured(self.inns + ["upnpc", "-u", e["LOCATION_V4"], "-d", str(port), "UDP"])
        else:
            url = ["-u", e["LOCATION_V6"]] if warm else []
            wall, _, kib, out = run_measured(self.inns + ["upnpc", "-6"] + url + ["-A", "", "0", e["LAN_V6"], str(port), "UDP", "600"])
            time.sleep(0.1)
            trips = self.log.delta()
            m = re.search(r"Pinhole ID = (\d+)", out)
            if not m:
                sys.exit(f"bench: no pinhole id from upnpc: {out}")
            run_measured(self.inns + ["upnpc", "-6", "-u", e["LOCATION_V6"], "-D", m.group(1)])
        return wall, kib, trips

    def igd_next(self, family, port):
        """Returns (cold open s, process wall s, peak RSS KiB, warm s: the action again in-process)."""
        e = self.env
        argv = self.inns + [self.peer, "--port", str(port), "--lease", "600"]
        if family in ("v4", "both"):
            argv += ["--v4", e["LAN_V4"]]
        if family in ("v6", "both"):
            argv += ["--v6", e["LAN_V6"], "--interface", "eth0", "--trust", e["RTR_LAN_V6"]]
        wall, until, kib, out = run_measured(argv, until="opened in")
        again = [float(x) / 1000 for x in re.findall(r"add_again_ms=([\d.]+)", out)]
        if until is None or not again:
            sys.exit(f"bench: igd-next-peer: {out}")
        return until, wall, kib, max(again)

    def packet(self, port):
        """Seconds from starting `portopen open --v6` to the first datagram arriving via the pinhole."""
        listener = subprocess.Popen(self.inns + [sys.executable, "-c", LISTENER, str(port)], stdout=subprocess.PIPE, text=True)
        assert listener.stdout.readline().strip() == "READY"
        sender = subprocess.Popen(["ip", "netns", "exec", self.env["WAN_NS"], sys.executable, "-c", SENDER, self.env["LAN_V6"], str(port)])
        t0 = time.monotonic()
        opener = subprocess.Popen(self.inns + [self.cli, "open", "udp", str(port), "--v6", "--hold", "1", "--lease", "600"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        line = listener.stdout.readline().strip()
        sender.kill(); sender.wait(); opener.wait(); listener.wait()
        if not line.startswith("GOT "):
            sys.exit(f"bench: no packet arrived through the pinhole: {line}")
        return float(line.split()[1]) - t0


def pstats(values):
    """Milliseconds: min, median, p90 (inclusive), max."""
    v = sorted(x * 1000 for x in values)
    p90 = statistics.quantiles(v, n=10, method="inclusive")[8] if len(v) > 1 else v[0]
    return {"min": round(v[0], 1), "median": round(statistics.median(v), 1), "p90": round(p90, 1), "max": round(v[-1], 1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab", action="append", required=True, help="LABEL=LAB_NAME, one per router")
    ap.add_argument("--cli", required=True)
    ap.add_argument("--peer", required=True, help="the igd-next peer binary")
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--libs", nargs="*", default=[])
    a = ap.parse_args()
    routers = [Router(label, lab, a.cli, a.peer) for label, lab in (x.split("=", 1) for x in a.lab)]

    # Samples: (router, client, family) -> {"cold": [], "warm": [], "total": [], "rss": [], "trips": []}
    samples = {}
    def add(r, client, family, **values):
        s = samples.setdefault((r.label, client, family), {"cold": [], "warm": [], "total": [], "rss": [], "trips": []})
        for k, v in values.items():
            s[k].append(v)

    port = 47000
    for r in routers:  # warm-up: writes the cache files, fills the page cache
        for client in ("portopen", "portopen upnp"):
            r.portopen(client, "both", port, warm=True)
            port += 1
        r.upnpc_one("v4", port, warm=False)
        r.igd_next("both", port + 1)
        port += 2
    packets = {r.label: [] for r in routers}
    launches = []
    for _ in range(a.n):
        launches.append(run_measured(routers[0].inns + ["true"])[0])
        for r in routers:
            for family in FAMILIES:
                for client in ("portopen", "portopen upnp"):
                    r.log.delta()
                    cold, total, kib = r.portopen(client, family, port, warm=False)
                    time.sleep(0.1)  # let the router finish logging
                    trips = r.log.delta()
                    warm, _, _ = r.portopen(client, family, port + 1, warm=True)
                    add(r, client, family, cold=cold, warm=warm, total=total, rss=kib, trips=trips)
                    port += 2
                r.log.delta()
                cold, total, kib, warm = r.igd_next(family, port)
                time.sleep(0.1)
                add(r, "igd-next", family, cold=cold, warm=warm, total=total, rss=kib, trips=r.log.delta())
                port += 1
            # upnpc: one process per family; both = the two of this round, one after the other.
            per = {}
            for family in ("v4", "v6"):
                cold, kib, trips = r.upnpc_one(family, port, warm=False)
                warm, _, _ = r.upnpc_one(family, port + 1, warm=True)
                per[family] = (cold, warm, kib, trips)
                add(r, "upnpc", family, cold=cold, warm=warm, total=cold, rss=kib, trips=trips)
                port += 2
            add(r, "upnpc", "both", cold=per["v4"][0] + per["v6"][0], warm=per["v4"][1] + per["v6"][1],
                total=per["v4"][0] + per["v6"][0], rss=max(per["v4"][2], per["v6"][2]), trips=per["v4"][3] + per["v6"][3])
            packets[r.label].append(r.packet(port + 5000))
            port += 1

    report = {"n": a.n, "routers": {r.label: f"{r.env['ROUTER_VERSION']} ({r.lab})" for r in routers}, "rows": []}
    for (router, client, family), s in samples.items():
        report["rows"].append({"router": router, "client": client, "family": family, "cold_ms": pstats(s["cold"]),
                               "warm_ms": pstats(s["warm"]), "process_ms": pstats(s["total"]),
                               "peak_rss_kib": max(s["rss"]), "round_trips_median": statistics.median(s["trips"])})
    report["inside_ms"] = {r.label: {f"{c} {f}{' warm' if w else ''}": pstats(v) for (c, f, w), v in r.inside.items()} for r in routers}
    report["packet_ms"] = {label: pstats(v) for label, v in packets.items()}
    report["launch_ms"] = pstats(launches)
    report["libraries"] = {os.path.basename(p): os.path.getsize(p) for p in a.libs if os.path.exists(p)}
    if a.json:
        print(json.dumps(report))
        return
    print_table(report)


def print_table(report):
    routers = list(report["routers"])
    print(f"portopen and its peers on {len(routers)} lab routers, n={report['n']} each, alternating; ms")
    for label, what in report["routers"].items():
        print(f"  {label}: miniupnpd {what}")
    rows = {(x["router"], x["client"], x["family"]): x for x in report["rows"]}
    head = f"{'client':14} {'family':6}"
    for label in routers:
        head += f" | {label + ': cold med':>20} {'p90':>7} {'warm med':>8} {'p90':>7}"
    print(head)
    for client in CLIENTS:
        for family in FAMILIES:
            line = f"{client:14} {family:6}"
            for label in routers:
                x = rows.get((label, client, family))
                if x is None:
                    line += f" | {'-':>20} {'-':>7} {'-':>8} {'-':>7}"
                    continue
                c, w = x["cold_ms"], x["warm_ms"]
                line += f" | {c['median']:20.1f} {c['p90']:7.1f} {w['median']:8.1f} {w['p90']:7.1f}"
            print(line)
    print()
    print(f"{'client':14} {'family':6}" + "".join(f" | {label + ': process med':>23} {'peak RSS':>9} {'trips':>5}" for label in routers))
    for client in CLIENTS:
        for family in FAMILIES:
            line = f"{client:14} {family:6}"
            for label in routers:
                x = rows.get((label, client, family))
                line += f" | {x['process_ms']['median']:23.1f} {str(x['peak_rss_kib']) + 'K':>9} {x['round_trips_median']:>5}" if x else ""
            print(line)
    print()
    print("portopen's own 'opened in' (inside the process, no launch), cold, median / p90:")
    for label, inside in report["inside_ms"].items():
        cells = []
        for family in FAMILIES:
            raced, upnp = inside[f"portopen {family}"], inside[f"portopen upnp {family}"]
            cells.append(f"{family} raced {raced['median']}/{raced['p90']} upnp {upnp['median']}/{upnp['p90']} (raced - upnp: {raced['median'] - upnp['median']:+.1f})")
        print(f"  {label}: " + "; ".join(cells))
    print()
    for label, p in report["packet_ms"].items():
        print(f"{label}: start of `portopen open --v6` -> first packet from wan through the pinhole: median {p['median']} p90 {p['p90']}")
    print(f"launcher alone (`ip netns exec` + GNU time running `true`, inside every new-process figure): median {report['launch_ms']['median']}")
    for name, size in report["libraries"].items():
        print(f"{name}: {size / 1024:.0f} KiB (stripped release)")
    print("cold = process start to 'opened' (upnpc: to its exit; both = its v4 and v6 processes one after the other); "
          "warm = portopen: new process with the gateway cache file; upnpc: -u URL (no discovery); igd-next: the same "
          "action again in the same process (no process start). process = the whole run (portopen: incl. close; "
          "igd-next: incl. its warm action and removal; upnpc: the add alone). trips = UPnP requests + M-SEARCHes "
          "the router logged for the cold run (PCP is not logged)")


LISTENER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::", int(sys.argv[1]))); s.settimeout(5)
print("READY", flush=True)
try:
    s.recvfrom(64); print("GOT %.6f" % time.monotonic(), flush=True)
except socket.timeout:
    print("TIMEOUT", flush=True)
"""
SENDER = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); end = time.monotonic() + 5
while time.monotonic() < end:
    s.sendto(b"x", (sys.argv[1], int(sys.argv[2]))); time.sleep(0.002)
"""

if __name__ == "__main__":
    main()
