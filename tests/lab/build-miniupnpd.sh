#!/usr/bin/env bash
# Builds a miniupnpd for the lab from Debian's source package, outside the repo, and prints the
# binary's path. The machine's apt sources are not touched: a private sources dir holds one
# deb-src entry, and apt reads it with its own lists and cache dirs (see tests/lab/README.md).
#
#   build-miniupnpd.sh 2.3.9 [--no-pcp]    Debian 13 (trixie) source, the current router
#   build-miniupnpd.sh 2.3.1 [--no-pcp]    Debian 12 (bookworm) source, the packaged router's
#
# --no-pcp compiles PCP out (NAT-PMP stays): a NAT-PMP-only router.
# Built with the options of Debian's own package (nftables, IPv6, IGDv2, lease files, vendor
# config, PCP PEER, port-in-use check). Result: $CACHE/miniupnpd-VERSION[-nopcp]/miniupnpd, reused when
# present (delete the dir to rebuild). CACHE is $PORTOPEN_LAB_CACHE or /var/cache/portopen-lab.
# Needs root (apt-get), dpkg-dev, and libnftnl-dev libmnl-dev libssl-dev uuid-dev pkg-config
# (scripts/prereqs.sh installs them).
set -euo pipefail

die() { echo "build-miniupnpd: $*" >&2; exit 1; }

VERSION=${1:-}
NO_PCP=""
[[ "${2:-}" == "" || "${2:-}" == --no-pcp ]] || die "unknown option '${2}' (only --no-pcp)"
[[ "${2:-}" == --no-pcp ]] && NO_PCP=1
case $VERSION in
  2.3.9) SUITE=trixie ;;
  2.3.1) SUITE=bookworm ;;
  *) die "usage: $0 2.3.9|2.3.1 [--no-pcp]" ;;
esac

CACHE=${PORTOPEN_LAB_CACHE:-/var/cache/portopen-lab}
OUT=$CACHE/miniupnpd-$VERSION${NO_PCP:+-nopcp}
BIN=$OUT/miniupnpd
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

mkdir -p "$CACHE"
# One build at a time per cache (several test runs may ask for the same router at once).
exec 9>"$CACHE/.build.lock"
flock 9
if [[ -x "$BIN" ]]; then echo "$BIN"; exit 0; fi

# The source: downloaded once per suite into $CACHE/src-SUITE, kept for the other variant.
SRC_DIR=$CACHE/src-$SUITE
fetch_source() {
  local apt=$CACHE/apt-$SUITE
  mkdir -p "$apt/sources.list.d" "$apt/lists/partial" "$apt/cache/archives/partial"
  cat >"$apt/sources.list.d/$SUITE-src.sources" <<EOF
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $SUITE
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  local opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/sources.list.d"
    -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o APT::Get::Only-Source=true)
  apt-get "${opts[@]}" -qq update >&2 || die "apt-get update of the private $SUITE deb-src list failed"
  rm -rf "$SRC_DIR.tmp" && mkdir -p "$SRC_DIR.tmp"
  (cd "$SRC_DIR.tmp" && apt-get "${opts[@]}" -qq source --download-only "miniupnpd/$SUITE" >&2) \
    || die "apt-get source miniupnpd/$SUITE failed"
  local dsc
  dsc=$(ls "$SRC_DIR.tmp"/miniupnpd_*.dsc) || die "no .dsc downloaded"
  # The suite's current upload (e.g. 2.3.9-2+deb13u1); another upstream version is not the router asked for.
  [[ "$(basename "$dsc")" == "miniupnpd_$VERSION"-* ]] || die "$SUITE has $(basename "$dsc"), not $VERSION"
  # apt checked the files against the signed Sources index; unpack and apply Debian's patches.
  (cd "$SRC_DIR.tmp" && dpkg-source --no-check -x "$dsc" tree >&2) || die "dpkg-source -x failed"
  rm -rf "$SRC_DIR" && mv "$SRC_DIR.tmp" "$SRC_DIR"
}
[[ -f "$SRC_DIR/tree/miniupnpd.c" || -f "$SRC_DIR/tree/miniupnpd/miniupnpd.c" ]] || fetch_source

# Debian's tree is the upstream tarball: sources at the top, or under miniupnpd/ in some.
TOP=$SRC_DIR/tree
[[ -f "$TOP/miniupnpd.c" ]] || TOP=$TOP/miniupnpd
BUILD=$OUT.build
rm -rf "$BUILD" && cp -a "$TOP" "$BUILD"
cd "$BUILD"
# The options Debian's own package is built with (debian/rules of each suite), so the lab
# router is the one the distribution ships: --vendorcfg is what accepts friendly_name and the
# like, which the lab's config sets.
config=(--firewall=nftables --ipv6 --igd2 --leasefile --vendorcfg --pcp-peer --portinuse)
[[ "$SUITE" != trixie ]] || config+=(--regex)
./configure "${config[@]}" >&2 || die "configure failed"
if [[ -n "$NO_PCP" ]]; then
  # configure has no switch for it: PCP is on whenever config.h defines ENABLE_PCP.
  grep -q '^#define ENABLE_PCP' config.h || die "config.h defines no ENABLE_PCP to turn off"
  sed -i 's|^#define ENABLE_PCP\b.*|/* ENABLE_PCP off: NAT-PMP-only lab router (build-miniupnpd.sh --no-pcp) */|' config.h
fi
nice -n 10 make -j"$(nproc)" miniupnpd >"$BUILD/make.log" 2>&1 || { tail -n 30 "$BUILD/make.log" >&2; die "make failed"; }
mkdir -p "$OUT"
cp miniupnpd "$OUT/miniupnpd.new" && mv "$OUT/miniupnpd.new" "$BIN"
cp config.h "$OUT/config.h"
cd / && rm -rf "$BUILD"
echo "$BIN"
