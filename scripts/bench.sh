#!/usr/bin/env bash
# Benchmark: portopen vs the reference client upnpc in the lab, same run (see scripts/bench.py).
# Usage: scripts/bench.sh [-n N] [--json]     (as root; N >= 20, default 20)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/prereqs.sh
cargo build --quiet --release --lib --bin portopen
strip_copy() { local out="target/release/stripped-$(basename "$1")"; cp "$1" "$out"; strip "$out"; echo "$out"; }
so=$(strip_copy target/release/libportopen.so)
a=$(strip_copy target/release/libportopen.a)
LAB=bench$(( $$ % 10000 ))
trap 'tests/lab/lab.sh down "$LAB" >/dev/null 2>&1 || true' EXIT
tests/lab/lab.sh up "$LAB" >/dev/null
python3 scripts/bench.py --lab "$LAB" --cli "$PWD/target/release/portopen" --libs "$so" "$a" "$@"
