#!/usr/bin/env bash
# The Unreal plugin (bindings/unreal) without Unreal Engine, which this machine does not have:
#  1. structure: portopen's headers are included once, inside THIRD_PARTY_INCLUDES_START/END;
#     the .uplugin names the crate's version, engine version, docs/support URLs, platforms;
#  2. the Build.cs files compile with mcs against a stub of UnrealBuildTool's types
#     (tests/bindings/unreal/ubt) and, run per platform, pick the right files: Win64 x64/arm64
#     delay-loaded DLL staged under Binaries, Linux, Mac, iOS static, Android per ABI, a clear
#     error when a file is missing or the platform unknown;
#  3. every plugin .cpp compiles against the mock engine (tests/bindings/unreal/mock) with g++ and
#     clang++, -std=c++17 -Wall -Wextra -Werror -fno-exceptions -fno-rtti, into a test program
#     linked like a delay-loaded DLL (portopen's symbols resolved lazily, after the module loads
#     the library), then run: missing library, library of another ABI, real library (and the
#     first and last under valgrind);
#  4. the Windows build (mingw, real PE delay-load import) under Wine: starts without the DLL and
#     says why; names both ABI versions; the same program with a plain import does not start;
#  5. in a real-router lab: two Open Port nodes at once, reachable from wan, Close Port, nothing
#     left on the router; a router restart seen as On Port Lost / On Port Recovered; an open
#     followed by a "crash", and the next start removing what it left.
# What this does not prove: UHT accepting the reflection macros, the engine's real types and
# TCHAR (16-bit there), MSVC, packaging, Mac/iOS/Android. See bindings/unreal/README.md.
set -euo pipefail
source "$(dirname "$0")/lab_flow.bash"

PLUGIN=$ROOT/bindings/unreal
TESTS=$ROOT/tests/bindings/unreal
SOURCES=("$PLUGIN"/Source/PortOpen/Private/*.cpp)

echo "-- structure"
includers=$(grep -rlE '#include "portopen\.(h|hpp)"' "$PLUGIN/Source")
[[ $includers == "$PLUGIN/Source/PortOpen/Private/PortOpenNative.h" ]] ||
  fail "portopen.h/.hpp included outside PortOpenNative.h: $includers"
awk '/THIRD_PARTY_INCLUDES_START/ { inside = 1 } /THIRD_PARTY_INCLUDES_END/ { inside = 0 }
     /#include "portopen\.(h|hpp)"/ && !inside { bad = 1 } END { exit bad }' "$includers" ||
  fail "portopen.hpp is not between THIRD_PARTY_INCLUDES_START and THIRD_PARTY_INCLUDES_END"
crate_version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)
python3 - "$PLUGIN/PortOpen.uplugin" "$crate_version" <<'PY' || fail ".uplugin check failed"
import json, sys
p = json.load(open(sys.argv[1]))
problems = []
if p.get("VersionName") != sys.argv[2]: problems.append(f"VersionName {p.get('VersionName')} != crate {sys.argv[2]}")
for key in ("EngineVersion", "DocsURL", "SupportURL", "Description", "FriendlyName"):
    if not p.get(key): problems.append(f"no {key}")
platforms = set(p["Modules"][0].get("PlatformAllowList", []))
if platforms != {"Win64", "Mac", "Linux", "Android", "IOS"}: problems.append(f"PlatformAllowList {sorted(platforms)}")
print("\n".join(problems) or f"    .uplugin {p['VersionName']}, UE {p['EngineVersion']}, {sorted(platforms)}")
sys.exit(1 if problems else 0)
PY
echo "    portopen headers only in PortOpenNative.h, wrapped"

echo "-- Build.cs (mcs against the UnrealBuildTool stub, run per platform)"
mcs -nologo -warnaserror -out:"$WORK/BuildRules.exe" "$TESTS"/ubt/*.cs \
  "$PLUGIN/Source/ThirdParty/PortOpenLibrary/PortOpenLibrary.Build.cs" "$PLUGIN/Source/PortOpen/PortOpen.Build.cs" ||
  fail "Build.cs files do not compile"
# A released plugin (headers and every library staged), one inside a repository (headers from
# the repository), and a bare one.
staged=$WORK/released/PortOpen repo_plugin=$WORK/repo/bindings/unreal bare=$WORK/bare/PortOpen
for p in "$staged" "$repo_plugin" "$bare"; do mkdir -p "$p" && cp -r "$PLUGIN/Source" "$PLUGIN/PortOpen.uplugin" "$p/"; done
mkdir -p "$staged/ThirdParty/portopen/include" "$WORK/repo/include" "$WORK/repo/bindings/cpp"
touch "$staged/ThirdParty/portopen/include/"{portopen.h,portopen.hpp} "$WORK/repo/include/portopen.h" "$WORK/repo/bindings/cpp/portopen.hpp"
for p in "$staged" "$repo_plugin"; do
  lib=$p/ThirdParty/portopen/lib
  mkdir -p "$lib"/Win64/{x64,arm64} "$lib/Linux/x86_64" "$lib/Mac" "$lib/IOS" "$lib"/Android/{arm64-v8a,armeabi-v7a,x86_64}
  touch "$lib"/Win64/{x64,arm64}/portopen.{dll,lib} "$lib/Linux/x86_64/libportopen.so" "$lib/Mac/libportopen.dylib" \
    "$lib/IOS/libportopen.a" "$lib"/Android/{arm64-v8a,armeabi-v7a,x86_64}/libportopen.a
done
mono "$WORK/BuildRules.exe" "$staged" | sed "s|$staged|<plugin>|g" >"$WORK/rules-staged.txt"
mono "$WORK/BuildRules.exe" "$repo_plugin" | sed "s|$WORK/repo|<repo>|g" >"$WORK/rules-repo.txt"
mono "$WORK/BuildRules.exe" "$bare" | sed "s|$bare|<plugin>|g" >"$WORK/rules-bare.txt"
expect_rule() { grep -qxF -- "$2" "$WORK/rules-$1.txt" || { cat "$WORK/rules-$1.txt" >&2; fail "Build.cs ($1): no line '$2'"; }; }
expect_rule staged "Win64-x64 type External"
expect_rule staged "Win64-x64 include <plugin>/ThirdParty/portopen/include"
expect_rule staged "Win64-x64 lib <plugin>/ThirdParty/portopen/lib/Win64/x64/portopen.lib"
expect_rule staged "Win64-x64 delayload portopen.dll"
expect_rule staged "Win64-x64 define PORTOPEN_DELAY_LOAD=1"
expect_rule staged "Win64-x64 stage \$(PluginDir)/Binaries/ThirdParty/PortOpenLibrary/Win64/x64/portopen.dll <- <plugin>/ThirdParty/portopen/lib/Win64/x64/portopen.dll"
expect_rule staged "Win64-arm64 lib <plugin>/ThirdParty/portopen/lib/Win64/arm64/portopen.lib"
expect_rule staged "Win64-arm64 stage \$(PluginDir)/Binaries/ThirdParty/PortOpenLibrary/Win64/arm64/portopen.dll <- <plugin>/ThirdParty/portopen/lib/Win64/arm64/portopen.dll"
expect_rule staged "Win64-x64 uses Projects"
expect_rule staged "Linux lib <plugin>/ThirdParty/portopen/lib/Linux/x86_64/libportopen.so"
expect_rule staged "Linux stage <plugin>/ThirdParty/portopen/lib/Linux/x86_64/libportopen.so"
expect_rule staged "Mac lib <plugin>/ThirdParty/portopen/lib/Mac/libportopen.dylib"
expect_rule staged "IOS lib <plugin>/ThirdParty/portopen/lib/IOS/libportopen.a"
for abi in arm64-v8a armeabi-v7a x86_64; do
  expect_rule staged "Android lib <plugin>/ThirdParty/portopen/lib/Android/$abi/libportopen.a"
done
expect_rule staged "Android systemlib log"
expect_rule staged "TVOS error PortOpen: no portopen library for TVOS; build a static libportopen.a with the platform's Rust target and add a branch to PortOpenLibrary.Build.cs"
! grep -E '^(Linux|Mac|IOS|Android) (delayload|define)' "$WORK/rules-staged.txt" || fail "delay-loading outside Win64"
expect_rule repo "Linux include <repo>/include"
expect_rule repo "Linux include <repo>/bindings/cpp"
grep -q "^Win64-x64 error PortOpen: portopen.h and portopen.hpp not found in <plugin>/ThirdParty/portopen/include: run scripts/release.sh" \
  "$WORK/rules-bare.txt" || { cat "$WORK/rules-bare.txt" >&2; fail "Build.cs (bare): no clear error for missing headers"; }
echo "    $(wc -l <"$WORK/rules-staged.txt") rules checked for 7 targets; missing files and platforms are build errors"

build_library
FLAGS=(-std=c++17 -Wall -Wextra -Werror -fno-exceptions -fno-rtti -g -pthread -DPORTOPEN_DELAY_LOAD=1)
INCLUDES=(-I "$TESTS/mock" -I "$TESTS/mock/generated" -I "$PLUGIN/Source/PortOpen/Public"
  -I "$PLUGIN/Source/PortOpen/Private" -I "$ROOT/include" -I "$ROOT/bindings/cpp")
WRAPPED=portopen_client_open,portopen_client_discover,portopen_client_check,portopen_client_clean_leftovers
WRAPPED+=,portopen_client_renew_due,portopen_client_free,portopen_lease_close,portopen_lease_free
# Delay-loading, Linux style: linked against libportopen.so, then its DT_NEEDED entry removed
# (patchelf): the program starts without it, and portopen's symbols, bound lazily at their first
# call, are found only once the module has dlopen'ed the library; a call before that ends the
# process with "symbol lookup error", as a delay-loaded DLL that is missing would.
LINK=(-L "$LIB_DIR" -lportopen -Wl,-z,lazy "-Wl,--wrap=${WRAPPED//,/,--wrap=}" -ldl)
delay_load() { patchelf --remove-needed libportopen.so "$1" && [[ $(readelf -d "$1") != *"[libportopen.so]"* ]]; }

echo "-- the delay-load emulation catches a call made before the library is loaded"
printf '#include "portopen.h"\nint main(void) { return portopen_abi_version() == 0; }\n' >"$WORK/early.c"
gcc -I "$ROOT/include" "$WORK/early.c" -o "$WORK/early" -L "$LIB_DIR" -lportopen -Wl,-z,lazy && delay_load "$WORK/early" ||
  fail "cannot build the early-call program"
out=$(env -u LD_BIND_NOW "$WORK/early" 2>&1) && fail "a call before loading went through"
[[ $out == *"symbol lookup error"*portopen_abi_version* ]] || fail "early call: unexpected outcome: $out"
echo "    ${out##*/}"

for cxx in g++ clang++; do
  echo "-- compile the plugin and the mock engine ($cxx ${FLAGS[*]})"
  objs=()
  for src in "${SOURCES[@]}" "$TESTS/mock/UnrealMock.cpp" "$TESTS/plugin.cpp"; do
    obj=$WORK/$cxx-$(basename "$src" .cpp).o
    "$cxx" "${FLAGS[@]}" "${INCLUDES[@]}" -c "$src" -o "$obj" || fail "$cxx failed on $src"
    objs+=("$obj")
  done
  "$cxx" -pthread "${objs[@]}" -o "$WORK/plugin-$cxx" "${LINK[@]}" && delay_load "$WORK/plugin-$cxx" ||
    fail "$cxx could not link the test program"
  echo "    ${#SOURCES[@]} plugin sources: $(basename -a "${SOURCES[@]}" | tr '\n' ' ')"
done
[[ $(nm -D "$WORK/plugin-g++") == *" U portopen_abi_version"* ]] || fail "the test program does not import portopen_abi_version"

# plugin_case CXX CASE LIBRARY [RUNNER...]: run the program with a plugin folder holding LIBRARY
# (or none), through RUNNER (valgrind) if given.
plugin_case() {
  local cxx=$1 case=$2 library=$3 dir=$WORK/case-$1-$2${4:+-vg}
  shift 3
  mkdir -p "$dir/plugin/Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64" "$dir/saved"
  [[ -z $library ]] || cp "$library" "$dir/plugin/Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64/libportopen.so"
  PLUGIN_DIR=$dir/plugin SAVED_DIR=$dir/saved run_checked "$dir.log" env -u LD_BIND_NOW "$@" "$WORK/plugin-$cxx" "$case"
  echo "    $cxx $(grep 'checks, ' "$dir.log")"
  (($# == 0)) || valgrind_summary "$dir.log"
}
gcc -shared -fPIC -o "$WORK/libportopen-abi999.so" "$TESTS/fake_abi.c" || fail "cannot build the other-ABI library"
echo "-- module start-up (no network)"
for cxx in g++ clang++; do
  plugin_case "$cxx" missing ""
  plugin_case "$cxx" abi "$WORK/libportopen-abi999.so"
  plugin_case "$cxx" ready "$LIB_DIR/libportopen.so"
done
echo "-- the same under valgrind (g++ build)"
plugin_case g++ missing "" "${VALGRIND[@]}"
plugin_case g++ ready "$LIB_DIR/libportopen.so" "${VALGRIND[@]}"

echo "-- Win64 under Wine: the game starts without portopen.dll (real PE delay-loading)"
# The plugin built for Windows with mingw (PLATFORM_WINDOWS), linked with a delay-import library
# for portopen.dll made by dlltool from the header's functions. Run under Wine with a prefix of
# its own, whose wineserver is started inside a network namespace of its own (no interface but
# a down loopback): these cases send nothing, and could not if they tried.
WCXX=x86_64-w64-mingw32-g++-posix
wobjs=()
for src in "${SOURCES[@]}" "$TESTS/mock/UnrealMock.cpp" "$TESTS/plugin.cpp"; do
  obj=$WORK/win-$(basename "$src" .cpp).o
  "$WCXX" "${FLAGS[@]}" "${INCLUDES[@]}" -c "$src" -o "$obj" || fail "$WCXX failed on $src"
  wobjs+=("$obj")
done
{ echo "LIBRARY portopen.dll"; echo EXPORTS
  grep -oE '^[a-z0-9_ *]*\bportopen_[a-z0-9_]+\(' "$ROOT/include/portopen.h" | grep -oE 'portopen_[a-z0-9_]+\($' | tr -d '(' | sort -u; } >"$WORK/portopen.def"
x86_64-w64-mingw32-dlltool --input-def "$WORK/portopen.def" --dllname portopen.dll --output-delaylib "$WORK/libportopen-delay.a" &&
  x86_64-w64-mingw32-dlltool --input-def "$WORK/portopen.def" --dllname portopen.dll --output-lib "$WORK/libportopen-import.a" ||
  fail "dlltool failed"
"$WCXX" -static -pthread "${wobjs[@]}" -o "$WORK/plugin.exe" "$WORK/libportopen-delay.a" || fail "cannot link plugin.exe"
"$WCXX" -static -pthread "${wobjs[@]}" -o "$WORK/plugin-imported.exe" "$WORK/libportopen-import.a" || fail "cannot link plugin-imported.exe"
echo "    $WCXX: ${#SOURCES[@]} plugin sources, delay-loaded ($(grep -c '^portopen_' "$WORK/portopen.def") functions) and, for contrast, imported"
win_dir=Binaries/ThirdParty/PortOpenLibrary/Win64/x64
mkdir -p "$WORK/win-missing/$win_dir" "$WORK/win-abi/$win_dir" "$WORK/win-saved" "$WORK/wine"
x86_64-w64-mingw32-gcc-posix -shared -o "$WORK/win-abi/$win_dir/portopen.dll" "$TESTS/fake_abi.c" || fail "cannot build the other-ABI DLL"
HOST_NS=$(readlink /proc/self/ns/net) W=$WORK unshare -n bash -c '
  set -u
  export WINEPREFIX=$W/wine WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
  wineserver -f -p & server=$!
  sleep 0.5
  ns=$(readlink /proc/$server/ns/net)
  if [[ -z $ns || $ns == "$HOST_NS" ]]; then echo "wineserver not in its own network namespace" >&2; kill $server; exit 1; fi
  wine wineboot --init >/dev/null 2>&1
  rc=0
  win() { PLUGIN_DIR=$(winepath -w "$W/win-$2" 2>/dev/null) SAVED_DIR=$(winepath -w "$W/win-saved" 2>/dev/null) timeout 120 wine "$W/$1" "$2" >"$W/wine-$1-$2.log" 2>&1; }
  win plugin.exe missing || rc=1
  win plugin.exe abi || rc=1
  WINEDEBUG=err+module win plugin-imported.exe missing && rc=1  # must not even start
  wineserver -k; wait
  exit $rc' || { cat "$WORK"/wine-*.log >&2; fail "Wine cases failed"; }
for c in missing abi; do echo "    wine $(grep 'checks, ' "$WORK/wine-plugin.exe-$c.log")"; done
imported=$(cat "$WORK/wine-plugin-imported.exe-missing.log")
[[ $imported != *LogPortOpen* && $imported == *'Library portopen.dll'*'not found'* ]] ||
  { echo "$imported" >&2; fail "the imported build: expected Windows to refuse to start it for lack of portopen.dll"; }
echo "    imported instead of delay-loaded, the same program does not start: Wine: Library portopen.dll not found"

lab_up "${PORTOPEN_LAB_PREFIX:-u}ue$$"
# The default router: PCP wins both families, so the restart step below is seen through the
# router's ANNOUNCE (IPv4, from the same interface) and the look's epoch check.
lab_plugin=$WORK/lab-plugin
mkdir -p "$lab_plugin/Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64"
cp "$LIB_DIR/libportopen.so" "$lab_plugin/Binaries/ThirdParty/PortOpenLibrary/Linux/x86_64/"
export PLUGIN_DIR=$lab_plugin SAVED_DIR=$WORK/lab-saved PLUGIN_CASE=lab
echo "-- lab $LAB_NAME: two Open Port nodes, reachable, Close Port, unreachable (clang++ build)"
lab_flow lab 46100 "$WORK/plugin-clang++" env -u LD_BIND_NOW

echo "-- lab $LAB_NAME: the router restarts: On Port Lost, On Port Recovered (g++ build)"
export SAVED_DIR=$WORK/recover-saved PORT=46104 MARKERS=$WORK/recover.markers
mkdir -p "$MARKERS"
PLUGIN_CASE=recover timeout "$RUN_LIMIT" ip netns exec "$LAN_NS" env -u LD_BIND_NOW "$WORK/plugin-g++" >"$WORK/recover.log" 2>&1 &
recover_pid=$!
wait_marker "$MARKERS/opened" "$recover_pid" || { cat "$WORK/recover.log" >&2; fail "recover: did not open"; }
"$LAB" restart-router "$LAB_NAME" >/dev/null || fail "lab.sh restart-router failed"
touch "$MARKERS/restarted"
wait_marker "$MARKERS/recovered" "$recover_pid" || { cat "$WORK/recover.log" >&2; fail "recover: not recovered"; }
reach v6 "$PORT" || { cat "$WORK/recover.log" >&2; fail "recover: IPv6 not reachable after recovery"; }
touch "$MARKERS/close"
wait "$recover_pid" || { cat "$WORK/recover.log" >&2; fail "recover: the program failed"; }
echo "    $(grep 'checks, ' "$WORK/recover.log")"

echo "-- lab $LAB_NAME: open, crash, restart cleans up (g++ build)"
export SAVED_DIR=$WORK/crash-saved PORT=46102
PLUGIN_CASE=crash run_checked "$WORK/crash.log" ip netns exec "$LAN_NS" env -u LD_BIND_NOW "$WORK/plugin-g++"
echo "    $(grep 'checks, ' "$WORK/crash.log")"
reach v4 "$PORT" || fail "crash: IPv4 not open after the crashed run"
reach v6 "$PORT" || fail "crash: IPv6 not open after the crashed run"
[[ -n $(rules_for_port "$PORT") ]] || fail "crash: no router rule left by the crashed run"
PLUGIN_CASE=restart run_checked "$WORK/restart.log" ip netns exec "$LAN_NS" env -u LD_BIND_NOW "$WORK/plugin-g++"
echo "    $(grep 'checks, ' "$WORK/restart.log")"
! reach v4 "$PORT" || fail "restart: IPv4 still open after the restart"
! reach v6 "$PORT" || fail "restart: IPv6 still open after the restart"
left=$(rules_for_port "$PORT")
[[ -z $left ]] || fail "restart: router rules left for port $PORT: $left"
echo "    no router rule for port $PORT"
echo "unreal plugin: all passed"
