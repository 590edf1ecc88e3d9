# Shared by tests/bindings/cpp.sh and c_lab.sh (sourced; not a test itself, hence not *.sh):
# the library to link, valgrind, a lab of our own, and the open/probe/close handshake with a
# test program running in the lab's lan namespace.
#
# Handshake (files in $MARKERS): the program opens the port and creates `opened`; we probe
# REACHABLE and create `close`; it closes the lease and creates `closed`; we probe UNREACHABLE,
# check the router's rules, and create `exit`; it checks its events and exits.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB=$ROOT/tests/lab/lab.sh
PROBE=$ROOT/tests/lab/probe.py
RUN_LIMIT=300 # seconds for one program run, valgrind included
VALGRIND=(valgrind --error-exitcode=97 --leak-check=full --errors-for-leak-kinds=definite,indirect)

fail() { echo "FAIL: $*" >&2; exit 1; }

# At exit, whatever happened: our lab down, our scratch directory gone (logs are shown on failure).
LAB_NAME="" WORK=$(mktemp -d /tmp/portopen-bindings.XXXXXX)
cleanup() {
  [[ -z $LAB_NAME ]] || "$LAB" down "$LAB_NAME" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Builds (or finds up to date) the debug cdylib; sets LIB_DIR.
build_library() {
  (cd "$ROOT" && cargo build --lib --quiet) || fail "cargo build --lib failed"
  LIB_DIR=${CARGO_TARGET_DIR:-$ROOT/target}/debug
  [[ -f $LIB_DIR/libportopen.so ]] || fail "no $LIB_DIR/libportopen.so after cargo build --lib"
}

# run_checked LOG CMD...: run under `timeout`, output to LOG; on failure show it and fail.
run_checked() {
  local log=$1 rc=0; shift
  timeout "$RUN_LIMIT" "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then cat "$log" >&2; fail "$* exited with $rc$( ((rc == 124)) && echo ": timed out")"; fi
}

# The ERROR SUMMARY and leak lines of a valgrind log, for the test output.
valgrind_summary() { grep -E 'ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|All heap blocks' "$1" | sed 's/^==[0-9]*== */    valgrind: /'; }

# lab_up NAME: a fresh default lab (torn down at exit); loads its env (LAN_NS, WAN_NS, ...).
# Its router follows PORTOPEN_LAB_ROUTER / PORTOPEN_LAB_HTTP_PORT (read by lab.sh).
lab_up() {
  [[ $1 =~ ^[a-z0-9]{1,16}$ ]] || fail "bad lab name '$1'"
  LAB_NAME=$1
  "$LAB" up "$LAB_NAME" >/dev/null || fail "lab.sh up $LAB_NAME failed (root, nftables, miniupnpd-nftables needed)"
  set -a
  # shellcheck disable=SC1090
  source "/tmp/portopen-lab/$LAB_NAME/env"
  set +a
  echo "    router: miniupnpd $ROUTER_VERSION, $HTTP_PORT_MODE web port $HTTP_PORT"
}

# reach v4|v6 PORT: prints and returns 0 for REACHABLE, 1 for UNREACHABLE; anything else fails.
reach() {
  local addr listen out
  if [[ $1 == v4 ]]; then addr=$EXT_V4 listen=0.0.0.0; else addr=$LAN_V6 listen=::; fi
  out=$(python3 "$PROBE" reach --lan-ns "$LAN_NS" --wan-ns "$WAN_NS" --proto udp \
    --addr "$addr" --listen-addr "$listen" --port "$2" --timeout 2 2>&1) || true
  case $out in
    *UNREACHABLE*) echo "    $1 udp $addr:$2 UNREACHABLE"; return 1 ;;
    *REACHABLE*) echo "    $1 udp $addr:$2 REACHABLE"; return 0 ;;
    *) fail "probe.py reach $1 $2: $out" ;;
  esac
}

rules_for_port() { "$LAB" rules "$LAB_NAME" | grep -w "$1" || true; }

# wait_marker FILE PID: until FILE exists; fails if PID exits first or after RUN_LIMIT.
wait_marker() {
  local i
  for ((i = 0; i < RUN_LIMIT * 10; i++)); do
    [[ -e $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# lab_flow LABEL PORT PROGRAM [RUNNER...]: the handshake above with PROGRAM run (through
# RUNNER, e.g. valgrind) in the lan namespace; its output goes to $WORK/LABEL.log.
lab_flow() {
  local label=$1 port=$2 program=$3; shift 3
  local log=$WORK/$label.log pid rc=0
  export MARKERS=$WORK/$label.markers PORT=$port
  rm -rf "$MARKERS" && mkdir -p "$MARKERS"
  timeout "$RUN_LIMIT" ip netns exec "$LAN_NS" "$@" "$program" >"$log" 2>&1 &
  pid=$!
  show() { cat "$log" >&2; }
  wait_marker "$MARKERS/opened" "$pid" || { show; fail "$label: the program did not open (see above)"; }
  reach v6 "$port" || { show; fail "$label: IPv6 pinhole not reachable while open"; }
  reach v4 "$port" || { show; fail "$label: IPv4 mapping not reachable while open"; }
  [[ -n $(rules_for_port "$port") ]] || { show; fail "$label: no router rule for port $port while open"; }
  touch "$MARKERS/close"
  wait_marker "$MARKERS/closed" "$pid" || { show; fail "$label: the program did not close (see above)"; }
  ! reach v6 "$port" || { show; fail "$label: IPv6 still reachable after close"; }
  ! reach v4 "$port" || { show; fail "$label: IPv4 still reachable after close"; }
  local left
  left=$(rules_for_port "$port")
  [[ -z $left ]] || { show; fail "$label: router rules left for port $port after close: $left"; }
  echo "    no router rule for port $port"
  touch "$MARKERS/exit"
  wait "$pid" || rc=$?
  ((rc == 0)) || { show; fail "$label: exited with $rc (97: valgrind errors, 124: timed out)"; }
  grep -E 'checks, ' "$log" | sed 's/^/    /'
}
