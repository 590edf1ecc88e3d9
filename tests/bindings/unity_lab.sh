#!/usr/bin/env bash
# The Unity package's PortOpener component, run on Mono against the real router (run by
# scripts/test.sh after `cargo build`; needs root, the lab packages, mono-mcs, mono-runtime, gcc).
# tests/bindings/unity/PortOpenerLab.cs plays Unity's part: Unity messages on one main thread,
# await continuations pumped once per frame; the engine types are tests/bindings/unity's stub.
#   1. unavailable: with no native library, and with a library of another C ABI (a three-line C
#      stand-in: a fault the real library cannot make), the component ends Unavailable, says why
#      in its status and raises Failed;
#   2. lab, inside the lab's lan namespace, with the package's sample (PortOpenDemo) on the same
#      object: Start opens UDP 45010 on both families (Opened; probed from wan) with its journal
#      and gateway cache under persistentDataPath; the router is graded; 200000 frames of Update
#      allocate nothing (no nursery collection); a router restart gives Lost then Recovered for
#      IPv6 (probed again), and the sample's panel shows the routers, grade A, both families and
#      those events; CloseAsync removes the rules (Closed; unreachable); a mobile pause closes and
#      the resume reopens; OnDestroy returns at once and the rules go in the background; a second
#      component's OnApplicationQuit waits until its rules are gone; a third's, with the router
#      silent, returns at its 2 s bound (the close would wait 3 s per family).
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET=${CARGO_TARGET_DIR:-$PWD/target}/debug
BUILD=$(mktemp -d /tmp/portopen-unity-lab.XXXXXX)
LAB=""
PROGRAM_PID=""
cleanup() {
  if [[ -n "${PROGRAM_PID:-}" ]]; then kill "$PROGRAM_PID" 2>/dev/null || true; fi
  if [[ -n "${LAB:-}" ]]; then tests/lab/lab.sh down "$LAB" >/dev/null 2>&1 || true; fi
  rm -rf "$BUILD"
}
trap cleanup EXIT
fail() {
  echo "unity_lab.sh: FAIL: $*" >&2
  exit 1
}

echo "-- build"
cargo build --lib --quiet
[[ -f "$TARGET/libportopen.so" ]] || fail "$TARGET/libportopen.so not built"
MCS=(mcs -langversion:7.2 -warnaserror -nologo)
# As Unity compiles them: UNITY_5_3_OR_NEWER set, UnityEngine referenced.
"${MCS[@]}" -target:library -out:"$BUILD/UnityEngine.dll" tests/bindings/unity/UnityEngineStub.cs
"${MCS[@]}" -target:library -unsafe -define:UNITY_5_3_OR_NEWER -r:"$BUILD/UnityEngine.dll" \
  -out:"$BUILD/PortOpen.dll" unity-sample/Runtime/Binding/*.cs
"${MCS[@]}" -target:library -define:UNITY_5_3_OR_NEWER -r:"$BUILD/UnityEngine.dll" -r:"$BUILD/PortOpen.dll" \
  -out:"$BUILD/PortOpen.Unity.dll" unity-sample/Runtime/Components/*.cs
"${MCS[@]}" -target:library -define:UNITY_5_3_OR_NEWER -r:"$BUILD/UnityEngine.dll" -r:"$BUILD/PortOpen.dll" \
  -r:"$BUILD/PortOpen.Unity.dll" -out:"$BUILD/PortOpen.Samples.Demo.dll" unity-sample/Samples~/PortOpenDemo/*.cs
"${MCS[@]}" -r:"$BUILD/UnityEngine.dll" -r:"$BUILD/PortOpen.dll" -r:"$BUILD/PortOpen.Unity.dll" \
  -r:"$BUILD/PortOpen.Samples.Demo.dll" -out:"$BUILD/PortOpenerLab.exe" tests/bindings/unity/PortOpenerLab.cs
mkdir -p "$BUILD/data" "$BUILD/no-library" "$BUILD/other-abi"
printf 'unsigned int portopen_abi_version(void) { return 999; }\n' >"$BUILD/other-abi.c"
gcc -shared -fPIC -o "$BUILD/other-abi/libportopen.so" "$BUILD/other-abi.c"
export UNITY_FAKE_DATA=$BUILD/data MONO_PATH=$BUILD MONO_GC_PARAMS=nursery-size=1m

echo "-- unavailable: no native library"
out=$(cd "$BUILD" && LD_LIBRARY_PATH=$BUILD/no-library timeout 60 mono --debug PortOpenerLab.exe unavailable 2>&1) ||
  { echo "$out"; fail "the component did not handle a missing library"; }
grep '^STATUS' <<<"$out" | sed 's/^/   | /'
grep -q '^STATUS.*native library is missing' <<<"$out" || { echo "$out"; fail "the status does not say the library is missing"; }

echo "-- unavailable: a library of another C ABI"
out=$(cd "$BUILD" && LD_LIBRARY_PATH=$BUILD/other-abi timeout 60 mono --debug PortOpenerLab.exe unavailable 2>&1) ||
  { echo "$out"; fail "the component did not handle a library of another C ABI"; }
grep '^STATUS' <<<"$out" | sed 's/^/   | /'
grep -q '^STATUS.*C ABI 999.*written for 1' <<<"$out" || { echo "$out"; fail "the status does not name both ABI versions"; }

echo "-- lab"
export LD_LIBRARY_PATH=$TARGET${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
LAB=$(printf '%s' "${PORTOPEN_LAB_PREFIX:-u}un$$" | tr -cd 'a-z0-9' | cut -c1-16)
tests/lab/lab.sh up "$LAB" >/dev/null
# The default router: PCP wins both families, so the restart step below is seen through the
# router's ANNOUNCE (IPv4, from the same interface) and the look's epoch check.
ENV_FILE=/tmp/portopen-lab/$LAB/env
lab_var() { sed -n "s/^$1=//p" "$ENV_FILE"; }
LAN_NS=$(lab_var LAN_NS) WAN_NS=$(lab_var WAN_NS) LAN_V6=$(lab_var LAN_V6) EXT_V4=$(lab_var EXT_V4)
LAN_BRIDGE=$(lab_var LAN_BRIDGE)

coproc UNITY { cd "$BUILD" && exec timeout 300 ip netns exec "$LAN_NS" mono --debug PortOpenerLab.exe lab 2>&1; }
PROGRAM_PID=$UNITY_PID
exec {FROM_PROGRAM}<&"${UNITY[0]}" {TO_PROGRAM}>&"${UNITY[1]}"

# Echo the program's lines (its Debug.Log lines shortened) until one starts with $1 (left in LINE).
expect_line() {
  while IFS= read -r -t 60 LINE <&"$FROM_PROGRAM"; do
    [[ "$LINE" == "unity log: "* ]] || echo "   | $LINE"
    [[ "$LINE" == "FAIL "* ]] && fail "the program: $LINE"
    [[ "$LINE" == "$1"* ]] && return 0
  done
  fail "the program ended or stalled before printing '$1'"
}
say() { echo "   > $1"; echo "$1" >&"$TO_PROGRAM"; }
expect_reach() {
  local got
  got=$(python3 tests/lab/probe.py reach --lan-ns "$LAN_NS" --wan-ns "$WAN_NS" --proto udp \
    --addr "$1" --listen-addr "$2" --port "$3" | tail -n 1) || true
  echo "   probe udp $1 port $3 from wan: $got"
  [[ "$got" == "$4" ]] || fail "udp $1 port $3: $got, expected $4"
}
rules_for() { tests/lab/lab.sh rules "$LAB" | grep -cw -- "$1" || true; }
# Waits up to $2 seconds for the router to hold no rule for port $1; prints how long it took.
expect_no_rules_within() {
  local start=$SECONDS
  while (($(rules_for "$1") > 0)); do
    ((SECONDS - start < $2)) || fail "rules for $1 still on the router $2 s later"
    sleep 0.2
  done
  echo "   router: no rule for $1 ($((SECONDS - start)) s after the step)"
}

expect_line "OPEN v6"
[[ "$LINE" == "OPEN v6 [$LAN_V6]:45010" ]] || fail "IPv6 address: $LINE"
expect_line "OPEN v4"
[[ "$LINE" == "OPEN v4 $EXT_V4:45010" ]] || fail "IPv4 address: $LINE"
expect_line "GRADE"
[[ "$LINE" == "GRADE A" ]] || fail "the lab router is grade A, the component says: $LINE"
expect_line "COLLECTIONS"
expect_line "PROBE"
for f in portopen-udp-45010.journal portopen-udp-45010.gateways; do
  [[ -s "$UNITY_FAKE_DATA/$f" ]] || fail "no $f under persistentDataPath while open"
done
echo "   persistentDataPath: $(cd "$UNITY_FAKE_DATA" && echo portopen-udp-45010.*)"
expect_reach "$LAN_V6" :: 45010 REACHABLE
expect_reach "$EXT_V4" 0.0.0.0 45010 REACHABLE

tests/lab/lab.sh restart-router "$LAB" >/dev/null
echo "   router restarted (rules flushed)"
say watch
expect_line "RECOVERED v6"
expect_reach "$LAN_V6" :: 45010 REACHABLE
# The sample's panel at this point: routers, grade, both families, the events.
DEMO=""
while [[ "$LINE" != "DEMO-END" ]]; do
  expect_line "DEMO"
  DEMO+="$LINE"$'\n'
done
for want in "Router over IPv6: http://[2001:db8:1::1]" "Router over IPv4: http://" "Router grade: A " \
  "Router opens: IPv6 by PCP, UPnP; IPv4 by PCP, UPnP" \
  "IPv6: open - peers connect to [$LAN_V6]:45010" "IPv4: open - peers connect to $EXT_V4:45010" \
  "Opened: " "Lost: IPv6: Lost" "Recovered: IPv6: open"; do
  grep -qF -- "$want" <<<"$DEMO" || fail "the sample's panel lacks '$want'"
done

say close
expect_line "CLOSED"
(($(rules_for 45010) == 0)) || fail "rules for 45010 left on the router after CloseAsync"
expect_reach "$LAN_V6" :: 45010 UNREACHABLE
expect_reach "$EXT_V4" 0.0.0.0 45010 UNREACHABLE

say pause
expect_line "REOPENED"
(($(rules_for 45010) > 0)) || fail "no rule for 45010 after reopening"
say paused
expect_line "PAUSED"
(($(rules_for 45010) == 0)) || fail "rules for 45010 left on the router while paused"
say resume
expect_line "RESUMED"
expect_reach "$LAN_V6" :: 45010 REACHABLE

say destroy
expect_line "DESTROYED"
expect_no_rules_within 45010 10
say quit
expect_line "OPEN-QUIT"
(($(rules_for 45011) > 0)) || fail "no rule for 45011 while open"
say quit-now
expect_line "QUIT"
(($(rules_for 45011) == 0)) || fail "rules for 45011 left on the router when quitting returned"
echo "   router: no rule for 45011 when OnApplicationQuit returned"
say quit-silent
expect_line "OPEN-SILENT"
tests/lab/lab.sh exec "$LAB" rtr ip link set "$LAN_BRIDGE" down
echo "   router's LAN link down: it answers nothing"
say quit-now
expect_line "QUIT-SILENT"
tests/lab/lab.sh exec "$LAB" rtr ip link set "$LAN_BRIDGE" up
say exit
expect_line "ALL PASSED"
status=0
wait "$PROGRAM_PID" || status=$?
PROGRAM_PID=""
[[ $status -eq 0 ]] || fail "the program exited with $status"
echo "-- unity lab: all passed"
