#!/usr/bin/env bash
# Every test, on a fresh Debian 12 machine (as root): installs prerequisites, then runs the
# unit, engine and fault tests, the type-check of every platform (scripts/xcheck.sh), the
# real-router lab tests (miniupnpd 2.3.1 and 2.3.9 in network namespaces), the header and C API
# tests (gcc + valgrind), release hygiene, and tests/bindings/*.sh: C, C++, C#, the Unity
# package, the Unreal plugin against a mock engine, and the Windows build under Wine in the lab.
# Lab tests are #[ignore]d in a plain `cargo test` (they need root and the lab); here they run,
# against a matrix of routers (see "Router matrix" below and tests/lab/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."

# Each part says how long it took (the whole command must stay within its budget).
PART="" PART_START=$SECONDS
part() {
  [[ -z $PART ]] || echo "   ($PART: $((SECONDS - PART_START)) s)"
  PART=$1 PART_START=$SECONDS
  [[ -z $1 ]] || echo "== $1"
}

scripts/prereqs.sh

# Labs of this run share a prefix; whatever happens, they are torn down at exit.
# Ends in a letter, so one run's prefix is never the start of another's (r12 vs r123).
export PORTOPEN_LAB_PREFIX="r$(( $$ % 1000 ))p"
trap 'tests/lab/lab.sh down-all "$PORTOPEN_LAB_PREFIX" >/dev/null 2>&1 || true' EXIT

part "cargo build (debug: lib, cdylib, CLI)"
export PORTOPEN_CHECK_HEADER=1  # the committed header must match a fresh one (tests/header.rs)
cargo build --quiet --all-targets

# Every other platform a game ships on (Windows, macOS, iOS, Android, Linux ARM): type-checked.
part "type-check every platform (scripts/xcheck.sh)"
scripts/xcheck.sh

# Router matrix. Every lab test takes its router from PORTOPEN_LAB_ROUTER (2.3.1: Debian 12's
# package; 2.3.9: Debian 13's source, built once into /var/cache/portopen-lab) and its web port
# from PORTOPEN_LAB_HTTP_PORT (fixed 5000, or random: http_port=0, a new port at every start).
#   2.3.1 fixed   every test (unit, fault, lab, load): the reference run
#   2.3.9 fixed   every Rust lab test but the load test: where the versions answer differently
#                 (pinhole errors, AddPinhole leases, external address on a CGNAT WAN, PCP)
#   random port   on both versions, the lab tests where the port matters: discovery, the
#                 gateway cache, open and close, upnpc beside us (and a reboot onto a new
#                 port: lab_router_faults, which picks the random port itself)
#   bindings      C on 2.3.9 fixed, C++ on 2.3.1 random, C# on 2.3.9 random: each binding once
#                 (they exercise the same library; what differs per router is covered above)
# The load test (two minutes) runs once, on 2.3.1: it measures portopen's concurrency and the
# router's accept queue, the same code in both versions.
# Tests of behaviour that does not work yet (they fail on today's code): skipped here, by name,
# and said so. Empty this list when the fix lands. (Empty: issue 19.1's power-on test runs since
# the look's probe landed.)
AWAITING_FIX=()
SKIP=()
for t in "${AWAITING_FIX[@]}"; do SKIP+=(--skip "$t"); done
# (A restart with a random port is a reboot onto a new port: lab_router_faults has that test,
# with both versions, whatever PORTOPEN_LAB_HTTP_PORT says.)
RANDOM_PORT_TESTS=(discovery_finds_the_router the_gateway_cache open_both_families_then_close
  upnpc_sees_our_mapping)
LAB_TESTS=(--test lab_router --test lab_router_choice --test lab_lifecycle --test lab_recovery --test lab_router_faults --test lab_pcp --test lab_routes --test lab_check_routes --test lab_held_port)

part "router 2.3.9 from Debian 13's source (built once, then cached)"
tests/lab/build-miniupnpd.sh 2.3.9

part "cargo test (unit, fault suite, header, C API, lab tests on miniupnpd 2.3.1, fixed web port)"
((${#AWAITING_FIX[@]} == 0)) || echo "   skipped, awaiting their fix: ${AWAITING_FIX[*]}"
# Two test threads: each lab test builds its own lab; the machine has two cores.
PORTOPEN_LAB_ROUTER=2.3.1 PORTOPEN_LAB_HTTP_PORT=fixed cargo test --quiet -- --include-ignored --test-threads 2 "${SKIP[@]}"

part "lab tests on miniupnpd 2.3.9, fixed web port"
PORTOPEN_LAB_ROUTER=2.3.9 PORTOPEN_LAB_HTTP_PORT=fixed cargo test --quiet "${LAB_TESTS[@]}" -- --include-ignored --test-threads 2 "${SKIP[@]}"

for router in 2.3.1 2.3.9; do
  part "lab tests where the web port matters on miniupnpd $router, random web port"
  PORTOPEN_LAB_ROUTER=$router PORTOPEN_LAB_HTTP_PORT=random cargo test --quiet --test lab_router --test lab_lifecycle \
    -- --include-ignored --test-threads 2 "${RANDOM_PORT_TESTS[@]}" "${SKIP[@]}"
done

part "release hygiene: rustdoc with warnings denied, crate package contents, cargo package"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --lib
# The crate package is for Rust users: no tests, lab, bindings, engine packages, scripts or fuzzing.
# Only the library is a crate for crates.io (-p portopen): the CLI (cli/, a workspace member)
# is not published.
if cargo package -p portopen --quiet --list --allow-dirty | grep -E '^(tests|bindings|unity-sample|scripts|fuzz|cli|\.ci)/'; then
  echo "cargo package would ship the files above" >&2; exit 1
fi
cargo package -p portopen --quiet --allow-dirty  # builds the packaged crate on its own: what crates.io users get

# Each binding against one router of the matrix; a binding script not listed runs on 2.3.1 fixed.
binding_router() {
  case $(basename "$1") in
    c_lab.sh) echo "2.3.9 fixed" ;;
    cpp.sh) echo "2.3.1 random" ;;
    csharp.sh) echo "2.3.9 random" ;;
    *) echo "2.3.1 fixed" ;;
  esac
}
for t in tests/bindings/*.sh; do
  [[ -e "$t" ]] || continue
  read -r router port <<<"$(binding_router "$t")"
  if grep -q 'lab\.sh\|lab_up' "$t"; then part "$t (miniupnpd $router, $port web port)"; else part "$t"; fi
  PORTOPEN_LAB_ROUTER=$router PORTOPEN_LAB_HTTP_PORT=$port "$t"
done
part ""
echo "== all tests passed"
