#!/usr/bin/env bash
# C# binding tests (run by scripts/test.sh after `cargo build`; needs root, the lab packages,
# mono-mcs, mono-runtime, gcc):
#   1. build: the binding (its one copy lives in the Unity package, unity-sample/Runtime/Binding)
#      and the test program with mcs (warnings are errors), and a C program printing the header's
#      struct layout (sizes and offsets) for the C# mirror to be checked against (the Unity
#      package's own assemblies are compiled by tests/bindings/unity_compile.sh);
#   2. misuse, on loopback only: disposed objects, null arguments, invalid values,
#      cancellation mid-discovery, log callback, layout;
#   3. lab: mono inside the lab's lan namespace against miniupnpd: open UDP 45000 on both
#      families, probe from wan (reachable), Dispose, probe (unreachable); open 45001, drop it,
#      GC: the router's rules lose it. The program prints a line after each step and waits for
#      this script's go-ahead on stdin.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET=${CARGO_TARGET_DIR:-$PWD/target}/debug
BUILD=$(mktemp -d /tmp/portopen-csharp.XXXXXX)
LAB=""
PROGRAM_PID=""
cleanup() {
  if [[ -n "${PROGRAM_PID:-}" ]]; then kill "$PROGRAM_PID" 2>/dev/null || true; fi
  if [[ -n "${LAB:-}" ]]; then tests/lab/lab.sh down "$LAB" >/dev/null 2>&1 || true; fi
  rm -rf "$BUILD"
}
trap cleanup EXIT
fail() {
  echo "csharp.sh: FAIL: $*" >&2
  exit 1
}

echo "-- build"
cargo build --lib --quiet
[[ -f "$TARGET/libportopen.so" ]] || fail "$TARGET/libportopen.so not built"
# mcs knows C# up to 7.2; Unity 2019.4 needs no more than 7.3, so 7.2 keeps us inside both.
MCS=(mcs -langversion:7.2 -warnaserror -nologo)
"${MCS[@]}" -unsafe -target:library -out:"$BUILD/PortOpen.dll" unity-sample/Runtime/Binding/*.cs
"${MCS[@]}" -r:"$BUILD/PortOpen.dll" -r:System.dll -r:System.Core.dll -out:"$BUILD/test.exe" \
  tests/bindings/csharp/Program.cs tests/bindings/csharp/MisuseTests.cs tests/bindings/csharp/LabTest.cs

gcc -std=c11 -Wall -Werror -Iinclude -o "$BUILD/layout" -x c - <<'EOF'
#include <stddef.h>
#include <stdio.h>
#include "portopen.h"
#define S(t) printf(#t " %zu\n", sizeof(struct t));
#define F(t, f) printf(#t "." #f " %zu\n", offsetof(struct t, f));
int main(void) {
  S(portopen_addr) F(portopen_addr, family) F(portopen_addr, reserved) F(portopen_addr, port) F(portopen_addr, ip)
  S(portopen_config) F(portopen_config, struct_size) F(portopen_config, discovery_timeout_ms)
  F(portopen_config, discovery_grace_ms) F(portopen_config, action_timeout_ms) F(portopen_config, description)
  F(portopen_config, cache_file) F(portopen_config, journal_file) F(portopen_config, router)
  F(portopen_config, interface_name) F(portopen_config, no_multicast) F(portopen_config, no_default_gateway)
  F(portopen_config, manual_renew) F(portopen_config, route)
  S(portopen_open_options) F(portopen_open_options, struct_size) F(portopen_open_options, protocol)
  F(portopen_open_options, internal_port) F(portopen_open_options, external_port) F(portopen_open_options, want_v4)
  F(portopen_open_options, want_v6) F(portopen_open_options, reserved) F(portopen_open_options, lease_secs)
  F(portopen_open_options, internal_v4) F(portopen_open_options, internal_v6) F(portopen_open_options, description)
  S(portopen_event) F(portopen_event, lease_id) F(portopen_event, family) F(portopen_event, kind)
  F(portopen_event, address) F(portopen_event, lease_secs) F(portopen_event, message)
  S(portopen_gateway_info) F(portopen_gateway_info, struct_size) F(portopen_gateway_info, family)
  F(portopen_gateway_info, igd_version) F(portopen_gateway_info, has_port_mapping)
  F(portopen_gateway_info, has_pinhole) F(portopen_gateway_info, reserved) F(portopen_gateway_info, local_addr)
  S(portopen_family_state) F(portopen_family_state, status) F(portopen_family_state, internal)
  F(portopen_family_state, external) F(portopen_family_state, lease_secs) F(portopen_family_state, upnp_code)
  S(portopen_lease_info) F(portopen_lease_info, struct_size) F(portopen_lease_info, id)
  F(portopen_lease_info, v4) F(portopen_lease_info, v6) F(portopen_lease_info, protocol)
  F(portopen_lease_info, internal_port) F(portopen_lease_info, v4_not_default_gateway)
  F(portopen_lease_info, v6_not_default_gateway) F(portopen_lease_info, v4_other_routers)
  F(portopen_lease_info, v6_other_routers) F(portopen_lease_info, v4_router) F(portopen_lease_info, v6_router)
  F(portopen_lease_info, v4_route) F(portopen_lease_info, v6_route)
  return 0;
}
EOF
"$BUILD/layout" >"$BUILD/layout.txt"
export LD_LIBRARY_PATH=$TARGET${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

echo "-- misuse (loopback only)"
timeout 120 mono --debug "$BUILD/test.exe" misuse "$BUILD/layout.txt"

echo "-- lab"
LAB=$(printf '%s' "${PORTOPEN_LAB_PREFIX:-c}cs$$" | tr -cd 'a-z0-9' | cut -c1-16)
tests/lab/lab.sh up "$LAB" >/dev/null
ENV_FILE=/tmp/portopen-lab/$LAB/env
lab_var() { sed -n "s/^$1=//p" "$ENV_FILE"; }
LAN_NS=$(lab_var LAN_NS) WAN_NS=$(lab_var WAN_NS) LAN_V6=$(lab_var LAN_V6) EXT_V4=$(lab_var EXT_V4)
# (the router follows PORTOPEN_LAB_ROUTER / PORTOPEN_LAB_HTTP_PORT, read by lab.sh)
echo "   router: miniupnpd $(lab_var ROUTER_VERSION), $(lab_var HTTP_PORT_MODE) web port $(lab_var HTTP_PORT)"

coproc CS { exec timeout 180 ip netns exec "$LAN_NS" mono --debug "$BUILD/test.exe" lab 2>&1; }
# Own copies: bash unsets CS and CS_PID as soon as the program exits.
PROGRAM_PID=$CS_PID
exec {FROM_CS}<&"${CS[0]}" {TO_CS}>&"${CS[1]}"

# Echo the program's lines until one starts with $1 (left in LINE).
expect_line() {
  while IFS= read -r -t 60 LINE <&"$FROM_CS"; do
    echo "   | $LINE"
    [[ "$LINE" == "$1"* ]] && return 0
  done
  fail "the C# program ended or stalled before printing '$1'"
}
say() { echo "   > $1"; echo "$1" >&"$TO_CS"; }
# Does a UDP datagram from wan to $1:$3 reach a listener on $2:$3 in lan? Must print $4.
expect_reach() {
  local got
  got=$(python3 tests/lab/probe.py reach --lan-ns "$LAN_NS" --wan-ns "$WAN_NS" --proto udp \
    --addr "$1" --listen-addr "$2" --port "$3" | tail -n 1) || true
  echo "   probe udp $1 port $3 from wan: $got"
  [[ "$got" == "$4" ]] || fail "udp $1 port $3: $got, expected $4"
}
router_has_rule() {
  local rules
  rules=$(tests/lab/lab.sh rules "$LAB")
  grep -qw -- "$1" <<<"$rules"
}

expect_line "OPEN v4"
[[ "$LINE" == "OPEN v4 $EXT_V4:45000" ]] || fail "IPv4 external address: $LINE"
expect_line "OPEN v6"
[[ "$LINE" == "OPEN v6 [$LAN_V6]:45000" ]] || fail "IPv6 external address: $LINE"
expect_line "PROBE 45000"
router_has_rule 45000 || fail "no rule for 45000 on the router while open"
expect_reach "$LAN_V6" :: 45000 REACHABLE
expect_reach "$EXT_V4" 0.0.0.0 45000 REACHABLE
say close
expect_line "CLOSED 45000"
! router_has_rule 45000 || fail "a rule for 45000 is left on the router after Dispose"
expect_reach "$LAN_V6" :: 45000 UNREACHABLE
expect_reach "$EXT_V4" 0.0.0.0 45000 UNREACHABLE

expect_line "GC-READY 45001"
router_has_rule 45001 || fail "no rule for 45001 on the router while open"
say gc
expect_line "GC-CLOSED 45001"
! router_has_rule 45001 || fail "the garbage-collected lease left a rule for 45001 on the router"
echo "   router: no rule for 45001 after GC"
say quit
while IFS= read -r -t 60 LINE <&"$FROM_CS"; do echo "   | $LINE"; done
status=0
wait "$PROGRAM_PID" || status=$?
PROGRAM_PID=""
[[ $status -eq 0 ]] || fail "the C# lab program exited with $status"
echo "-- csharp: all passed"
