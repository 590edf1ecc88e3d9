#!/usr/bin/env bash
# The main job, end to end on a fresh Debian 12 machine (as root): install what is missing,
# build, bring up the lab (a real miniupnpd router between a LAN host and an internet host, in
# network namespaces with no link to this machine's network), open a game port from the LAN
# host with the portopen CLI (IPv6 pinhole + IPv4 mapping), show packets from the internet host
# arriving, close it, show them no longer arriving, tear the lab down.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${PORT:-27015}

scripts/prereqs.sh
echo "== building portopen (release)"
cargo build --quiet --release --bin portopen
CLI=$PWD/target/release/portopen

LAB=demo$(( $$ % 10000 ))
LABSH=tests/lab/lab.sh
out=$(mktemp)
cleanup() {
  [[ -n "${cli_pid:-}" ]] && kill "$cli_pid" 2>/dev/null || true
  $LABSH down "$LAB" >/dev/null 2>&1 || true
  rm -f "$out"
}
trap cleanup EXIT

echo "== lab up: $LAB"
$LABSH up "$LAB" >/dev/null
# shellcheck disable=SC1090
source "/tmp/portopen-lab/$LAB/env"
echo "   lan host $LAN_V4 / $LAN_V6 — router $RTR_LAN_V4, WAN $EXT_V4 — internet host $WAN_HOST_V4 / $WAN_HOST_V6"

reach() {  # reach PROTO ADDR LISTEN PORT -> prints and returns the probe's verdict
  local verdict
  verdict=$(python3 tests/lab/probe.py reach --lan-ns "$LAN_NS" --wan-ns "$WAN_NS" \
    --proto "$1" --addr "$2" --listen-addr "$3" --port "$4" | tail -n1) || true
  printf '   %-4s from internet host to %-28s %s\n' "$1" "$2 port $4:" "$verdict"
  [[ "$verdict" == REACHABLE ]]
}
fail() { echo "DEMO FAILED: $*" >&2; exit 1; }

echo "== router grade (portopen check, in the lan namespace)"
ip netns exec "$LAN_NS" "$CLI" check | sed 's/^/   /'

echo "== before opening: nothing gets in"
reach udp "$LAN_V6" :: "$PORT" && fail "IPv6 port open before the pinhole"
reach udp "$EXT_V4" 0.0.0.0 "$PORT" && fail "IPv4 port open before the mapping"

echo "== portopen open udp $PORT (in the lan namespace; renews until interrupted)"
ip netns exec "$LAN_NS" "$CLI" open udp "$PORT" --lease 120 >"$out" 2>&1 &
cli_pid=$!
for _ in $(seq 50); do grep -q "opened in" "$out" && break; sleep 0.1; done
sed 's/^/   /' "$out"
grep -q "IPv6: open" "$out" || fail "no IPv6 pinhole"
grep -q "IPv4: open" "$out" || fail "no IPv4 mapping"

echo "== while open: packets from the internet host arrive"
reach udp "$LAN_V6" :: "$PORT" || fail "IPv6 pinhole does not let packets in"
reach udp "$EXT_V4" 0.0.0.0 "$PORT" || fail "IPv4 mapping does not let packets in"
echo "   router rules miniupnpd added:"
$LABSH rules "$LAB" | grep -E "dport $PORT|:$PORT|$PORT " | sed 's/^\s*/     /' || true

echo "== Ctrl-C the CLI: it closes the pinhole and the mapping"
kill -INT "$cli_pid"
wait "$cli_pid" || true
cli_pid=
sed -n '/opened in/,$p' "$out" | tail -n +2 | sed 's/^/   /'

echo "== after closing: nothing gets in again"
reach udp "$LAN_V6" :: "$PORT" && fail "IPv6 still open after close"
reach udp "$EXT_V4" 0.0.0.0 "$PORT" && fail "IPv4 still open after close"
$LABSH rules "$LAB" | grep -qE "dport $PORT" && fail "router rules left after close"

echo "== lab down; demo passed"
