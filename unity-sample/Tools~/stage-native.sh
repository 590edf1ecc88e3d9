#!/usr/bin/env bash
# Stages one native portopen library into the package's Plugins/ folder, with the .meta files
# Unity needs: the binary's import settings (which platforms and CPU load it) and one per folder.
#
#   stage-native.sh SLOT BINARY [PACKAGE_DIR]   copy BINARY into the slot (PACKAGE_DIR: this package)
#   stage-native.sh --list                      the slot names
#
# Why the .meta files are written here and not committed: the binaries are not in git, and a
# .meta whose asset is absent is an error to Unity's package validation and a warning on every
# import of an installed (immutable) package. So a slot's .meta exists exactly when its binary
# does. GUIDs are fixed here, so every release stages the same ones. The release script calls
# this for each library it built; a studio building its own libraries can too (PACKAGE_DIR may
# also be a folder under the project's Assets/).
# This folder ends in "~": Unity ignores it, so it needs no .meta of its own.
set -euo pipefail

# slot | path under Plugins/ | binary GUID | editor OS | editor CPU | platform | platform CPU
SLOTS='
windows-x86_64|Windows/x86_64/portopen.dll|c00a04fb8edc43aeb23236b6c81ef4a6|Windows|x86_64|Win64|x86_64
windows-arm64|Windows/arm64/portopen.dll|1b098edb39ca406689d1601913f6f45b|Windows|ARM64|Win64|ARM64
linux-x86_64|Linux/x86_64/libportopen.so|4d5db441b99d40f6999a9c0515ad0e6f|Linux|x86_64|Linux64|x86_64
macos|macOS/libportopen.dylib|33302aae86f94699b5137ad4b464bcab|OSX|AnyCPU|OSXUniversal|AnyCPU
android-arm64-v8a|Android/arm64-v8a/libportopen.so|cef60db4248d4bcf880f28617f9f2fc4|-|-|Android|ARM64
android-armeabi-v7a|Android/armeabi-v7a/libportopen.so|a1910c1d71a445d1a59538500005feea|-|-|Android|ARMv7
android-x86_64|Android/x86_64/libportopen.so|89a89e65573347a18d62db2ed9eb116b|-|-|Android|X86_64
ios|iOS/libportopen.a|b792e38fb79c4c3cb410f3c223be010c|-|-|iOS|ARM64
'
# folder under Plugins/ | GUID
FOLDERS='
Windows|461bb74215844ad1b0da2ed8a352c805
Windows/x86_64|86675bbcfe46433db6f404214026b3cc
Windows/arm64|cecadb960d964391871ed74d64dabaf0
Linux|0e8086eec60548dead6a734541fc68dc
Linux/x86_64|47f9593d59af4900bb01da6ff6d9feba
macOS|1d1fddca9f6b4db89029ff33c0754a89
Android|fa24201e41434d9a80c5cd60cc96ecd4
Android/arm64-v8a|57c332ce87e6440ca140418558231e62
Android/armeabi-v7a|1082ab7f303b48fd89fe17ffdc81857b
Android/x86_64|ee2c1837948745cdb9adc57187526f57
iOS|ddcf2e4dcbe44c3b833a00e8b25b4315
'

usage() {
  echo "usage: $0 SLOT BINARY [PACKAGE_DIR] | --list" >&2
  exit 2
}

if [[ "${1:-}" == "--list" ]]; then
  awk -F'|' 'NF { print $1 }' <<<"$SLOTS"
  exit 0
fi
[[ $# -ge 2 && $# -le 3 ]] || usage
SLOT=$1 BINARY=$2
PACKAGE=${3:-$(cd "$(dirname "$0")/.." && pwd)}
[[ -f "$BINARY" ]] || { echo "$0: no file $BINARY" >&2; exit 1; }
LINE=$(awk -F'|' -v s="$SLOT" '$1 == s' <<<"$SLOTS")
[[ -n "$LINE" ]] || { echo "$0: unknown slot $SLOT (--list shows them)" >&2; exit 1; }
IFS='|' read -r _ REL GUID EDITOR_OS EDITOR_CPU PLATFORM CPU <<<"$LINE"

folder_meta() { # $1 GUID
  printf 'fileFormatVersion: 2\nguid: %s\nfolderAsset: yes\nDefaultImporter:\n  externalObjects: {}\n  userData: \n  assetBundleName: \n  assetBundleVariant: \n' "$1"
}

# One platformData entry: $1 "first" key line, $2 enabled (0/1), then settings lines.
entry() {
  local first=$1 enabled=$2
  shift 2
  printf '  - first:\n      %s\n    second:\n      enabled: %s\n      settings:' "$first" "$enabled"
  if [[ $# -eq 0 ]]; then
    printf ' {}\n'
    return
  fi
  printf '\n'
  local setting
  for setting in "$@"; do printf '        %s\n' "$setting"; done
}

on() { [[ "$PLATFORM" == "$1" ]] && echo 1 || echo 0; }
cpu() { [[ "$PLATFORM" == "$1" ]] && echo "$CPU" || echo "${2:-None}"; }
excluded() { [[ "$PLATFORM" == "$1" || ( "$1" == Editor && "$EDITOR_OS" != - ) ]] && echo 0 || echo 1; }

# The binary's import settings, in the PluginImporter layout Unity writes (serializedVersion 2).
# Editor: only the editor of the same OS and CPU loads it (two portopen.dll for Windows x64 and
# ARM64 must never both be enabled for one editor). Players: exactly its platform and CPU.
plugin_meta() {
  local editor_on=0 editor_os=AnyOS editor_cpu=AnyCPU
  if [[ "$EDITOR_OS" != - ]]; then editor_on=1 editor_os=$EDITOR_OS editor_cpu=$EDITOR_CPU; fi
  printf 'fileFormatVersion: 2\nguid: %s\nPluginImporter:\n' "$GUID"
  printf '  externalObjects: {}\n  serializedVersion: 2\n  iconMap: {}\n  executionOrder: {}\n'
  printf '  defineConstraints: []\n  isPreloaded: 0\n  isOverridable: 0\n  isExplicitlyReferenced: 0\n'
  printf '  validateReferences: 1\n  platformData:\n'
  entry ': Any' 0 "Exclude Android: $(excluded Android)" "Exclude Editor: $(excluded Editor)" \
    "Exclude Linux64: $(excluded Linux64)" "Exclude OSXUniversal: $(excluded OSXUniversal)" \
    "Exclude WebGL: 1" "Exclude Win: 1" "Exclude Win64: $(excluded Win64)" "Exclude iOS: $(excluded iOS)"
  entry 'Android: Android' "$(on Android)" "CPU: $(cpu Android ARMv7)"
  entry 'Any: ' 0
  entry 'Editor: Editor' "$editor_on" "CPU: $editor_cpu" "DefaultValueInitialized: true" "OS: $editor_os"
  entry 'Standalone: Linux64' "$(on Linux64)" "CPU: $(cpu Linux64)"
  entry 'Standalone: OSXUniversal' "$(on OSXUniversal)" "CPU: $(cpu OSXUniversal)"
  entry 'Standalone: Win' 0 "CPU: None"
  entry 'Standalone: Win64' "$(on Win64)" "CPU: $(cpu Win64)"
  # iOS: the static library is linked into the player; the C# imports from "__Internal".
  entry 'iPhone: iOS' "$(on iOS)" "AddToEmbeddedBinaries: false" "CPU: $(cpu iOS AnyCPU)" "CompileFlags: " "FrameworkDependencies: "
  printf '  userData: \n  assetBundleName: \n  assetBundleVariant: \n'
}

TARGET="$PACKAGE/Plugins/$REL"
mkdir -p "$(dirname "$TARGET")"
# A .meta for each folder between Plugins/ and the binary (Plugins/ itself is committed).
dir=$(dirname "$REL")
while [[ "$dir" != . ]]; do
  folder_guid=$(awk -F'|' -v d="$dir" '$1 == d { print $2 }' <<<"$FOLDERS")
  [[ -n "$folder_guid" ]] || { echo "$0: no GUID for folder $dir" >&2; exit 1; }
  folder_meta "$folder_guid" >"$PACKAGE/Plugins/$dir.meta"
  dir=$(dirname "$dir")
done
cp "$BINARY" "$TARGET"
plugin_meta >"$TARGET.meta"
echo "staged $BINARY as $TARGET (+ .meta)"
