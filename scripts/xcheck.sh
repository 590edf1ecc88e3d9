#!/usr/bin/env bash
# Type-check the library, the CLI and the test code for every platform a game ships on, with no
# warning allowed. Nothing is linked or run: this proves the code for other OSes compiles, not
# that it works (see the README's platform table for what ran where).
#
# Toolchain: Debian's rustc-web/cargo-web (1.96) with the std source, because rustup cannot fetch
# targets on this machine. `-Zbuild-std` checks std itself for each target (RUSTC_BOOTSTRAP=1
# unlocks the flag on a stable compiler). All targets go to one cargo invocation so both cores
# stay busy. The target dir lives outside the clone, keyed by the toolchain version, so a second
# run on the same machine re-checks only this crate.
#
#   scripts/xcheck.sh                      every target below
#   scripts/xcheck.sh x86_64-pc-windows-msvc ...   only these
# PORTOPEN_XCHECK_CACHE overrides the cache root (default /var/cache/portopen-xcheck).
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(
  x86_64-pc-windows-msvc aarch64-pc-windows-msvc             # Windows (the MSVC ABI games ship)
  x86_64-apple-darwin aarch64-apple-darwin                   # macOS
  aarch64-apple-ios aarch64-apple-ios-sim                    # iOS device and simulator
  aarch64-linux-android armv7-linux-androideabi x86_64-linux-android  # Android ABIs
  aarch64-unknown-linux-gnu                                  # Linux on ARM
  # An OS with no platform code of its own (src/platform/mod.rs falls back, logged): the path a
  # console port starts from. FreeBSD because its std builds here; no console target does.
  x86_64-unknown-freebsd
)
(($#)) && TARGETS=("$@")

scripts/prereqs.sh

# Debian's toolchain, never rustup's proxies (which sit first in PATH on a developer machine).
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
export RUSTC=/usr/bin/rustc CARGO=/usr/bin/cargo RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Dwarnings" RUSTDOCFLAGS="-Dwarnings"
unset RUSTC_WRAPPER CARGO_BUILD_TARGET CARGO_TARGET_DIR

version=$(rustc -V | awk '{print $2 "-" $3}' | tr -d '(')   # e.g. 1.96.0-ac68faa20
cache="${PORTOPEN_XCHECK_CACHE:-/var/cache/portopen-xcheck}"
mkdir -p "$cache/cargo-home" "$cache/$version"
# A CARGO_HOME of its own: Debian's cargo must not share rustup's registry cache or config.
export CARGO_HOME="$cache/cargo-home"

args=()
for t in "${TARGETS[@]}"; do args+=(--target "$t"); done

started=$SECONDS
echo "xcheck: ${#TARGETS[@]} target(s) with $(rustc -V); cache $cache/$version"
# --all-targets: lib, CLI, unit tests, integration tests (Linux-only ones are cfg-gated out).
nice -n 10 cargo check --quiet --locked -Zbuild-std=std,panic_unwind --target-dir "$cache/$version" --all-targets "${args[@]}"
echo "xcheck: all clean in $((SECONDS - started)) s"
