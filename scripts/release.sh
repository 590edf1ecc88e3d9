#!/usr/bin/env bash
# Release binaries this machine can build, into dist/ (gitignored), staged into the Unity package
# (unity-sample/Plugins/, with its .meta files) and the Unreal plugin
# (bindings/unreal/ThirdParty/portopen/; both gitignored):
#   Linux x86_64    libportopen.so, libportopen.a, portopen (CLI)        rustup's cargo
#   Windows x86_64  portopen.dll, portopen.lib, libportopen.dll.a,       Debian's rustc + mingw
#                   libportopen.a, portopen.def, portopen.exe (CLI)      (scripts/windows_gnu.bash)
# Every other platform is built by the hosted-CI workflow .github/workflows/release.yml (macOS
# and Windows runners); the end of the output names the job for each.
#
# portopen.lib is for MSVC's link.exe (Unreal, a Visual Studio game); see windows_import_lib.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
# shellcheck source=scripts/windows_gnu.bash
source scripts/windows_gnu.bash

DIST=$ROOT/dist
UNREAL=$ROOT/bindings/unreal/ThirdParty/portopen
built=() missing=()

step() { echo "== $*"; }
fail() { echo "release: FAIL: $*" >&2; exit 1; }
# unity SLOT SRC: into the Unity package, by its own staging tool, which also writes the .meta
# files (import settings) a binary needs there (unity-sample/Tools~/stage-native.sh --list).
unity() {
  "$ROOT/unity-sample/Tools~/stage-native.sh" "$1" "$2" >/dev/null || fail "stage-native.sh $1 $2"
  built+=("unity-sample/Plugins: slot $1 (+ .meta)")
}
# put SRC DEST...: copy one built file to each destination path (directories made as needed).
put() {
  local src=$1 dest
  shift
  [[ -f $src ]] || fail "expected $src after the build"
  for dest in "$@"; do
    mkdir -p "$(dirname "$dest")"
    cp "$src" "$dest"
    built+=("${dest#"$ROOT"/}")
  done
}

step "Linux x86_64 (cargo build --locked --release --lib --bins)"
nice -n 10 cargo build --locked --release --lib --bins --quiet
linux=${CARGO_TARGET_DIR:-$ROOT/target}/release
put "$linux/libportopen.so" "$DIST/linux-x86_64/libportopen.so" "$UNREAL/lib/Linux/x86_64/libportopen.so"
unity linux-x86_64 "$DIST/linux-x86_64/libportopen.so"
put "$linux/libportopen.a" "$DIST/linux-x86_64/libportopen.a"
put "$linux/portopen" "$DIST/linux-x86_64/portopen"

step "Windows x86_64 via mingw ($WINDOWS_TARGET, std built from Debian's rust-web-src)"
windows_cargo build --locked --release --lib --bins --quiet
win=$(windows_out release)
windist=$DIST/windows-x86_64
put "$win/portopen.dll" "$windist/portopen.dll" "$UNREAL/lib/Win64/x64/portopen.dll"
unity windows-x86_64 "$windist/portopen.dll"
put "$win/libportopen.dll.a" "$windist/libportopen.dll.a"
put "$win/libportopen.a" "$windist/libportopen.a"
put "$win/portopen.exe" "$windist/portopen.exe"
windows_import_lib "$win/portopen.dll" "$windist" || fail "could not make portopen.def/portopen.lib"
built+=("${windist#"$ROOT"/}/portopen.def")
built+=("${windist#"$ROOT"/}/portopen.lib")
put "$windist/portopen.lib" "$UNREAL/lib/Win64/x64/portopen.lib"
# A game must not have to ship mingw's runtime DLLs: the build links them statically.
echo "   portopen.dll imports: $(windows_imports "$win/portopen.dll" | tr '\n' ' ')"
windows_imports_system_only "$win/portopen.dll" || fail "portopen.dll needs a DLL Windows does not ship"

step "headers"
put include/portopen.h "$DIST/include/portopen.h" "$UNREAL/include/portopen.h"
put bindings/cpp/portopen.hpp "$DIST/include/portopen.hpp" "$UNREAL/include/portopen.hpp"

missing+=(
  "Windows arm64 portopen.dll/.lib -> unity-sample/Plugins/Windows/arm64, bindings/unreal/ThirdParty/portopen/lib/Win64/arm64 (release.yml job windows-msvc, aarch64-pc-windows-msvc)"
  "Windows x64 MSVC build (release.yml job windows-msvc, x86_64-pc-windows-msvc; replaces the mingw DLL in a CI release)"
  "macOS universal libportopen.dylib -> unity-sample/Plugins/macOS, bindings/unreal/ThirdParty/portopen/lib/Mac (release.yml job apple: x86_64 + aarch64-apple-darwin, lipo)"
  "iOS libportopen.a + PortOpen.xcframework -> unity-sample/Plugins/iOS, bindings/unreal/ThirdParty/portopen/lib/IOS (release.yml job apple: aarch64-apple-ios, aarch64-apple-ios-sim)"
  "Android libportopen.so/.a per ABI arm64-v8a armeabi-v7a x86_64 -> unity-sample/Plugins/Android, bindings/unreal/ThirdParty/portopen/lib/Android (release.yml job android, cargo-ndk, 16 KB pages)"
  "Linux aarch64 (release.yml job linux, aarch64-unknown-linux-gnu)"
)

echo
echo "built here:"
printf '  %s\n' "${built[@]}"
echo "not built here (needs a macOS/Windows/NDK runner: .github/workflows/release.yml):"
printf '  %s\n' "${missing[@]}"
