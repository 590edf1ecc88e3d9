# Wine for the lab (sourced, not a test itself): a cached Wine prefix with the ProcessPrng shim,
# and a wineserver started by us inside one lab namespace, checked, for every Windows program.
#
# Network safety: Wine creates every socket in the *wineserver* process, so traffic goes out of
# the wineserver's network namespace, not the namespace `wine` was started in. wine_server_up
# kills any earlier wineserver of our prefix, starts `wineserver -f -p` itself under
# `ip netns exec NS`, and checks /proc/<pid>/ns/net against /run/netns/NS. wine_run refuses to
# start a program unless that checked server is still the one running, and runs the program
# under `ip netns exec NS` too. wine_server_down (also at exit) stops it.
#
# Use:  source tests/wine/wine.bash; wine_lock; wine_server_up NS; wine_run LOG prog.exe args...
# One run at a time per prefix (wine_lock, a flock held until the shell exits).

WINE_CACHE=${PORTOPEN_WINE_CACHE:-/var/cache/portopen-wine}
export WINEPREFIX=$WINE_CACHE/prefix
export WINEDEBUG=${WINEDEBUG:--all}
# No Mono/Gecko install prompts at prefix creation: the tests need neither.
export WINEDLLOVERRIDES="mscoree,mshtml="
WINE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
WINE_SERVER_PID="" WINE_NS=""

wine_fail() { echo "FAIL: wine: $*" >&2; exit 1; }

# The 64-bit loader and server; Debian puts them in /usr/lib/wine (wine64 package).
wine_find() {
  local d
  for d in /usr/lib/wine /usr/bin; do
    if [[ -x $d/wine64 && -x $d/wineserver ]]; then
      WINE64=$d/wine64 WINESERVER=$d/wineserver
      return 0
    fi
  done
  wine_fail "wine64 and wineserver not found (apt-get install wine wine64)"
}

# Serialises runs that share the prefix: a second run would kill the first one's wineserver.
wine_lock() {
  mkdir -p "$WINE_CACHE"
  exec {WINE_LOCK_FD}>"$WINE_CACHE/lock"
  flock -w 1800 "$WINE_LOCK_FD" || wine_fail "another run holds $WINE_CACHE/lock"
}

# wine_ns_inode NS: the inode of the named network namespace.
wine_ns_inode() { stat -L -c %i "/run/netns/$1"; }

# True while our wineserver runs in the lab namespace; the check before every Wine program.
wine_server_checked() {
  [[ -n $WINE_SERVER_PID && -n $WINE_NS ]] || return 1
  [[ $(readlink "/proc/$WINE_SERVER_PID/exe" 2>/dev/null) == */wineserver* ]] || return 1
  [[ $(stat -L -c %i "/proc/$WINE_SERVER_PID/ns/net" 2>/dev/null) == "$(wine_ns_inode "$WINE_NS")" ]]
}

# Stops any wineserver of our prefix (an earlier run's, or ours) and waits for it to go.
wine_server_kill() {
  "$WINESERVER" -k >/dev/null 2>&1 || true
  timeout 20 "$WINESERVER" -w >/dev/null 2>&1 || true
  if [[ -n $WINE_SERVER_PID ]]; then
    kill "$WINE_SERVER_PID" 2>/dev/null || true
    wait "$WINE_SERVER_PID" 2>/dev/null || true
  fi
  WINE_SERVER_PID=""
}

# wine_server_up NS: our wineserver, persistent, inside namespace NS; checked, or the run fails.
# Creates the prefix (first run, ~15 s) and installs the shim, inside NS as well.
wine_server_up() {
  local ns=$1 i
  wine_find
  [[ -e /run/netns/$ns ]] || wine_fail "no network namespace $ns"
  wine_server_kill
  WINE_NS=$ns
  mkdir -p "$WINEPREFIX"
  ip netns exec "$ns" "$WINESERVER" -f -p >"$WINE_CACHE/wineserver.log" 2>&1 &
  WINE_SERVER_PID=$!
  # Stopped at exit, before whatever the caller already does at exit (e.g. taking the lab down).
  local before
  before=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
  # shellcheck disable=SC2064
  trap "wine_server_down; $before" EXIT
  # Ready when the socket of *this prefix's* server exists: Wine names its directory after the
  # prefix's device and inode, under /tmp/.wine-UID or (Debian's build) a /tmp/wine-XXXXXX.
  # If another server held the prefix, ours has exited instead.
  local name socket=""
  name=$(stat -c '%d %i' "$WINEPREFIX" | awk '{printf "server-%x-%x", $1, $2}')
  for ((i = 0; i < 100; i++)); do
    kill -0 "$WINE_SERVER_PID" 2>/dev/null || wine_fail "wineserver exited at start (another one holds $WINEPREFIX?)"
    socket=$(compgen -G "/tmp/.wine-$(id -u)/$name/socket" || compgen -G "/tmp/wine-*/$name/socket" || true)
    [[ -n $socket ]] && break
    sleep 0.1
  done
  [[ -n $socket ]] || wine_fail "wineserver $WINE_SERVER_PID made no $name/socket in 10 s"
  wine_server_checked || wine_fail "REFUSED: wineserver $WINE_SERVER_PID is not in namespace $ns"
  echo "-- wineserver $WINE_SERVER_PID runs in $ns (net ns inode $(wine_ns_inode "$ns"), checked)"
  wine_prefix_ready
}

wine_server_down() {
  [[ -z $WINE_SERVER_PID ]] || wine_server_kill
}

# The prefix (cached across runs) and the ProcessPrng shim in its system32.
wine_prefix_ready() {
  local shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll
  # A finished wineboot leaves the system DLLs (the server alone writes only *.reg at exit).
  if [[ ! -f $WINEPREFIX/drive_c/windows/system32/kernel32.dll ]]; then
    echo "-- creating the Wine prefix $WINEPREFIX (first run only)"
    wine_server_checked || wine_fail "REFUSED: wineboot without the checked wineserver"
    ip netns exec "$WINE_NS" timeout 300 "$WINE64" wineboot --init >"$WINE_CACHE/wineboot.log" 2>&1 ||
      { cat "$WINE_CACHE/wineboot.log" >&2; wine_fail "wineboot --init failed"; }
  fi
  if [[ ! -f $shim || $WINE_DIR/processprng.c -nt $shim ]]; then
    echo "-- building the ProcessPrng shim (bcryptprimitives.dll) into the prefix"
    x86_64-w64-mingw32-gcc -shared -O2 -Wall -Wextra -Werror -o "$shim.tmp" "$WINE_DIR/processprng.c" -ladvapi32 ||
      wine_fail "mingw gcc failed on tests/wine/processprng.c"
    mv "$shim.tmp" "$shim"
  fi
}

# wine_run LOG LIMIT PROGRAM ARGS...: PROGRAM under Wine in the lab namespace, output to LOG,
# at most LIMIT seconds; returns its exit code (124: timed out). Refuses without our server.
wine_run() {
  local log=$1 limit=$2
  shift 2
  wine_server_checked || wine_fail "REFUSED to run $1: wineserver not running in ${WINE_NS:-?} (checked)"
  timeout "$limit" ip netns exec "$WINE_NS" "$WINE64" "$@" >"$log" 2>&1
}
