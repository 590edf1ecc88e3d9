#!/usr/bin/env bash
# Benchmark: portopen (raced and --route upnp) against upnpc and the igd-next crate, on two lab
# routers side by side in one run (see scripts/bench.py): a PCP-capable one and a UPnP-only one
# (the same miniupnpd with UDP 5351 refused, as a router without PCP/NAT-PMP answers).
# Usage: scripts/bench.sh [-n N] [--json] [--router R] [--silent]     (as root; default N 20)
#   --router R   the miniupnpd of both labs (tests/lab/lab.sh --router: 2.3.1 (default), 2.3.9...)
#   --silent     a third router: UPnP-only with 5351 dropped without an answer (a firewall that
#                drops; also what a Linux router's ICMP rate limit makes of a refusal)
set -euo pipefail
cd "$(dirname "$0")/.."
router=() silent=0 args=()
while (($#)); do
  case "$1" in
    --router) router=(--router "$2"); shift 2 ;;
    --silent) silent=1; shift ;;
    *) args+=("$1"); shift ;;
  esac
done
scripts/prereqs.sh
cargo build --quiet --release --lib --bin portopen
# The peer has its own workspace and lock file (bench/igd-next-peer/Cargo.toml says why).
cargo build --quiet --release --locked --manifest-path bench/igd-next-peer/Cargo.toml
peer=$PWD/bench/igd-next-peer/target/release/igd-next-peer
strip_copy() { local out="target/release/stripped-$(basename "$1")"; cp "$1" "$out"; strip "$out"; echo "$out"; }
so=$(strip_copy target/release/libportopen.so)
a=$(strip_copy target/release/libportopen.a)

base=$(printf '%s' "${PORTOPEN_LAB_PREFIX:-bench}$(( $$ % 10000 ))" | tr -cd 'a-z0-9' | cut -c1-14)
labs=("${base}p" "${base}u")
((silent)) && labs+=("${base}s")
trap 'for l in "${labs[@]}"; do tests/lab/lab.sh down "$l" >/dev/null 2>&1 || true; done' EXIT
# Closes UDP 5351 in the router of lab $1 with nft verdict $2 (reject: ICMP port unreachable).
close_5351() {
  local rule
  for rule in "add table inet nopcp" "add chain inet nopcp input { type filter hook input priority -10 ; }" \
    "add rule inet nopcp input udp dport 5351 $2"; do
    # shellcheck disable=SC2086
    tests/lab/lab.sh exec "$1" rtr nft $rule
  done
}
tests/lab/lab.sh up "${labs[0]}" "${router[@]}" >/dev/null
tests/lab/lab.sh up "${labs[1]}" "${router[@]}" >/dev/null
close_5351 "${labs[1]}" reject
lab_args=(--lab "pcp=${labs[0]}" --lab "upnp-only=${labs[1]}")
if ((silent)); then
  tests/lab/lab.sh up "${labs[2]}" "${router[@]}" >/dev/null
  close_5351 "${labs[2]}" drop
  lab_args+=(--lab "upnp-silent=${labs[2]}")
fi
python3 scripts/bench.py "${lab_args[@]}" --cli "$PWD/target/release/portopen" --peer "$peer" --libs "$so" "$a" "${args[@]}"
