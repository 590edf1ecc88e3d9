#!/usr/bin/env bash
# portopen network-namespace lab: wan host <-> router (miniupnpd) <-> LAN bridge <-> lan host
# (and, with add-hosts, more LAN hosts, one namespace each).
# All traffic stays inside namespaces created here; they have no link to the host.
# Usage: see README.md, or run without arguments.
set -euo pipefail

LAB_ROOT=/tmp/portopen-lab
FIXED_HTTP_PORT=5000
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROBE=$HERE/probe.py
PY=${PYTHON:-python3}
# The router, its web port and extra config lines: `up` options, defaulting to these (so a test
# command can run every lab test against another router by setting them once).
#   PORTOPEN_LAB_ROUTER     2.3.1 (Debian 12's package, default) | 2.3.9 (Debian 13's source, built
#                           once by build-miniupnpd.sh) | 2.3.1-nopcp | 2.3.9-nopcp | /path/to/miniupnpd
#   PORTOPEN_LAB_HTTP_PORT  fixed (5000, default) | random (http_port=0: a new port at every start)
#   PORTOPEN_LAB_CONF       extra miniupnpd.conf lines, separated by newlines or ';'
#   PORTOPEN_LAB_UPTIME     long (default) | boot: the router's clocks at each start (see start_router)
DEFAULT_ROUTER=${PORTOPEN_LAB_ROUTER:-${MINIUPNPD:-2.3.1}}
DEFAULT_HTTP_PORT=${PORTOPEN_LAB_HTTP_PORT:-fixed}
DEFAULT_CONF=${PORTOPEN_LAB_CONF:-}
DEFAULT_UPTIME=${PORTOPEN_LAB_UPTIME:-long}
VARIANTS="default reserved-wan igd1 no-router no-pinhole"
# Extra LAN hosts (add-hosts) number 1..HOSTS_MAX and get 192.168.77.(10+K) / 2001:db8:1::(10+K)
# (the same digits in both), below the lan host's .100.
HOSTS_MAX=89
# The LAN bridge's MAC is fixed: a bridge otherwise takes the lowest MAC of its ports, so adding
# a host could change the router's MAC under the feet of every host's neighbour cache.
BRIDGE_MAC=02:00:5e:77:00:01

die() { echo "lab: $*" >&2; exit 1; }
usage() {
  cat >&2 <<EOF
usage: $0 up NAME [VARIANT] [--router R] [--http-port fixed|random] [--uptime long|boot] [--conf LINE]...
                                    VARIANT: ${VARIANTS// /|} (default: default)
                                    R: 2.3.1|2.3.9|2.3.1-nopcp|2.3.9-nopcp|/path/to/miniupnpd
       $0 add-hosts NAME COUNT      # COUNT more LAN hosts po-NAME-h1.. (at most $HOSTS_MAX in all)
       $0 add-igd NAME hK | stop-igd NAME hK   # a second UPnP IGD (miniupnpd) on host K
       $0 down NAME | down-all [PREFIX]
       $0 stop-router NAME | start-router NAME | restart-router NAME [--uptime long|boot]
       $0 flush-chains NAME         # "silent flush": miniupnpd's chains emptied while it runs
       $0 rules NAME
       $0 exec NAME lan|rtr|wan|hK CMD...
EOF
  exit 2
}

# Sets NAME, DIR, the three namespace names and file paths for lab $1.
lab_vars() {
  [[ "${1:-}" =~ ^[a-z0-9]{1,16}$ ]] || die "NAME must match [a-z0-9]{1,16}, got '${1:-}'"
  NAME=$1 DIR=$LAB_ROOT/$1
  WAN_NS=po-$1-wan RTR_NS=po-$1-rtr LAN_NS=po-$1-lan
  CONF=$DIR/miniupnpd.conf LOG=$DIR/miniupnpd.log PIDF=$DIR/router.pid HOSTS_FILE=$DIR/hosts
}

# Namespaces of the lab's extra LAN hosts that exist now (po-NAME-h1 ...).
host_namespaces() {
  local f
  for f in /run/netns/po-"$NAME"-h*; do
    [[ -e "$f" && "$(basename "$f")" =~ ^po-$NAME-h[0-9]+$ ]] && basename "$f"
  done
  return 0
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { [[ -e /run/netns/$1 ]]; }
sysctl_ns() { local ns=$1; shift; local kv; for kv in "$@"; do in_ns "$ns" sysctl -qw "$kv"; done; }

# True if $1 is a live (non-zombie) process; with $2, its command must be $2.
pid_alive() {
  local pid=${1:-}
  [[ -n "$pid" && -r /proc/$pid/stat ]] || return 1
  [[ -z "${2:-}" || "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]] || return 1
  [[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ]]
}
router_alive() { pid_alive "${1:-}" miniupnpd; }

# Sends SIGTERM (then SIGKILL after 5 s) to one pid and waits until it is gone.
stop_pid() {
  local pid=$1 i
  router_alive "$pid" || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do router_alive "$pid" || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 20; i++)); do router_alive "$pid" || return 0; sleep 0.1; done
  die "miniupnpd pid $pid did not exit"
}

wait_no_tentative() {
  local ns i busy
  for ((i = 0; i < 50; i++)); do
    busy=""
    for ns in "$WAN_NS" "$RTR_NS" "$LAN_NS" $(host_namespaces); do busy+=$(ip -n "$ns" -6 addr show tentative); done
    [[ -n "$busy" ]] || return 0
    sleep 0.1
  done
  die "IPv6 addresses still tentative after 5 s"
}

# IPv6 on a link is configured (link-local address, multicast route) only once the kernel has
# seen its carrier come up, up to a second after `link set up` (linkwatch); a bridge gets its
# carrier from its first forwarding port. miniupnpd started before that sends its IPv6
# NOTIFYs into "Network is unreachable" and misses the first M-SEARCHes: wait for it.
wait_ipv6_ready() {
  local i ns dev ok ns_dev
  for ((i = 0; i < 50; i++)); do
    ok=1
    for ns_dev in "$@"; do
      ns=${ns_dev%%:*} dev=${ns_dev#*:}
      ip -n "$ns" -6 route show table local dev "$dev" | grep -q '^multicast ff00::/8' || ok=""
    done
    [[ -z "$ok" ]] || return 0
    sleep 0.1
  done
  die "IPv6 not configured on $* after 5 s"
}

# Writes the env file (KEY=value, no quotes) from the current variables.
write_env() {
  local pid=""
  [[ -f "$PIDF" ]] && pid=$(<"$PIDF")
  cat >"$DIR/env" <<EOF
LAB_NAME=$NAME
LAN_NS=$LAN_NS
RTR_NS=$RTR_NS
WAN_NS=$WAN_NS
LAN_V4=192.168.77.100
LAN_V6=2001:db8:1::100
RTR_LAN_V4=192.168.77.1
RTR_LAN_V6=2001:db8:1::1
LAN_BRIDGE=br0
LAN_PORT=lan0
EXT_V4=$EXT_V4
WAN_HOST_V4=$WAN_HOST_V4
WAN_HOST_V6=2001:db8:ffff::2
HTTP_PORT=$HTTP_PORT
HTTP_PORT_MODE=$HTTP_PORT_MODE
ROUTER_UPTIME=$ROUTER_UPTIME
ROUTER_CLOCK_OFFSET=${ROUTER_CLOCK_OFFSET:-}
LOCATION_V4=${HTTP_PORT:+http://192.168.77.1:$HTTP_PORT/rootDesc.xml}
LOCATION_V6=${HTTP_PORT:+http://[2001:db8:1::1]:$HTTP_PORT/rootDesc.xml}
ROUTER=$ROUTER
ROUTER_BIN=$MINIUPNPD
ROUTER_VERSION=$ROUTER_VERSION
ROUTER_PID=$pid
ROUTER_LOG=$LOG
VARIANT=$VARIANT
EOF
}

load_env() {
  [[ -f "$DIR/env" ]] || die "lab '$NAME' is not up ($DIR/env missing)"
  EXT_V4=$(sed -n 's/^EXT_V4=//p' "$DIR/env")
  WAN_HOST_V4=$(sed -n 's/^WAN_HOST_V4=//p' "$DIR/env")
  VARIANT=$(sed -n 's/^VARIANT=//p' "$DIR/env")
  HTTP_PORT=$(sed -n 's/^HTTP_PORT=//p' "$DIR/env")
  HTTP_PORT_MODE=$(sed -n 's/^HTTP_PORT_MODE=//p' "$DIR/env")
  ROUTER_UPTIME=$(sed -n 's/^ROUTER_UPTIME=//p' "$DIR/env")
  ROUTER_CLOCK_OFFSET=$(sed -n 's/^ROUTER_CLOCK_OFFSET=//p' "$DIR/env")
  ROUTER=$(sed -n 's/^ROUTER=//p' "$DIR/env")
  MINIUPNPD=$(sed -n 's/^ROUTER_BIN=//p' "$DIR/env")
  ROUTER_VERSION=$(sed -n 's/^ROUTER_VERSION=//p' "$DIR/env")
}

# Sets MINIUPNPD (the binary) and ROUTER_VERSION for router $1 (see PORTOPEN_LAB_ROUTER).
resolve_router() {
  ROUTER=$1
  case $ROUTER in
    2.3.1) MINIUPNPD=/usr/sbin/miniupnpd ;;
    2.3.9 | 2.3.9-nopcp | 2.3.1-nopcp)
      local args=("${ROUTER%-nopcp}")
      [[ "$ROUTER" != *-nopcp ]] || args+=(--no-pcp)
      MINIUPNPD=$("$HERE/build-miniupnpd.sh" "${args[@]}") || die "building router $ROUTER failed" ;;
    */*) MINIUPNPD=$ROUTER ;;
    *) die "unknown router '$ROUTER' (2.3.1, 2.3.9, 2.3.1-nopcp, 2.3.9-nopcp or a path)" ;;
  esac
  [[ -x "$MINIUPNPD" ]] || die "router $ROUTER: $MINIUPNPD is not an executable (package miniupnpd-nftables?)"
  # "miniupnpd 2.3.9 Dec  1 2026" -> 2.3.9
  ROUTER_VERSION=$("$MINIUPNPD" --version 2>&1 | awk 'NR == 1 { print $2 }')
  [[ "$ROUTER_VERSION" =~ ^[0-9]+\.[0-9]+ ]] || die "$MINIUPNPD --version gave no version"
}

# miniupnpd 2.3.1 (nftables backend) defaults: everything in `table inet filter`;
# filter rules/pinholes go to chain `miniupnpd`, DNAT to `prerouting_miniupnpd`,
# SNAT/PCP-peer to `postrouting_miniupnpd` (upnp_table_name, upnp_nat_table_name,
# upnp_forward_chain, upnp_nat_chain, upnp_nat_postrouting_chain; the family is
# always inet in 2.3.1, so an `ip nat` table would never be used).
write_ruleset() {
  in_ns "$RTR_NS" nft -f - <<'EOF'
flush ruleset
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "br0" oifname "wan0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" ip saddr 192.168.77.0/24 masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
EOF
}

flush_chains() {
  local c
  for c in miniupnpd prerouting_miniupnpd postrouting_miniupnpd; do
    in_ns "$RTR_NS" nft flush chain inet filter "$c"
  done
  in_ns "$RTR_NS" "$PY" "$PROBE" ct-flush
}

flush_router_state() {
  flush_chains
  rm -f "$DIR/leases" "$DIR/leases6"
}

# $1: extra lines (newline- or ';'-separated). They go after the options (an option given again
# wins: miniupnpd keeps the last value) and before the permission rules (the first matching
# rule wins, so an extra `deny` or `allow` line comes first).
write_conf() {
  local port=0
  [[ "$HTTP_PORT_MODE" != fixed ]] || port=$FIXED_HTTP_PORT
  cat >"$CONF" <<EOF
ext_ifname=wan0
listening_ip=br0
http_port=$port
enable_upnp=yes
enable_natpmp=yes
secure_mode=yes
system_uptime=yes
clean_ruleset_interval=600
uuid=3d3cec3a-8cf0-11e0-98ee-001a6bd2d07b
friendly_name=portopen-lab-$NAME
lease_file=$DIR/leases
lease_file6=$DIR/leases6
EOF
  case $VARIANT in
    igd1) echo "force_igd_desc_v1=yes" >>"$CONF" ;;
    no-pinhole) echo "ipv6_disable=yes" >>"$CONF" ;;
  esac
  local line
  while IFS= read -r line; do
    line=${line#"${line%%[![:space:]]*}"}
    [[ -z "$line" ]] || echo "$line" >>"$CONF"
  done < <(tr ';' '\n' <<<"$1")
  cat >>"$CONF" <<EOF
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF
}

start_router() {
  if [[ -f "$PIDF" ]] && router_alive "$(<"$PIDF")"; then die "router already running"; fi
  rm -f "$DIR/miniupnpd.pid"
  start_syslog_sink
  local log_from=1
  [[ ! -f "$LOG" ]] || log_from=$(($(stat -c %s "$LOG") + 1))
  echo "=== start $(date '+%F %T') epoch $(date +%s) ===" >>"$LOG"
  # The router gets a /dev/log of its own, as a real router has a syslog: in a private mount
  # namespace (nothing propagates to the host), /dev is a small tmpfs holding the few devices
  # it needs and a `log` link to the lab's sink. -d copies every line to stderr, our log file.
  # nohup, `ip netns exec`, unshare and the shell's `exec` all exec, so $! is miniupnpd's pid.
  #
  # The router's clocks (a time namespace of its own): miniupnpd counts time on the monotonic
  # clock, which on a real router starts at 0 at power-on, and sends its first ssdp:alive
  # NOTIFY only once that clock passes notify_interval (900 s; 2.3.9: 836-899 s). On the host
  # the clock is the machine's uptime, so without this the lab router would announce its start
  # or not depending on how long the machine has been up.
  #   long: the clocks read a day more than the host's: a router up for long whose daemon
  #         (re)starts; it announces itself at once (NOTIFY with the new BOOTID).
  #   boot: the clocks read ~1 s at every start: a router that has just powered on; it sends no
  #         NOTIFY for its first ~15 minutes (only the ssdp:byebye of the stop before it).
  local offset=86400
  [[ "$ROUTER_UPTIME" != boot ]] || offset=$((1 - $("$PY" -c 'import time; print(int(time.monotonic()))')))
  ROUTER_CLOCK_OFFSET=$offset # env: the router's monotonic clock = the host's + this
  local boot_offset=$offset
  [[ "$ROUTER_UPTIME" != boot ]] || boot_offset=$((1 - $(cut -d. -f1 /proc/uptime)))
  nohup ip netns exec "$RTR_NS" unshare --time --monotonic "$offset" --boottime "$boot_offset" \
    --mount --propagation private sh -c '
    set -e
    dir=$1; shift
    mkdir -p "$dir/dev"
    mount -t tmpfs -o size=64k,mode=755 portopen-lab-dev "$dir/dev"
    for d in null zero random urandom; do touch "$dir/dev/$d"; mount --bind "/dev/$d" "$dir/dev/$d"; done
    ln -s "$dir/syslog.sock" "$dir/dev/log"
    mount --move "$dir/dev" /dev
    exec "$@"' router "$DIR" "$MINIUPNPD" -f "$CONF" -d -P "$DIR/miniupnpd.pid" \
    >>"$LOG" 2>&1 </dev/null &
  echo $! >"$PIDF"
  # The web port: the configured one, or with http_port=0 the one this start picked (it says
  # so in its log). Nobody may assume the port: tests read HTTP_PORT/LOCATION_* from env.
  # A router with UPnP off (enable_upnp=no: `up --conf`, or appended to miniupnpd.conf between
  # stop-router and start-router; a PCP/NAT-PMP-only router) has no web port: it is up once its
  # log says it listens for NAT-PMP/PCP.
  HTTP_PORT=""
  local i url="" upnp=yes
  upnp=$(sed -n 's/^enable_upnp=//p' "$CONF" | tail -n 1)
  for ((i = 0; i < 25; i++)); do
    # Right after the fork its command may still be nohup or ip: no name check.
    pid_alive "$(<"$PIDF")" || break
    if [[ "$upnp" == no ]]; then
      if tail -c +"$log_from" "$LOG" | grep -q 'Listening for NAT-PMP'; then
        if router_alive "$(<"$PIDF")"; then write_env; return 0; fi
        break
      fi
      sleep 0.2
      continue
    fi
    [[ -n "$HTTP_PORT" ]] || HTTP_PORT=$(tail -c +"$log_from" "$LOG" | sed -n 's/.*HTTP listening on port \([0-9]\{1,5\}\)$/\1/p' | head -n 1)
    if [[ -n "$HTTP_PORT" ]]; then
      url=http://192.168.77.1:$HTTP_PORT/rootDesc.xml
      if in_ns "$LAN_NS" "$PY" "$PROBE" http-ok --url "$url" --timeout 0.5 >/dev/null 2>&1; then
        if router_alive "$(<"$PIDF")"; then write_env; return 0; fi
        break
      fi
    fi
    sleep 0.2
  done
  write_env
  echo "lab: router in '$NAME' does not answer on ${url:-its web port (none in its log)}; log tail:" >&2
  tail -n 20 "$LOG" >&2
  die "router start failed"
}

# The router's syslog socket: a reader that drops what it gets (stderr has it all). Runs in
# the rtr namespace, so `down` stops it with the lab's other processes; it also exits by itself
# once the lab directory is gone.
start_syslog_sink() {
  local i
  if [[ -f "$DIR/sink.pid" ]] && pid_alive "$(<"$DIR/sink.pid")"; then return 0; fi
  nohup ip netns exec "$RTR_NS" "$PY" "$PROBE" syslog-sink --socket "$DIR/syslog.sock" \
    >/dev/null 2>&1 </dev/null &
  echo $! >"$DIR/sink.pid"
  for ((i = 0; i < 50; i++)); do [[ -S "$DIR/syslog.sock" ]] && return 0; sleep 0.05; done
  die "syslog sink did not start"
}

# miniupnpd's BOOTID.UPNP.ORG is its start time in whole seconds: a restart within the second
# it started would announce the same boot, which no real reboot does (it takes far longer).
wait_next_boot_second() {
  local started
  started=$(sed -n 's/^=== start .* epoch \([0-9]*\) ===$/\1/p' "$LOG" | tail -n 1)
  # (+1: the daemon itself may have started in the second after that line was written)
  while [[ -n "$started" && $(date +%s) -le $((started + 1)) ]]; do sleep 0.05; done
}

stop_router() {
  if [[ -f "$PIDF" ]]; then stop_pid "$(<"$PIDF")"; rm -f "$PIDF"; fi
  [[ ! -f "$DIR/env" ]] || write_env
}

# "Router reboot": every mapping, pinhole and flow forgotten, a new boot id. With a random web
# port the new start must be on another port, as the reboot it stands for: the kernel could hand
# out the same port again by chance (rarely), then the lab reboots once more.
restart_router() {
  local old_port=$HTTP_PORT i
  for ((i = 0; i < 5; i++)); do
    stop_router
    flush_router_state
    wait_next_boot_second
    start_router
    [[ "$HTTP_PORT_MODE" == random && "$HTTP_PORT" == "$old_port" ]] || return 0
  done
  die "router kept web port $old_port over 5 restarts with http_port=0"
}

cmd_up() {
  lab_vars "${1:-}"
  shift
  VARIANT=default
  if [[ $# -gt 0 && "$1" != --* ]]; then VARIANT=$1; shift; fi
  [[ " $VARIANTS " == *" $VARIANT "* ]] || die "unknown variant '$VARIANT' ($VARIANTS)"
  local router=$DEFAULT_ROUTER extra=$DEFAULT_CONF
  HTTP_PORT_MODE=$DEFAULT_HTTP_PORT ROUTER_UPTIME=$DEFAULT_UPTIME
  while [[ $# -gt 0 ]]; do
    [[ $# -ge 2 ]] || usage
    case $1 in
      --router) router=$2 ;;
      --http-port) HTTP_PORT_MODE=$2 ;;
      --uptime) ROUTER_UPTIME=$2 ;;
      --conf) extra+=$'\n'$2 ;;
      *) usage ;;
    esac
    shift 2
  done
  [[ "$HTTP_PORT_MODE" == fixed || "$HTTP_PORT_MODE" == random ]] || die "--http-port: fixed or random, got '$HTTP_PORT_MODE'"
  [[ "$ROUTER_UPTIME" == long || "$ROUTER_UPTIME" == boot ]] || die "--uptime: long or boot, got '$ROUTER_UPTIME'"
  resolve_router "$router"
  if [[ "$VARIANT" == igd1 ]] && ! grep -aq force_igd_desc_v1 "$MINIUPNPD"; then
    die "variant igd1: $MINIUPNPD has no force_igd_desc_v1 option"
  fi
  cmd_down "$NAME"
  mkdir -p "$DIR"
  local ext_pfx=11.0.0
  [[ "$VARIANT" != reserved-wan ]] || ext_pfx=100.64.0
  EXT_V4=$ext_pfx.1 WAN_HOST_V4=$ext_pfx.2

  local ns
  for ns in "$WAN_NS" "$RTR_NS" "$LAN_NS"; do
    ip netns add "$ns"
    # Before any link exists, so the defaults apply to the veths too.
    sysctl_ns "$ns" net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
      net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
  done
  sysctl_ns "$RTR_NS" net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # The router's LAN side is a bridge (br0) whose ports are the LAN hosts' links. Frames bridged
  # between ports must not go through the router's inet hooks (br_netfilter is on by default
  # in a new namespace when the kernel has it), and the router keeps its IPv6 addresses when
  # br0 is taken down (a test takes the router off the LAN that way).
  local bnf
  for bnf in arptables iptables ip6tables; do
    [[ ! -e /proc/sys/net/bridge/bridge-nf-call-$bnf ]] || sysctl_ns "$RTR_NS" "net.bridge.bridge-nf-call-$bnf=0"
  done
  sysctl_ns "$RTR_NS" net.ipv6.conf.default.keep_addr_on_down=1
  ip -n "$RTR_NS" link add br0 address "$BRIDGE_MAC" type bridge stp_state 0 forward_delay 0 mcast_snooping 0
  ip -n "$RTR_NS" link add wan0 type veth peer name eth0 netns "$WAN_NS"
  ip -n "$RTR_NS" link add lan0 type veth peer name eth0 netns "$LAN_NS"
  ip -n "$RTR_NS" link set lan0 master br0

  ip -n "$RTR_NS" addr add "$EXT_V4/24" dev wan0
  ip -n "$RTR_NS" addr add 2001:db8:ffff::1/64 dev wan0 nodad
  ip -n "$RTR_NS" addr add 192.168.77.1/24 dev br0
  ip -n "$RTR_NS" addr add 2001:db8:1::1/64 dev br0 nodad
  ip -n "$WAN_NS" addr add "$WAN_HOST_V4/24" dev eth0
  ip -n "$WAN_NS" addr add 2001:db8:ffff::2/64 dev eth0 nodad
  ip -n "$LAN_NS" addr add 192.168.77.100/24 dev eth0
  ip -n "$LAN_NS" addr add 2001:db8:1::100/64 dev eth0 nodad
  ip -n "$WAN_NS" link set eth0 up
  ip -n "$LAN_NS" link set eth0 up
  ip -n "$RTR_NS" link set wan0 up
  ip -n "$RTR_NS" link set lan0 up
  ip -n "$RTR_NS" link set br0 up

  ip -n "$RTR_NS" route add default via "$WAN_HOST_V4"
  ip -n "$RTR_NS" -6 route add default via 2001:db8:ffff::2
  ip -n "$LAN_NS" route add default via 192.168.77.1
  ip -n "$LAN_NS" -6 route add default via 2001:db8:1::1
  ip -n "$WAN_NS" -6 route add 2001:db8:1::/64 via 2001:db8:ffff::1
  wait_no_tentative
  wait_ipv6_ready "$RTR_NS:br0" "$LAN_NS:eth0" "$WAN_NS:eth0" "$RTR_NS:wan0"

  write_ruleset
  write_conf "$extra"
  HTTP_PORT=""
  [[ "$HTTP_PORT_MODE" != fixed ]] || HTTP_PORT=$FIXED_HTTP_PORT
  write_env
  [[ "$VARIANT" == no-router ]] || start_router
  echo "lab '$NAME' up (variant $VARIANT, miniupnpd $ROUTER_VERSION, web port $HTTP_PORT_MODE ${HTTP_PORT:-none}); env: $DIR/env"
}

# COUNT more LAN hosts, each its own namespace po-NAME-hK with eth0 on the router's bridge
# (port hK in the router: interface names are limited to 15 characters, namespace names are
# not). Appends "NAMESPACE IPV4 IPV6" lines to $DIR/hosts.
cmd_add_hosts() {
  local count=${1:-} have=0 k first ns v4 v6
  [[ "$count" =~ ^[0-9]+$ && "$count" -ge 1 ]] || die "COUNT must be a number >= 1, got '$count'"
  [[ ! -f "$HOSTS_FILE" ]] || have=$(wc -l <"$HOSTS_FILE")
  (( have + count <= HOSTS_MAX )) || die "at most $HOSTS_MAX extra hosts (have $have, asked $count more)"
  first=$((have + 1))
  for ((k = first; k < first + count; k++)); do
    ns=po-$NAME-h$k v4=192.168.77.$((10 + k)) v6=2001:db8:1::$((10 + k))
    ip netns add "$ns"
    sysctl_ns "$ns" net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.all.accept_ra=0 \
      net.ipv6.conf.default.router_solicitations=0 net.ipv6.conf.default.accept_dad=0
    ip -n "$ns" link set lo up
    ip -n "$RTR_NS" link add "h$k" type veth peer name eth0 netns "$ns"
    ip -n "$RTR_NS" link set "h$k" master br0
    ip -n "$ns" addr add "$v4/24" dev eth0
    ip -n "$ns" addr add "$v6/64" dev eth0 nodad
    ip -n "$ns" link set eth0 up
    ip -n "$RTR_NS" link set "h$k" up
    ip -n "$ns" route add default via 192.168.77.1
    ip -n "$ns" -6 route add default via 2001:db8:1::1
    echo "$ns $v4 $v6" >>"$HOSTS_FILE"
  done
  wait_no_tentative
  wait_ipv6_ready $(for ((k = first; k < first + count; k++)); do echo "po-$NAME-h$k:eth0"; done)
  echo "lab '$NAME': hosts h$first..h$((first + count - 1)) added; list: $HOSTS_FILE"
}

# A second UPnP IGD on the LAN segment, in extra host hK's namespace: a miniupnpd of its own
# (config, pid file, log and nftables ruleset in that namespace; its "WAN" is a veth pair whose
# other end stays in the namespace, 12.0.K.1/24 and 2001:db8:ffK::1/64: it goes nowhere), listening on the host's eth0, web port
# 5000. It answers SSDP and SOAP like any router (a mesh node, a travel router, any device that
# answers SSDP), but it is not the LAN's default gateway: nothing it opens is reachable. Its
# files: $DIR/igd-hK/. `down` stops it with the host's namespace.
cmd_add_igd() {
  local host=$1 k ns dir conf i
  [[ "$host" =~ ^h([0-9]+)$ ]] || die "add-igd: HOST must be hK, got '$host'"
  k=${BASH_REMATCH[1]} ns=po-$NAME-$host dir=$DIR/igd-$host
  ns_exists "$ns" || die "add-igd: no host $host (add-hosts first)"
  [[ ! -f "$dir/router.pid" ]] || ! router_alive "$(<"$dir/router.pid")" || die "add-igd: $host already runs an IGD"
  mkdir -p "$dir"
  ip -n "$ns" link add wan1 type veth peer name wan1p 2>/dev/null || true
  ip -n "$ns" link set wan1p up
  ip -n "$ns" addr replace "12.0.$k.1/24" dev wan1
  ip -n "$ns" addr replace "2001:db8:ff$(printf %02x "$k")::1/64" dev wan1 nodad
  ip -n "$ns" link set wan1 up
  sysctl_ns "$ns" net.ipv4.ip_forward=1
  in_ns "$ns" nft -f - <<'EOF2'
flush ruleset
table inet filter {
  chain forward { type filter hook forward priority 0; policy drop; jump miniupnpd; }
  chain miniupnpd { }
  chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
  chain postrouting { type nat hook postrouting priority 100; policy accept; jump postrouting_miniupnpd; }
  chain prerouting_miniupnpd { }
  chain postrouting_miniupnpd { }
}
EOF2
  conf=$dir/miniupnpd.conf
  cat >"$conf" <<EOF2
ext_ifname=wan1
listening_ip=eth0
http_port=$FIXED_HTTP_PORT
enable_upnp=yes
enable_natpmp=no
secure_mode=yes
system_uptime=yes
uuid=3d3cec3a-8cf0-11e0-98ee-0000000000$(printf %02x "$k")
friendly_name=portopen-lab-$NAME-second-igd-$host
lease_file=$dir/leases
lease_file6=$dir/leases6
allow 1024-65535 192.168.77.0/24 1024-65535
deny 0-65535 0.0.0.0/0 0-65535
EOF2
  start_syslog_sink
  echo "=== start $(date '+%F %T') ===" >>"$dir/miniupnpd.log"
  nohup ip netns exec "$ns" unshare --mount --propagation private sh -c '
    set -e
    dir=$1; sock=$2; shift 2
    mkdir -p "$dir/dev"
    mount -t tmpfs -o size=64k,mode=755 portopen-lab-dev "$dir/dev"
    for d in null zero random urandom; do touch "$dir/dev/$d"; mount --bind "/dev/$d" "$dir/dev/$d"; done
    ln -s "$sock" "$dir/dev/log"
    mount --move "$dir/dev" /dev
    exec "$@"' igd "$dir" "$DIR/syslog.sock" "$MINIUPNPD" -f "$conf" -d -P "$dir/miniupnpd.pid" \
    >>"$dir/miniupnpd.log" 2>&1 </dev/null &
  echo $! >"$dir/router.pid"
  for ((i = 0; i < 25; i++)); do
    pid_alive "$(<"$dir/router.pid")" || break
    if in_ns "$LAN_NS" "$PY" "$PROBE" http-ok --url "http://192.168.77.$((10 + k)):$FIXED_HTTP_PORT/rootDesc.xml" --timeout 0.5 >/dev/null 2>&1; then
      echo "lab '$NAME': second IGD on $host (192.168.77.$((10 + k)), 2001:db8:1::$((10 + k))); files: $dir"
      return 0
    fi
    sleep 0.2
  done
  tail -n 20 "$dir/miniupnpd.log" >&2
  die "second IGD on $host does not answer"
}

# Stop the second IGD of host hK (add-igd).
cmd_stop_igd() {
  local host=$1 dir=$DIR/igd-$1
  [[ -f "$dir/router.pid" ]] || return 0
  stop_pid "$(<"$dir/router.pid")"
  rm -f "$dir/router.pid"
}

cmd_down() {
  lab_vars "${1:-}"
  [[ ! -f "$PIDF" ]] || stop_pid "$(<"$PIDF")"
  local ns pid
  for ns in $(host_namespaces) "$LAN_NS" "$WAN_NS" "$RTR_NS"; do
    ns_exists "$ns" || continue
    # Anything else still running inside a lab namespace was started for the lab.
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$DIR"
}

cmd_down_all() {
  local n d names prefix=${1:-}
  names=$(ip netns list | sed -n 's/^po-\([a-z0-9]\{1,16\}\)-\(wan\|rtr\|lan\|h[0-9]\+\)\b.*/\1/p')
  for d in "$LAB_ROOT"/*/; do [[ ! -d "$d" ]] || names+=$'\n'$(basename "$d"); done
  for n in $(sort -u <<<"$names"); do
    [[ "$n" =~ ^[a-z0-9]{1,16}$ ]] || continue
    [[ "$n" == "$prefix"* ]] || continue
    cmd_down "$n"
    echo "lab '$n' down"
  done
}

need_lab() { lab_vars "${1:-}"; load_env; ns_exists "$RTR_NS" || die "lab '$NAME' has no namespaces"; }

[[ $# -ge 1 ]] || usage
[[ $EUID -eq 0 ]] || die "must run as root"
cmd=$1; shift
case $cmd in
  up) [[ $# -ge 1 ]] || usage; cmd_up "$@" ;;
  add-hosts) [[ $# -eq 2 ]] || usage; need_lab "$1"; cmd_add_hosts "$2" ;;
  add-igd) [[ $# -eq 2 ]] || usage; need_lab "$1"; cmd_add_igd "$2" ;;
  stop-igd) [[ $# -eq 2 ]] || usage; need_lab "$1"; cmd_stop_igd "$2" ;;
  down) [[ $# -eq 1 ]] || usage; cmd_down "$1" ;;
  down-all) cmd_down_all "${1:-}" ;;
  stop-router) need_lab "${1:-}"; stop_router ;;
  start-router) need_lab "${1:-}"; start_router ;;
  restart-router)
    need_lab "${1:-}"
    if [[ $# -eq 3 && "$2" == --uptime && ( "$3" == long || "$3" == boot ) ]]; then ROUTER_UPTIME=$3
    elif [[ $# -ne 1 ]]; then usage; fi
    restart_router ;;
  rules) need_lab "${1:-}"; in_ns "$RTR_NS" nft list ruleset ;;
  # A firewall reload behind the daemon's back (OpenWrt's does this): its three chains emptied
  # while it runs, its own state kept. Conntrack too, so no established flow hides the loss.
  flush-chains) need_lab "${1:-}"; flush_chains ;;
  exec)
    [[ $# -ge 3 ]] || usage
    lab_vars "$1"
    case $2 in
      lan) ns=$LAN_NS ;; rtr) ns=$RTR_NS ;; wan) ns=$WAN_NS ;;
      h[0-9]*) [[ "$2" =~ ^h[0-9]+$ ]] || usage; ns=po-$NAME-$2 ;;
      *) usage ;;
    esac
    shift 2
    exec ip netns exec "$ns" "$@" ;;
  *) usage ;;
esac
