#!/usr/bin/env bash
# Fuzz every parser for a bounded time: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 60 s each, all targets). Uses cargo-fuzz (libFuzzer + AddressSanitizer); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets it use the nightly-only flags it needs. Seeds from
# fuzz/seeds/<target>/ are copied into fuzz/corpus/<target>/ (the growing corpus, not committed).
# A crash leaves its input in fuzz/artifacts/<target>/ and makes this script exit non-zero.
set -euo pipefail

secs="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ssdp_response description soap_response http_response url pcp)
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz not found: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
# Build once (release + debug assertions, so overflow checks are on while fuzzing).
cargo fuzz build -O --debug-assertions
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    echo "== $t: ${secs} s"
    # -rss_limit_mb/-malloc_limit_mb: a parser that allocates without bound is a finding too.
    rc=0
    cargo fuzz run -O --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=70000 -rss_limit_mb=1024 -malloc_limit_mb=256 \
        -timeout=10 -print_final_stats=1 >"artifacts/$t/last-run.log" 2>&1 || rc=$?
    grep -E "^(Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb|new_units_added)|SUMMARY|==[0-9]+==ERROR)" "artifacts/$t/last-run.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! $t failed (exit $rc): see fuzz/artifacts/$t/ and last-run.log" >&2
        status=1
    fi
done
exit $status
