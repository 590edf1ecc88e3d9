#!/usr/bin/env bash
# Fuzz every parser for a bounded time: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
# (default 60 s each, all targets). Uses cargo-fuzz (libFuzzer + AddressSanitizer); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets it use the nightly-only flags it needs. Seeds from
# fuzz/seeds/<target>/ are copied into fuzz/corpus/<target>/ (the growing corpus, not committed).
# A crash leaves its input in fuzz/artifacts/<target>/ and makes this script exit non-zero.
#
# At the caps, not only near the seeds' size: libFuzzer's length ramp keeps inputs at a few KB
# for minutes, which is how a 62 KB description that took 34 s to parse went unseen (issue 19).
# So the XML targets also get seeds of cap size (generated below: namespace declarations and
# attributes up to and past the pre-scan's caps, at the 64 KiB description cap), a dictionary of
# `xmlns:`/attribute tokens (fuzz/dicts/xml.dict), and every target runs with -len_control=0
# (any length up to -max_len from the start). -timeout=2: a single input parsing for seconds
# is a finding (the 34 s one would have been one).
set -euo pipefail

secs="${1:-60}"
shift || true
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(ssdp_response description gateway_description soap_response http_response url persisted pcp)
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "cargo-fuzz not found: cargo install cargo-fuzz" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1

# Seeds of cap size for the XML targets (python3 is a prerequisite of the lab already).
# $1: the corpus directory; $2: a byte to put before each document (the soap_response target
# reads its first byte as the action to parse for), or nothing.
cap_seeds() {
    python3 - "$1" "${2:-}" <<'PY'
import os, sys
out, prefix = sys.argv[1], sys.argv[2]
CAP = 64 * 1024          # limits::DESCRIPTION_BODY_MAX
def fill(head, unit, tail, size=CAP):
    n = max(0, (size - len(head) - len(tail)) // len(unit))
    return head + unit * n + tail
docs = {
    # 2000 declarations on the root, then children declaring one more each (issue 19's 34 s).
    "cap_xmlns_thousands.xml": "<r" + "".join(f" xmlns:n{i:04}='u'" for i in range(2000)) + ">" + "<c xmlns:m='u'/>" * 1800 + "</r>",
    # 16 per element (the cap), 7 levels deep, then prefixed names resolved against all of them.
    "cap_xmlns_nested.xml": fill("".join("<e" + "".join(f" xmlns:p{l}x{i}='urn:{l}:{i}'" for i in range(16)) + ">" for l in range(7)),
                                 "<p0x0:z p0x0:a='1' p0x1:b='2'/>", "</e>" * 7),
    "cap_attributes.xml": fill("<r>", "<e" + "".join(f" a{i}=''" for i in range(32)) + "/>", "</r>"),
    "cap_attributes_over.xml": "<r" + "".join(f" a{i}=''" for i in range(5000)) + "/>",
    "cap_depth.xml": fill("<r>" + "<e>" * 46, "<e/>", "</e>" * 46 + "</r>"),
}
for name, text in docs.items():
    assert len(text) <= 70000, name
    with open(os.path.join(out, name), "w") as f:
        f.write(prefix + text)
PY
}
# Build once (release + debug assertions, so overflow checks are on while fuzzing).
cargo fuzz build -O --debug-assertions
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    cp -n seeds/"$t"/* "corpus/$t/" 2>/dev/null || true
    extra=()
    case "$t" in
        description | gateway_description)
            cap_seeds "corpus/$t"
            extra=(-dict=dicts/xml.dict)
            ;;
        soap_response)
            cap_seeds "corpus/$t" "A"
            extra=(-dict=dicts/xml.dict)
            ;;
    esac
    echo "== $t: ${secs} s"
    # -rss_limit_mb/-malloc_limit_mb: a parser that allocates without bound is a finding too.
    rc=0
    cargo fuzz run -O --debug-assertions "$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=70000 -len_control=0 -rss_limit_mb=1024 -malloc_limit_mb=256 \
        -timeout=2 -print_final_stats=1 "${extra[@]}" >"artifacts/$t/last-run.log" 2>&1 || rc=$?
    grep -E "^(Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb|new_units_added)|SUMMARY|==[0-9]+==ERROR)" "artifacts/$t/last-run.log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! $t failed (exit $rc): see fuzz/artifacts/$t/ and last-run.log" >&2
        status=1
    fi
done
exit $status
