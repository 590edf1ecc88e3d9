#!/usr/bin/env python3
"""portopen vs upnpc in the lab, same run, alternating. Run by scripts/bench.sh (which builds
the release CLI and brings the lab up); needs root (ip netns exec).

Cases, N times each after a warm-up:
  cold    new `portopen open udp P --hold 0` process: discover, pinhole + mapping, close
  warm    the same with the gateway cache file of an earlier run (no discovery)
  upnpc   `upnpc -6 -A` + `upnpc -a` for the same pinhole and mapping, then their deletes
  packet  from starting `portopen open` to the first datagram from `wan` arriving through the
          new IPv6 pinhole (the wan host sends every 2 ms)
  launch  `ip netns exec` + GNU time running `true`: the launcher's share of every figure
Per case: min/median/max wall time, peak RSS, router round trips (HTTP requests and M-SEARCHes
the router logged). Then the ratios and the release library sizes.
"""
import argparse, json, os, re, resource, socket, statistics, subprocess, sys, time

def env_file(lab):
    return dict(l.split("=", 1) for l in open(f"/tmp/portopen-lab/{lab}/env").read().splitlines() if "=" in l)

def run_measured(argv, until=None):
    """Run argv (an `ip netns exec NS cmd...` line; GNU time is slipped in before cmd so the peak
    RSS is cmd's own, not `ip`'s). Returns (wall s, wall s until a stdout line containing
    `until` appeared (or None), peak RSS KiB, stdout)."""
    rss_file = "/tmp/portopen-bench-rss"
    argv = argv[:4] + ["/usr/bin/time", "-f", "%M", "-o", rss_file] + argv[4:]
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    lines, t_until = [], None
    for line in p.stdout:
        lines.append(line)
        if until and t_until is None and until in line:
            t_until = time.monotonic() - t0
    p.wait()
    wall = time.monotonic() - t0
    out = "".join(lines)
    if p.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} failed ({p.returncode}): {out}")
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

def stats(values):
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lab", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--libs", nargs="*", default=[])
    a = ap.parse_args()
    env = env_file(a.lab)
    lan, wan = env["LAN_NS"], env["WAN_NS"]
    inns = ["ip", "netns", "exec", lan]
    cache = f"/tmp/portopen-lab/{a.lab}/bench-cache"
    log = RouterLog(env["ROUTER_LOG"])
    port = 47000

    # cold and warm pin the UPnP route (the lab router also speaks PCP, which would win the
    # race); raced is a game's default: PCP/NAT-PMP raced with UPnP, per family.
    def cold(p):
        return run_measured(inns + [a.cli, "open", "udp", str(p), "--hold", "0", "--lease", "600", "--route", "upnp"], until="opened in")
    def warm(p):
        return run_measured(inns + [a.cli, "open", "udp", str(p), "--hold", "0", "--lease", "600", "--cache", cache, "--route", "upnp"], until="opened in")
    def raced(p):
        return run_measured(inns + [a.cli, "open", "udp", str(p), "--hold", "0", "--lease", "600"], until="opened in")
    def upnpc(p):
        """The reference doing the same: pinhole and mapping (one process each: upnpc takes one
        action per run), then their deletes. `until` = both added."""
        w1, _, r1, out = run_measured(inns + ["upnpc", "-6", "-A", "", "0", env["LAN_V6"], str(p), "UDP", "600"])
        m = re.search(r"Pinhole ID = (\d+)", out) or re.search(r"UniqueID[ =:]+(\d+)", out)
        if not m:
            sys.exit(f"bench: no pinhole id from upnpc: {out}")
        w2, _, r2, _ = run_measured(inns + ["upnpc", "-a", env["LAN_V4"], str(p), str(p), "UDP", "600"])
        w3, _, r3, _ = run_measured(inns + ["upnpc", "-6", "-D", m.group(1)])
        w4, _, r4, _ = run_measured(inns + ["upnpc", "-d", str(p), "UDP"])
        return w1 + w2 + w3 + w4, w1 + w2, max(r1, r2, r3, r4), out

    def packet(p):
        """Seconds from starting `portopen open` to the first datagram arriving via the pinhole."""
        listener = subprocess.Popen(inns + [sys.executable, "-c", LISTENER, str(p)], stdout=subprocess.PIPE, text=True)
        assert listener.stdout.readline().strip() == "READY"
        sender = subprocess.Popen(["ip", "netns", "exec", wan, sys.executable, "-c", SENDER, env["LAN_V6"], str(p)])
        t0 = time.monotonic()
        opener = subprocess.Popen(inns + [a.cli, "open", "udp", str(p), "--v6", "--hold", "1", "--lease", "600"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        line = listener.stdout.readline().strip()
        sender.kill(); sender.wait(); opener.wait(); listener.wait()
        if not line.startswith("GOT "):
            sys.exit(f"bench: no packet arrived through the pinhole: {line}")
        return float(line.split()[1]) - t0

    def launch(_p):
        """What starting any process costs here: `ip netns exec` + GNU time running `true`."""
        return run_measured(inns + ["true"])

    warm(port)  # warm-up; also writes the cache file
    cold(port); upnpc(port + 1)
    opened = {"cold": [], "warm": [], "raced": [], "upnpc": []}
    total = {"cold": [], "warm": [], "raced": [], "upnpc": []}
    rss = {"cold": [], "warm": [], "raced": [], "upnpc": []}
    trips = {"cold": [], "warm": [], "raced": [], "upnpc": []}
    packets, launches = [], []
    for i in range(a.n):
        launches.append(launch(0)[0])
        p = port + 10 + i
        for case, fn in (("cold", cold), ("warm", warm), ("raced", raced), ("upnpc", upnpc)):
            log.delta()
            wall, until, kib, _ = fn(p)
            time.sleep(0.3)  # let the router finish logging
            opened[case].append(until); total[case].append(wall); rss[case].append(kib); trips[case].append(log.delta())
        packets.append(packet(p + 1000))

    ms = lambda v: {k: round(x * 1000, 1) for k, x in stats(v).items()}
    report = {"n": a.n, "cases": {}}
    for case in opened:
        report["cases"][case] = {"open_ms": ms(opened[case]), "total_ms": ms(total[case]),
                                 "peak_rss_kib": max(rss[case]), "round_trips_median": statistics.median(trips[case])}
    report["cases"]["packet"] = {"open_ms": ms(packets)}
    report["cases"]["launch"] = {"open_ms": ms(launches)}
    med = lambda c, k="open_ms": report["cases"][c][k]["median"]
    report["ratios"] = {
        "upnpc_over_cold_open": round(med("upnpc") / med("cold"), 1),
        "upnpc_over_warm_open": round(med("upnpc") / med("warm"), 1),
        "upnpc_over_raced_open": round(med("upnpc") / med("raced"), 1),
        "upnpc_over_cold_total": round(med("upnpc", "total_ms") / med("cold", "total_ms"), 1),
        "cold_rss_over_upnpc": round(report["cases"]["cold"]["peak_rss_kib"] / report["cases"]["upnpc"]["peak_rss_kib"], 2),
    }
    report["libraries"] = {os.path.basename(p): os.path.getsize(p) for p in a.libs if os.path.exists(p)}
    if a.json:
        print(json.dumps(report))
        return
    print(f"portopen vs upnpc in the lab, n={a.n} each, alternating; wall times of new processes, ms")
    print(f"{'case':7} {'open: min':>10} {'median':>8} {'max':>8} {'total: median':>14} {'peak RSS':>10} {'round trips':>12}")
    for case, e in report["cases"].items():
        o = e["open_ms"]
        t = e.get("total_ms", {}).get("median", "-")
        rss_text = f"{e['peak_rss_kib']} KiB" if "peak_rss_kib" in e else "-"
        print(f"{case:7} {o['min']:10.1f} {o['median']:8.1f} {o['max']:8.1f} {t:>14} {rss_text:>10} {e.get('round_trips_median', '-'):>12}")
    r = report["ratios"]
    print(f"upnpc/portopen, open: cold {r['upnpc_over_cold_open']}x, warm {r['upnpc_over_warm_open']}x, raced (PCP) {r['upnpc_over_raced_open']}x; "
          f"open+close: cold {r['upnpc_over_cold_total']}x; peak RSS cold/upnpc {r['cold_rss_over_upnpc']}")
    for name, size in report["libraries"].items():
        print(f"{name}: {size / 1024:.0f} KiB (stripped release)")
    print("cold/warm = the UPnP route (--route upnp; warm: gateway cache); raced = the default, PCP/NAT-PMP raced with UPnP (PCP wins on this router);"
          " open = until both families are confirmed (portopen: its 'opened' line; upnpc: -6 -A and -a done);"
          " total = whole run incl. close (upnpc: 4 processes, each discovering);"
          " packet = from starting `portopen open --v6` to the first datagram from wan through the pinhole;"
          " launch = the same launcher running `true` (part of every other figure)")

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
