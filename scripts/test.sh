#!/usr/bin/env bash
# Every test, on a fresh Debian 12 machine (as root): installs prerequisites, then runs the
# unit and fault tests, the real-router lab tests (miniupnpd in network namespaces), the
# header and C API tests (gcc + valgrind), and the C# and C++ binding tests.
# Lab tests are #[ignore]d in a plain `cargo test` (they need root and the lab); here they run.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/prereqs.sh

# Labs of this run share a prefix; whatever happens, they are torn down at exit.
# Ends in a letter, so one run's prefix is never the start of another's (r12 vs r123).
export PORTOPEN_LAB_PREFIX="r$(( $$ % 1000 ))p"
trap 'tests/lab/lab.sh down-all "$PORTOPEN_LAB_PREFIX" >/dev/null 2>&1 || true' EXIT

echo "== cargo build (debug: lib, cdylib, CLI)"
export PORTOPEN_CHECK_HEADER=1  # the committed header must match a fresh one (tests/header.rs)
cargo build --quiet --all-targets
# Every other platform a game ships on (Windows, macOS, iOS, Android, Linux ARM): type-checked.
scripts/xcheck.sh

echo "== cargo test (unit, fault suite, header, C API, lab tests)"
# Two test threads: each lab test builds its own lab; the machine has two cores.
cargo test --quiet -- --include-ignored --test-threads 2

echo "== release hygiene: rustdoc with warnings denied, crate package contents, cargo package"
RUSTDOCFLAGS="-D warnings" cargo doc --quiet --no-deps --lib
# The crate package is for Rust users: no tests, lab, bindings, engine packages, scripts or fuzzing.
if cargo package --quiet --list --allow-dirty | grep -E '^(tests|bindings|unity-sample|scripts|fuzz|cli|\.ci)/'; then
  echo "cargo package would ship the files above" >&2; exit 1
fi
cargo package --quiet --allow-dirty  # builds the packaged crate on its own: what crates.io users get

for t in tests/bindings/*.sh; do
  [[ -e "$t" ]] || continue
  echo "== $t"
  "$t"
done
echo "== all tests passed"
