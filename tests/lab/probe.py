#!/usr/bin/env python3
"""Reachability probe for the portopen namespace lab (stdlib only).

Run it inside the lab namespaces only (ip netns exec po-NAME-...).
Every socket operation has a timeout; no command can hang.

  listen  --proto udp|tcp --addr A --port P --timeout S
  send    --proto udp|tcp --addr A --port P --payload T [--count N --interval I]
  reach   --lan-ns NS --wan-ns NS --proto udp|tcp --addr A --listen-addr L --port P [--timeout S]
          (in one process: setns into lan for the listener, into wan for the sender)
  http-ok --url URL --timeout S
  ct-flush            (flush the conntrack table of the current netns)
  syslog-sink --socket PATH
                      read and drop datagrams on a unix socket (the router's /dev/log); runs
                      until killed or until PATH is removed (checked every second)
"""
import argparse
import ctypes
import http.client
import os
import select
import socket
import struct
import subprocess
import sys
import time
import urllib.parse


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def cmd_listen(a):
    fam = family_of(a.addr)
    kind = socket.SOCK_DGRAM if a.proto == "udp" else socket.SOCK_STREAM
    with socket.socket(fam, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a.addr, a.port))
        if a.proto == "tcp":
            s.listen(4)
        s.settimeout(a.timeout)
        print("READY", flush=True)
        try:
            if a.proto == "udp":
                data, _ = s.recvfrom(2048)
            else:
                conn, _ = s.accept()
                with conn:
                    conn.settimeout(max(0.5, a.timeout))
                    data = conn.recv(256)
        except (socket.timeout, OSError):
            print("TIMEOUT", flush=True)
            return 1
    print("GOT " + data.decode(errors="replace"), flush=True)
    return 0


def cmd_send(a):
    fam = family_of(a.addr)
    payload = a.payload.encode()
    try:
        if a.proto == "udp":
            with socket.socket(fam, socket.SOCK_DGRAM) as s:
                s.settimeout(2)
                for i in range(a.count):
                    if i:
                        time.sleep(a.interval)
                    try:
                        s.sendto(payload, (a.addr, a.port))
                    except ConnectionRefusedError:
                        pass  # ICMP unreachable from an earlier datagram
        else:
            with socket.create_connection((a.addr, a.port), timeout=2) as s:
                s.sendall(payload)
    except OSError as e:
        print(f"send failed: {e}", file=sys.stderr)
        return 1
    return 0


CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


class InNetns:
    """`with InNetns(NS):` this thread is in network namespace NS (/run/netns/NS), and back in
    its own after. A socket keeps the namespace it was made in."""

    def __init__(self, ns):
        self.path = os.path.join("/run/netns", ns)

    def __enter__(self):
        self.home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            _setns(fd)
        finally:
            os.close(fd)

    def __exit__(self, *_exc):
        try:
            _setns(self.home)
        finally:
            os.close(self.home)


def cmd_reach(a):
    """One process, no start-up race: the listener socket is made (in lan) before the first
    packet is sent (from a socket made in wan); the verdict is whether a packet arrives within
    --timeout of that first send. UDP is re-sent every 0.2 s; TCP must connect and carry data.
    Exit 0 REACHABLE, 1 UNREACHABLE, 2 (with ERROR) when the probe itself could not run."""
    kind = socket.SOCK_DGRAM if a.proto == "udp" else socket.SOCK_STREAM
    payload = b"probe"
    try:
        with InNetns(a.lan_ns):
            lst = socket.socket(family_of(a.listen_addr), kind)
        with InNetns(a.wan_ns):
            snd = socket.socket(family_of(a.addr), kind)
        lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lst.bind((a.listen_addr, a.listen_port or a.port))
        if a.proto == "tcp":
            lst.listen(4)
        lst.setblocking(False)
        snd.setblocking(False)
    except OSError as e:
        print(f"ERROR probe set-up: {e}")
        return 2
    deadline = time.monotonic() + a.timeout
    next_send, conn, connecting = 0.0, None, False
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                break
            if a.proto == "udp" and now >= next_send:
                try:
                    snd.sendto(payload, (a.addr, a.port))
                except OSError:
                    pass  # ICMP unreachable from an earlier datagram: keep trying
                next_send = now + 0.2
            elif a.proto == "tcp" and not connecting:
                snd.connect_ex((a.addr, a.port))  # the kernel retransmits the SYN
                connecting = True
            watch = [conn or lst]
            writable = [snd] if a.proto == "tcp" and connecting and payload else []
            r, w, _ = select.select(watch, writable, [], min(0.05, max(0.0, deadline - now)))
            if w:
                err = snd.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    break  # refused / unreachable: nothing got through
                snd.send(payload)
                payload = b""  # sent once
            if not r:
                continue
            try:
                if a.proto == "udp":
                    got = lst.recv(2048) == b"probe"
                elif conn is None:
                    conn, _ = lst.accept()
                    conn.setblocking(False)
                    continue
                else:
                    data = conn.recv(256)
                    if not data:
                        break  # closed without the payload
                    got = data.startswith(b"probe")
            except BlockingIOError:
                continue
            if got:
                print("REACHABLE")
                return 0
    except ConnectionError:
        pass  # reset or refused: nothing got through
    except OSError as e:
        print(f"ERROR probe: {e}")
        return 2
    finally:
        for sock in (lst, snd, conn):
            if sock is not None:
                sock.close()
    print("UNREACHABLE")
    return 1


def cmd_http_ok(a):
    u = urllib.parse.urlsplit(a.url)
    # http.client never consults *_proxy variables (urllib would).
    c = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=a.timeout)
    try:
        c.request("GET", u.path or "/")
        r = c.getresponse()
        print(r.status, r.reason)
        return 0
    except (OSError, http.client.HTTPException) as e:
        print(f"http-ok: {e}", file=sys.stderr)
        return 1
    finally:
        c.close()


def cmd_ct_flush(_a):
    # What `conntrack -F` does: IPCTNL_MSG_CT_DELETE without a tuple, AF_UNSPEC.
    NETLINK_NETFILTER, NLM_F_REQUEST, NLM_F_ACK = 12, 1, 4
    msg_type = (1 << 8) | 2  # NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_DELETE
    body = struct.pack("BBH", 0, 0, 0)  # nfgenmsg: family, version, res_id
    hdr = struct.pack("=IHHII", 16 + len(body), msg_type, NLM_F_REQUEST | NLM_F_ACK, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_NETFILTER) as s:
        s.settimeout(2)
        s.send(hdr + body)
        ack = s.recv(4096)
    err = struct.unpack_from("=i", ack, 16)[0] if len(ack) >= 20 else -1
    if err not in (0, -2):  # -ENOENT: table already empty
        print(f"ct-flush: netlink error {err}", file=sys.stderr)
        return 1
    return 0


def cmd_syslog_sink(a):
    # miniupnpd -d already copies every line to stderr (its log file). Without a /dev/log,
    # syslog(3) falls back to writing each line to /dev/console, a serial console here:
    # milliseconds per line, which made the router, not the client, the slow part.
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    s.settimeout(1.0)
    print("READY", flush=True)
    while os.path.exists(a.socket):
        try:
            s.recv(65536)
        except socket.timeout:
            pass
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)

    def ep(sp):
        sp.add_argument("--proto", choices=("udp", "tcp"), required=True)
        sp.add_argument("--addr", required=True)
        sp.add_argument("--port", type=int, required=True)

    sp = sub.add_parser("listen")
    ep(sp)
    sp.add_argument("--timeout", type=float, default=2.0)
    sp = sub.add_parser("send")
    ep(sp)
    sp.add_argument("--payload", required=True)
    sp.add_argument("--count", type=int, default=1)
    sp.add_argument("--interval", type=float, default=0.1)
    sp = sub.add_parser("reach")
    ep(sp)
    sp.add_argument("--lan-ns", required=True)
    sp.add_argument("--wan-ns", required=True)
    sp.add_argument("--listen-addr", required=True)
    sp.add_argument("--listen-port", type=int, default=0,
                    help="port the lan host listens on (default: --port; differs when the "
                         "router mapped another external port)")
    sp.add_argument("--timeout", type=float, default=2.0)
    sp = sub.add_parser("http-ok")
    sp.add_argument("--url", required=True)
    sp.add_argument("--timeout", type=float, default=1.0)
    sub.add_parser("ct-flush")
    sp = sub.add_parser("syslog-sink")
    sp.add_argument("--socket", required=True)

    a = p.parse_args()
    return {"listen": cmd_listen, "send": cmd_send, "reach": cmd_reach,
            "http-ok": cmd_http_ok, "ct-flush": cmd_ct_flush, "syslog-sink": cmd_syslog_sink}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
