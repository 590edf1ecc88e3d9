#!/usr/bin/env python3
"""Checks the import settings of every native library staged in a Unity package's Plugins/.

Usage: check_plugins.py PACKAGE_DIR

Each slot must be enabled for exactly its platform and CPU (and, for desktop libraries, for the
editor of the same OS and CPU), every slot must be present, no two enabled libraries may load
under one name for the same platform and CPU, and the iOS static library needs the binding to
import from __Internal on iOS players.
"""
import os
import re
import sys

# path under Plugins/ -> (editor (OS, CPU) or None, player platform key, player CPU)
EXPECTED = {
    "Windows/x86_64/portopen.dll": (("Windows", "x86_64"), "Standalone: Win64", "x86_64"),
    "Windows/arm64/portopen.dll": (("Windows", "ARM64"), "Standalone: Win64", "ARM64"),
    "Linux/x86_64/libportopen.so": (("Linux", "x86_64"), "Standalone: Linux64", "x86_64"),
    "macOS/libportopen.dylib": (("OSX", "AnyCPU"), "Standalone: OSXUniversal", "AnyCPU"),
    "Android/arm64-v8a/libportopen.so": (None, "Android: Android", "ARM64"),
    "Android/armeabi-v7a/libportopen.so": (None, "Android: Android", "ARMv7"),
    "Android/x86_64/libportopen.so": (None, "Android: Android", "X86_64"),
    "iOS/libportopen.a": (None, "iPhone: iOS", "ARM64"),
}
PLAYER_KEYS = ["Standalone: Win64", "Standalone: Win", "Standalone: Linux64", "Standalone: OSXUniversal",
               "Android: Android", "iPhone: iOS"]


def platform_data(text):
    """{first key: (enabled, {setting: value})} from a PluginImporter .meta."""
    entries = {}
    for block in re.split(r"\n  - first:\n", text.split("platformData:", 1)[1])[1:]:
        lines = block.split("\n")
        key = lines[0].strip()
        enabled = re.search(r"enabled: (\d)", block).group(1) == "1"
        settings = dict(re.findall(r"^        ([A-Za-z ]+): ?(.*)$", block, re.M))
        entries[key] = (enabled, settings)
    return entries


def main():
    root = os.path.join(sys.argv[1], "Plugins")
    problems = []
    loaders = {}  # (file name, platform, CPU) -> path
    for rel, (editor, player, cpu) in sorted(EXPECTED.items()):
        meta = os.path.join(root, rel + ".meta")
        if not os.path.isfile(os.path.join(root, rel)) or not os.path.isfile(meta):
            problems.append("slot not staged: " + rel)
            continue
        with open(meta, encoding="utf-8") as f:
            data = platform_data(f.read())
        on, settings = data.get("Editor: Editor", (False, {}))
        if editor is None and on:
            problems.append("%s: enabled in the editor, which cannot load it" % rel)
        if editor is not None and (not on or (settings.get("OS"), settings.get("CPU")) != editor):
            problems.append("%s: editor should be %s/%s, is %s %s/%s" % (
                rel, editor[0], editor[1], "on" if on else "off", settings.get("OS"), settings.get("CPU")))
        if on:
            loaders.setdefault((os.path.basename(rel), "Editor", settings.get("OS"), settings.get("CPU")), []).append(rel)
        for key in PLAYER_KEYS:
            on, settings = data.get(key, (False, {}))
            if key == player:
                if not on or settings.get("CPU") != cpu:
                    problems.append("%s: %s should be on with CPU %s, is %s CPU %s" % (
                        rel, key, cpu, "on" if on else "off", settings.get("CPU")))
            elif on:
                problems.append("%s: also enabled for %s" % (rel, key))
            if on:
                loaders.setdefault((os.path.basename(rel), key, settings.get("CPU")), []).append(rel)
    for where, paths in loaders.items():
        if len(paths) > 1:
            problems.append("two libraries load as %s for %s: %s" % (where[0], where[1:], paths))
    binding = os.path.join(sys.argv[1], "Runtime", "Binding", "NativeMethods.cs")
    with open(binding, encoding="utf-8") as f:
        source = f.read()
    if not re.search(r'#if UNITY_IOS && !UNITY_EDITOR\s+(//[^\n]*\n\s*)*internal const string Library = "__Internal";', source):
        problems.append("the binding does not import from __Internal on iOS players (the iOS slot is a static library)")
    for p in problems:
        print("  " + p)
    if problems:
        print("%d problem(s) in the plugins' import settings" % len(problems))
        return 1
    print("plugins ok: %d slots, each enabled for its platform and CPU only" % len(EXPECTED))
    return 0


if __name__ == "__main__":
    sys.exit(main())
