#!/usr/bin/env bash
# Install what the demo and the tests need on Debian 12, only what is missing.
# Sourced or run by scripts/demo.sh, scripts/test.sh and scripts/xcheck.sh; needs root (apt-get).
set -euo pipefail

PACKAGES=(
  miniupnpd-nftables nftables iproute2 miniupnpc python3   # the real-router lab
  dpkg-dev make pkg-config libnftnl-dev libmnl-dev libssl-dev uuid-dev  # lab routers built from
                                                           # Debian's source (tests/lab/build-miniupnpd.sh)
  gcc g++ valgrind                                         # C and C++ API tests
  mono-mcs mono-runtime                                    # C# binding tests (Unity's runtime)
  rustc-web cargo-web rust-web-src libstd-rust-web-dev     # scripts/xcheck.sh: std source for every target
  clang patchelf g++-mingw-w64-x86-64-posix wine wine64    # Unreal plugin against the mock engine
  # The Windows build and its tests under Wine (tests/bindings/windows.sh, scripts/release.sh):
  # mingw gcc, llvm-dlltool (portopen.lib); Wine and Debian's Rust are on the lines above.
  gcc-mingw-w64-x86-64 llvm
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm packs the Unity package as a tarball (tests/bindings/unity_package.sh): any npm will do,
# Debian's or one that came with another Node.js install.
command -v npm >/dev/null || missing+=(npm)
if ((${#missing[@]})); then
  [[ $EUID -eq 0 ]] || { echo "prereqs: must run as root to install: ${missing[*]}" >&2; exit 1; }
  echo "prereqs: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "prereqs: cargo (Rust toolchain) not found" >&2; exit 1; }
