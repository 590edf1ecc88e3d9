#!/usr/bin/env bash
# Soak: one `portopen open udp PORT` held against the lab router for N minutes while faults are
# injected in rotation (reboot onto a new web port, link down 40 s, silent flush of the chains,
# host IPv6 address change, reboot during an outage, power-on without NOTIFY), probed from the
# lab's wan host on both families at 4 datagrams a second. Not part of scripts/test.sh.
#
# Usage: scripts/soak.sh [--minutes N] [--router 2.3.1|2.3.9] [--lease S] [--every S] [--first S] [--rotate K] [--debug]
#   (as root; defaults: 20 minutes, 2.3.1, lease 120 s, a fault every 180 s from 90 s,
#    starting the rotation at fault K = 0)
# The lab is its own (PORTOPEN_LAB_PREFIX + "soak") and is taken down on exit. The CLI's output
# and the table are kept in target/soak/.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=20 router=2.3.1 lease=120 every=180 first=90 rotate=0 profile=release
while [[ $# -gt 0 ]]; do
  case $1 in
    --minutes) minutes=$2; shift 2 ;;
    --router) router=$2; shift 2 ;;
    --lease) lease=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --first) first=$2; shift 2 ;;
    --rotate) rotate=$2; shift 2 ;;
    --debug) profile=debug; shift ;;
    *) echo "usage: $0 [--minutes N] [--router 2.3.1|2.3.9] [--lease S] [--every S] [--first S] [--rotate K] [--debug]" >&2; exit 2 ;;
  esac
done
if [[ $profile == release ]]; then cargo build --quiet --release -p portopen-cli; else cargo build --quiet -p portopen-cli; fi
cli=$PWD/target/$profile/portopen
LAB=${PORTOPEN_LAB_PREFIX:-}soak
out=$PWD/target/soak
trap 'tests/lab/lab.sh down "$LAB" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tests/lab/lab.sh up "$LAB" --router "$router" --http-port random >/dev/null
python3 scripts/soak.py --name "$LAB" --cli "$cli" --router "$router" --minutes "$minutes" --lease "$lease" \
  --every "$every" --first "$first" --rotate "$rotate" --out "$out"
