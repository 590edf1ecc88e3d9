#!/usr/bin/env python3
"""Soak: one `portopen open udp PORT --json` held against the lab router while faults are
injected in rotation, probed from the `wan` host on both families all the time.

Run by scripts/soak.sh (which builds the CLI and brings the lab up and down); stdlib only.
Every packet stays inside the lab's namespaces: the probe sockets are made inside `wan` and
`lan` (setns, as tests/lab/probe.py does), the CLI runs under `ip netns exec` in `lan`.

What it prints at the end, per fault and family: the outage window (first probe lost -> first
probe back, by send time; "never" when none came back before the next fault), how long after
the fault ended (link up, router answering) the family was back, the events the CLI printed
in that window, and the CLI's RSS/threads/fds over time. Then it closes the CLI with SIGINT
and checks that nothing of ours is left on the router.
"""
import argparse
import json
import re
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lab"))
from probe import InNetns  # noqa: E402

LAB_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lab", "lab.sh")
PROBE_EVERY = 0.25  # s: 4 datagrams a second per family
LOST_AFTER = 2.0  # s: a probe not received within this is lost
LINK_DOWN = 40  # s


class Soak:
    def __init__(self, a):
        self.a = a
        self.t0 = time.monotonic()
        self.env = {}
        self.lock = threading.Lock()
        self.target = {"v4": None, "v6": None}  # (addr, port) the probes go to
        self.sent = {"v4": [], "v6": []}  # (t, seq)
        self.got = {"v4": {}, "v6": {}}  # seq -> t received
        self.events = []  # (t, family, event, address, message)
        self.other_lines = []
        self.samples = []  # (t, rss_kib, threads, fds, load1)
        self.faults = []  # dict(name, start, end)
        self.stop = threading.Event()
        self.cli = None
        self.host_v6 = None
        self.addr_changes = 0

    def now(self):
        return time.monotonic() - self.t0

    def log(self, msg):
        print(f"[{self.now():7.1f}] {msg}", flush=True)

    # --- lab -------------------------------------------------------------------------------
    def lab(self, *args, check=True):
        r = subprocess.run([LAB_SH, *args], capture_output=True, text=True, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"lab.sh {' '.join(args)}: {r.returncode}: {r.stderr.strip()}")
        return r

    def read_env(self):
        with open(f"/tmp/portopen-lab/{self.a.name}/env") as f:
            self.env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)

    def ns(self, which):
        return self.env[{"lan": "LAN_NS", "rtr": "RTR_NS", "wan": "WAN_NS"}[which]]

    def in_ns(self, which, *cmd, check=True):
        r = subprocess.run(["ip", "netns", "exec", self.ns(which), *cmd], capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise RuntimeError(f"{which}: {' '.join(cmd)}: {r.returncode}: {r.stderr.strip()}")
        return r

    # --- the CLI ---------------------------------------------------------------------------
    def start_cli(self):
        cmd = ["ip", "netns", "exec", self.ns("lan"), self.a.cli, "open", "udp", str(self.a.port), "--json", "--lease", str(self.a.lease)]
        self.log("CLI: " + " ".join(cmd))
        self.cli_err = open(os.path.join(self.a.out, "cli.stderr"), "w")
        # `ip netns exec` execs the CLI: this pid is the CLI's own (checked below).
        self.cli = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.cli_err, text=True, bufsize=1)
        threading.Thread(target=self.read_cli, daemon=True).start()

    def read_cli(self):
        with open(os.path.join(self.a.out, "cli.stdout"), "w") as raw:
            for line in self.cli.stdout:
                t = self.now()
                raw.write(f"{t:.2f} {line}")
                raw.flush()
                try:
                    v = json.loads(line)
                except ValueError:
                    self.other_lines.append((t, line.rstrip()))
                    continue
                if v.get("type") == "lease":
                    for fam in ("v4", "v6"):
                        fl = v.get(fam) or {}
                        ext = fl.get("external") or fl.get("internal")
                        if fl.get("open") and ext:
                            self.set_target(fam, ext)
                    self.log(f"lease: v4 {v['v4'].get('status')} {v['v4'].get('external')}, v6 {v['v6'].get('status')} {v['v6'].get('external')}")
                elif v.get("type") == "event":
                    fam, kind, addr = v.get("family"), v.get("event"), v.get("address")
                    fam = "v4" if fam in ("v4", "IPv4", "ipv4") else "v6"
                    with self.lock:
                        self.events.append((t, fam, kind, addr, v.get("message", "")))
                    if kind != "renewed":
                        self.log(f"event {fam} {kind} {addr or ''} {v.get('message', '')}")
                    if kind in ("opened", "renewed", "recovered") and addr:
                        self.set_target(fam, addr)

    def set_target(self, fam, text):
        host, _, port = text.rpartition(":")
        host = host.strip("[]")
        with self.lock:
            new = (host, int(port))
            if self.target[fam] != new:
                if self.target[fam] is not None:
                    self.log(f"probe target {fam}: {self.target[fam]} -> {new}")
                self.target[fam] = new

    # --- probes ----------------------------------------------------------------------------
    def start_probes(self):
        with InNetns(self.ns("lan")):
            l4 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            l6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        l6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        l4.bind(("0.0.0.0", self.a.port))
        l6.bind(("::", self.a.port))
        for s in (l4, l6):
            s.setblocking(False)
        threading.Thread(target=self.send_loop, daemon=True).start()
        threading.Thread(target=self.recv_loop, args=(l4, l6), daemon=True).start()

    def send_loop(self):
        # This thread lives in `wan` (setns is per thread) and sends every probe from a new
        # socket, so a new source port: each probe is a new flow, as a new player is. One
        # long-lived flow would measure conntrack instead: probes that arrive while the mapping
        # is gone make an un-NATed entry that keeps matching after the mapping is back, as long
        # as the probes keep it alive (UDP conntrack timeout 30 s).
        InNetns(self.ns("wan")).__enter__()
        seq = 0
        nxt = time.monotonic()
        while not self.stop.is_set():
            seq += 1
            for fam, af in (("v4", socket.AF_INET), ("v6", socket.AF_INET6)):
                with self.lock:
                    tgt = self.target[fam]
                if tgt is None:
                    continue
                try:
                    with socket.socket(af, socket.SOCK_DGRAM) as s:
                        s.sendto(f"{fam} {seq}".encode(), tgt)
                except OSError:
                    pass  # unreachable: counted as lost
                with self.lock:
                    self.sent[fam].append((self.now(), seq))
            nxt += PROBE_EVERY
            time.sleep(max(0.0, nxt - time.monotonic()))

    def recv_loop(self, l4, l6):
        while not self.stop.is_set():
            r, _, _ = select.select([l4, l6], [], [], 0.2)
            for s in r:
                try:
                    data = s.recv(256).decode(errors="replace").split()
                except OSError:
                    continue
                if len(data) == 2 and data[0] in ("v4", "v6") and data[1].isdigit():
                    with self.lock:
                        self.got[data[0]].setdefault(int(data[1]), self.now())

    # --- resources -------------------------------------------------------------------------
    def sample_loop(self):
        pid = self.cli.pid
        while not self.stop.wait(0 if not self.samples else 10):
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = dict(line.split(":", 1) for line in f if ":" in line)
                rss = int(st["VmRSS"].split()[0])
                threads = int(st["Threads"])
                fds = len(os.listdir(f"/proc/{pid}/fd"))
            except (OSError, KeyError, ValueError):
                return
            with open("/proc/loadavg") as f:
                load1 = float(f.read().split()[0])
            self.samples.append((self.now(), rss, threads, fds, load1))

    # --- faults ----------------------------------------------------------------------------
    def bridge(self, state):
        self.in_ns("rtr", "ip", "link", "set", self.env["LAN_BRIDGE"], state)

    def f_reboot(self):
        self.lab("restart-router", self.a.name, "--uptime", "long")

    def f_link_down(self):
        self.bridge("down")
        time.sleep(LINK_DOWN)
        self.bridge("up")

    def f_flush(self):
        self.lab("flush-chains", self.a.name)

    def f_address(self):
        old = self.host_v6
        self.addr_changes += 1
        new = f"2001:db8:1::{0x200 + self.addr_changes:x}"
        self.in_ns("lan", "ip", "-6", "addr", "add", f"{new}/64", "dev", "eth0", "nodad")
        self.in_ns("lan", "ip", "-6", "addr", "del", f"{old}/64", "dev", "eth0")
        self.in_ns("lan", "ip", "-6", "route", "replace", "default", "via", self.env["RTR_LAN_V6"], "dev", "eth0")
        self.host_v6 = new
        self.log(f"host IPv6 {old} -> {new}")

    def f_reboot_in_outage(self):
        # The host's link goes down (its port on the router's bridge), the router reboots (rules
        # and leases gone, a new web port) while the host is cut off, and the link comes back:
        # lab.sh's start waits for the web port from the LAN, so the link comes up during that
        # wait. (Not the bridge itself: miniupnpd started with br0 down takes no peer for a LAN
        # one, "not from a LAN", which no real router boots into.)
        port = self.env["LAN_PORT"]
        self.in_ns("rtr", "ip", "link", "set", port, "down")
        time.sleep(15)
        res = {}

        def restart():
            try:
                self.lab("restart-router", self.a.name, "--uptime", "long")
            except Exception as e:  # noqa: BLE001 (reported below)
                res["err"] = e

        th = threading.Thread(target=restart)
        th.start()
        time.sleep(4)
        self.in_ns("rtr", "ip", "link", "set", port, "up")
        th.join()
        if "err" in res:
            raise res["err"]

    def f_power_on(self):
        self.lab("restart-router", self.a.name, "--uptime", "boot")

    FAULTS = [
        ("reboot, new web port", "f_reboot"),
        ("link down 40 s", "f_link_down"),
        ("silent flush", "f_flush"),
        ("host IPv6 address change", "f_address"),
        ("reboot during outage", "f_reboot_in_outage"),
        ("power-on, no NOTIFY", "f_power_on"),
    ]

    def inject(self, k):
        name, fn = self.FAULTS[(k + self.a.rotate) % len(self.FAULTS)]
        old_port = self.env.get("HTTP_PORT")
        start = self.now()
        self.log(f"fault {k + 1}: {name}")
        err = ""
        try:
            getattr(self, fn)()
        except Exception as e:  # noqa: BLE001 (a failed injection is reported, the run goes on)
            lines = str(e).strip().splitlines()
            err = "injection failed: " + (lines[0] + (" ... " + lines[-1] if len(lines) > 1 else ""))
            with open(os.path.join(self.a.out, "faults.log"), "a") as f:
                f.write(f"fault {k + 1} {name}: {e}\n")
            self.log(f"fault {k + 1} injection failed: {e}")
        self.read_env()
        end = self.now()
        note = err
        if self.env.get("HTTP_PORT") != old_port:
            note = f"web port {old_port} -> {self.env.get('HTTP_PORT')}" + (f"; {err}" if err else "")
        self.faults.append({"name": name, "start": start, "end": end, "note": note})
        self.log(f"fault {k + 1} done in {end - start:.1f} s {note}")

    # --- the run ---------------------------------------------------------------------------
    def run(self):
        self.read_env()
        self.host_v6 = self.env["LAN_V6"]
        self.start_probes()
        self.start_cli()
        deadline = time.monotonic() + 30
        while self.target["v4"] is None or self.target["v6"] is None:
            if self.cli.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the CLI did not open both families (exit {self.cli.poll()}); see {self.a.out}/cli.stderr")
            time.sleep(0.1)
        comm = open(f"/proc/{self.cli.pid}/comm").read().strip()
        if comm != "portopen":
            self.log(f"warning: pid {self.cli.pid} is '{comm}', not the CLI: resource figures are not the CLI's")
        threading.Thread(target=self.sample_loop, daemon=True).start()
        end = self.t0 + self.a.minutes * 60
        k = 0
        while True:
            at = self.t0 + self.a.first + k * self.a.every
            # A fault needs its window: no new one in the last `every` seconds of the run.
            if at + self.a.every > end + 1:
                break
            time.sleep(max(0.0, at - time.monotonic()))
            if self.cli.poll() is not None:
                self.log(f"the CLI exited ({self.cli.returncode})")
                break
            self.inject(k)
            k += 1
        time.sleep(max(0.0, end - time.monotonic()))
        self.run_end = self.now()
        time.sleep(LOST_AFTER)  # the last probes' verdicts
        self.stop.set()
        self.close_and_check()
        self.report()

    def close_and_check(self):
        self.exit_code = None
        if self.cli.poll() is None:
            t = self.now()
            self.cli.send_signal(signal.SIGINT)
            try:
                self.exit_code = self.cli.wait(30)
            except subprocess.TimeoutExpired:
                self.exit_code = "still running 30 s after SIGINT (killed)"
                self.cli.kill()
            self.close_secs = self.now() - t
        else:
            self.exit_code = f"had exited already ({self.cli.returncode})"
            self.close_secs = 0.0
        time.sleep(0.5)
        port = str(self.a.port)
        rules = self.in_ns("rtr", "nft", "list", "ruleset", check=False).stdout.splitlines()
        self.left_rules = [r.strip() for r in rules if port in r]
        up = self.in_ns("lan", "upnpc", "-l", check=False).stdout.splitlines()
        # Its listing rows: " i protocol exPort->inAddr:inPort description remoteHost leaseTime".
        self.left_upnpc = [r.strip() for r in up if re.match(r"^\s*\d+\s+(UDP|TCP)\s+\d+->", r)]
        self.left_leases = []
        for fn in ("leases", "leases6"):
            p = f"/tmp/portopen-lab/{self.a.name}/{fn}"
            if os.path.exists(p):
                self.left_leases += [f"{fn}: {r.strip()}" for r in open(p) if r.strip()]

    # --- the table -------------------------------------------------------------------------
    def outage(self, fam, start, stop):
        """(first lost send time, first back send time or None, lost count) for probes sent in
        [start, stop); None when none was lost."""
        with self.lock:
            sent = [(t, s) for t, s in self.sent[fam] if start <= t < stop and t < self.run_end]
            got = dict(self.got[fam])
        lost_at, back_at, lost = None, None, 0
        for t, s in sent:
            ok = s in got and got[s] - t <= LOST_AFTER
            if not ok:
                lost += 1
                if lost_at is None:
                    lost_at = t
            elif lost_at is not None and back_at is None:
                back_at = t
        return lost_at, back_at, lost, len(sent)

    def report(self):
        out = []
        p = out.append
        a = self.a
        p("")
        p(f"soak: {a.minutes:g} min, router {self.env.get('ROUTER_VERSION') or a.router} (web port random), lease {a.lease} s, "
          f"udp {a.port}, a fault every {a.every:g} s from {a.first:g} s, probes every {PROBE_EVERY} s per family (lost: not in within {LOST_AFTER:g} s)")
        windows = [("baseline", 0.0, 0.0, self.faults[0]["start"] if self.faults else self.run_end, "")]
        for i, f in enumerate(self.faults):
            stop = self.faults[i + 1]["start"] if i + 1 < len(self.faults) else self.run_end
            windows.append((f"{i + 1} {f['name']}", f["start"], f["end"], stop, f["note"]))
        p("")
        p(f"{'fault (at s, took s)':<38} {'fam':<3} {'outage s':>9} {'back after end s':>16} {'lost/sent':>10}  events (s after fault start)")
        for label, start, fend, stop, note in windows:
            head = f"{label} ({start:.0f}, {fend - start:.1f})" if label != "baseline" else f"baseline (0-{stop:.0f})"
            for fam in ("v4", "v6"):
                lost_at, back_at, lost, n = self.outage(fam, start, stop)
                if lost_at is None:
                    win, after = "none", "-"
                elif back_at is None:
                    win, after = "never", "never"
                else:
                    win = f"{back_at - lost_at:.1f}"
                    after = f"{max(0.0, back_at - fend):.1f}"
                with self.lock:
                    evs = [e for e in self.events if e[1] == fam and start <= e[0] < stop and e[2] != "renewed"]
                    renewed = sum(1 for e in self.events if e[1] == fam and start <= e[0] < stop and e[2] == "renewed")
                ev = " ".join(f"{e[2]}@{e[0] - start:.1f}" for e in evs)
                if renewed:
                    ev += f" (+{renewed} renewed)"
                p(f"{head:<38} {fam:<3} {win:>9} {after:>16} {f'{lost}/{n}':>10}  {ev.strip() or '-'}")
                head = ""
            if note:
                p(f"{'':<38}     ({note})")
        p("")
        if self.samples:
            for name, i, unit in (("RSS", 1, "KiB"), ("threads", 2, ""), ("fds", 3, "")):
                vals = [s[i] for s in self.samples]
                p(f"{name:<8} first {vals[0]} max {max(vals)} last {vals[-1]} {unit}  ({len(vals)} samples, every 10 s)")
            loads = [s[4] for s in self.samples]
            p(f"load1    first {loads[0]:.2f} max {max(loads):.2f} mean {sum(loads) / len(loads):.2f} last {loads[-1]:.2f}  (2 cores, shared)")
        with self.lock:
            closed = [e for e in self.events if e[2] == "closed"]
        p(f"close: SIGINT -> exit {self.exit_code} in {self.close_secs:.1f} s; closed events: "
          + (", ".join(f"{e[1]} {e[3] or ''} {e[4]}".strip() for e in closed) or "none"))
        p("left on the router: nft rules with the port: " + (str(len(self.left_rules)) if not self.left_rules else "; ".join(self.left_rules)))
        p("                    upnpc -l (in lan): " + ("none" if not self.left_upnpc else "; ".join(self.left_upnpc)))
        p("                    lease files: " + ("empty" if not self.left_leases else "; ".join(self.left_leases)))
        if self.other_lines:
            p(f"non-JSON CLI output lines: {len(self.other_lines)} (see {a.out}/cli.stdout)")
        text = "\n".join(out)
        print(text, flush=True)
        with open(os.path.join(a.out, "table.txt"), "w") as f:
            f.write(text + "\n")
        self.ok = not self.left_rules and not self.left_leases and not self.left_upnpc and self.exit_code == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--name", required=True, help="lab name (already up, random web port)")
    ap.add_argument("--cli", required=True)
    ap.add_argument("--router", default="2.3.1")
    ap.add_argument("--minutes", type=float, default=20)
    ap.add_argument("--lease", type=int, default=120)
    ap.add_argument("--every", type=float, default=180, help="seconds between faults")
    # 90 s with the default lease (120 s, renewed every 60 s) and a fault every 180 s: each fault
    # falls half-way between two renewals, so what heals it is the detection, not a renewal
    # that happened to be due (with 60 s, every fault coincided with a renewal).
    ap.add_argument("--first", type=float, default=90, help="seconds before the first fault")
    ap.add_argument("--port", type=int, default=45100)
    ap.add_argument("--rotate", type=int, default=0, help="start the rotation at this fault (0-5)")
    ap.add_argument("--out", required=True, help="directory for the CLI's output and the table")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    # SIGTERM ends the run as Ctrl-C does: the CLI is closed, and soak.sh's trap takes the lab down.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    soak = Soak(a)
    soak.ok = False
    try:
        soak.run()
    finally:
        soak.stop.set()
        if soak.cli is not None and soak.cli.poll() is None:
            soak.cli.send_signal(signal.SIGINT)
            try:
                soak.cli.wait(15)
            except subprocess.TimeoutExpired:
                soak.cli.kill()
    return 0 if soak.ok else 1


if __name__ == "__main__":
    sys.exit(main())
