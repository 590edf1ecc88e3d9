#!/usr/bin/env bash
# The Unity package as a studio installs it (run by scripts/test.sh; needs npm, python3, tar):
#   1. no symbolic link in unity-sample/ (a Windows checkout or `npm pack` loses what it points to);
#   2. `npm pack` of unity-sample/ (as git has it) holds every one of its files (nothing dropped);
#   3. the unpacked tarball passes tests/bindings/unity/check_package.py: a .meta for every file
#      and folder, no .meta without its asset, unique GUIDs, asmdef references that resolve,
#      package.json complete with the crate's version, samples that exist, scene scripts found;
#   4. the same after staging a native binary into every Plugins/ slot with the package's own
#      staging script (what the release does), and each binary's import settings are its
#      platform's (tests/bindings/unity/check_plugins.py).
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=$(mktemp -d /tmp/portopen-unity-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() {
  echo "unity_package.sh: FAIL: $*" >&2
  exit 1
}
export npm_config_cache="$WORK/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false

# Packs directory $1 into $2/package (the tarball's top folder is "package").
pack() {
  local tarball
  tarball=$(cd "$1" && npm pack --offline --ignore-scripts --silent --pack-destination "$2")
  tar -xzf "$2/$tarball" -C "$2"
  [[ -d "$2/package" ]] || fail "npm pack of $1 made no package/ folder"
}

echo "-- no symbolic links"
links=$(find unity-sample -type l)
[[ -z "$links" ]] || fail "symbolic links in the package: $links"

# The package as git has it (tracked and new files; not the gitignored libraries a release staged
# into Plugins/ here), copied out so that local staging cannot change the verdict.
echo "-- npm pack holds every file of the package"
SOURCES=$(git ls-files --cached --others --exclude-standard unity-sample)
mkdir "$WORK/src" "$WORK/plain"
while IFS= read -r f; do
  [[ -e "$f" ]] || continue # deleted in the work tree, not yet in the index
  mkdir -p "$WORK/src/$(dirname "$f")"
  cp -P "$f" "$WORK/src/$f"
done <<<"$SOURCES"
pack "$WORK/src/unity-sample" "$WORK/plain"
missing=0
while IFS= read -r f; do
  if [[ -e "$f" && ! -e "$WORK/plain/package/${f#unity-sample/}" ]]; then
    echo "   not in the tarball: $f"
    missing=1
  fi
done <<<"$SOURCES"
[[ $missing -eq 0 ]] || fail "npm pack dropped files of the package"

echo "-- package check (as committed)"
python3 tests/bindings/unity/check_package.py "$WORK/plain/package" Cargo.toml || fail "package check"

echo "-- package check with a binary staged in every Plugins/ slot"
cp -r "$WORK/src/unity-sample" "$WORK/staged-src"
printf 'not a real library: staging test\n' >"$WORK/fake-binary"
STAGE="$WORK/staged-src/Tools~/stage-native.sh"
[[ -x "$STAGE" ]] || fail "no staging script at unity-sample/Tools~/stage-native.sh"
for slot in $("$STAGE" --list); do
  "$STAGE" "$slot" "$WORK/fake-binary" "$WORK/staged-src" >/dev/null
done
mkdir "$WORK/staged"
pack "$WORK/staged-src" "$WORK/staged"
python3 tests/bindings/unity/check_package.py "$WORK/staged/package" Cargo.toml || fail "package check (staged)"
python3 tests/bindings/unity/check_plugins.py "$WORK/staged/package" || fail "plugin import settings"
echo "-- unity package: all passed"
