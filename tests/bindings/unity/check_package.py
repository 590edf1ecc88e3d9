#!/usr/bin/env python3
"""Checks an extracted Unity package (UPM) as Unity would read it when installed by git URL or
tarball, where the package folder is immutable and a file without a committed .meta is ignored.

Usage: check_package.py PACKAGE_DIR CARGO_TOML

Fails (exit 1, one line per problem) on: a symbolic link; a file or folder without its .meta; a
.meta without its asset; a .meta that is malformed or whose GUID another asset also has; an asmdef
reference that names neither an asmdef of the package nor a Unity assembly; a runtime binding
asmdef with references; package.json fields missing, or its version not the crate's; a sample
path that does not exist; a scene or prefab whose script GUID is in no script of the package; a
native binary without PluginImporter settings.
"""
import json
import os
import re
import sys

# Assemblies a Unity project may have that this package may name in an asmdef (by name).
UNITY_ASSEMBLIES = {
    "UnityEngine.UI",  # com.unity.ugui
    "Unity.TextMeshPro",  # com.unity.textmeshpro, or com.unity.ugui 2.x
    "UnityEngine.TestRunner",  # com.unity.test-framework
    "UnityEditor.TestRunner",
}
REQUIRED_FIELDS = ("name", "version", "displayName", "unity", "author", "repository",
                   "description", "keywords", "samples", "license")
NATIVE_SUFFIXES = (".dll", ".so", ".dylib", ".a", ".bundle")
GUID = re.compile(r"^guid: ([0-9a-f]{32})$", re.M)
SCRIPT_REF = re.compile(r"m_Script: \{fileID: 11500000, guid: ([0-9a-f]{32}), type: 3\}")

problems = []


def problem(text):
    problems.append(text)


def hidden(name):
    """Names Unity's asset database skips (no .meta expected)."""
    return name.startswith(".") or name.endswith("~") or name.lower() == "cvs" or name.endswith(".tmp")


def walk(root):
    """Yields (relative path, is_dir) for every asset Unity imports, Samples~ included: its
    contents are copied into Assets/ by the Package Manager, metas and all."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in list(dirnames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                problem("symbolic link: " + os.path.relpath(path, root))
        keep = []
        for name in dirnames:
            if rel_dir == "." and name == "Samples~":
                keep.append(name)  # walked, but the folder itself needs no .meta
            elif not hidden(name):
                keep.append(name)
        dirnames[:] = keep
        for name in dirnames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel != "Samples~":
                yield rel, True
        for name in filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(path):
                problem("symbolic link: " + rel)
            if hidden(name) or name.endswith(".meta"):
                continue
            yield rel, False


def check_metas(root):
    assets = dict(walk(root))
    guids = {}
    for rel, is_dir in sorted(assets.items()):
        meta = os.path.join(root, rel + ".meta")
        if not os.path.isfile(meta):
            problem("no .meta for " + ("folder " if is_dir else "") + rel)
            continue
        with open(meta, encoding="utf-8") as f:
            text = f.read()
        found = GUID.search(text)
        if not text.startswith("fileFormatVersion: 2\n") or not found:
            problem("malformed .meta (fileFormatVersion 2 and a 32-hex guid expected): " + rel + ".meta")
            continue
        if is_dir and "folderAsset: yes" not in text:
            problem("folder .meta without 'folderAsset: yes': " + rel + ".meta")
        guid = found.group(1)
        if guid in guids:
            problem("guid %s of %s is also the guid of %s" % (guid, rel, guids[guid]))
        guids[guid] = rel
        if rel.endswith(NATIVE_SUFFIXES) and "PluginImporter:" not in text:
            problem("native binary without PluginImporter settings: " + rel + ".meta")
    # Every .meta Unity would read must have its asset: an orphan is "useless" to Unity's
    # package validation, and in an immutable package Unity warns about it on every import.
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = [d for d in dirnames if not hidden(d) or (rel_dir == "." and d == "Samples~")]
        for name in filenames:
            if name.endswith(".meta"):
                asset = os.path.normpath(os.path.join(rel_dir, name[: -len(".meta")]))
                if asset not in assets:
                    problem(".meta without its asset: " + asset + ".meta")
    return assets, guids


def check_asmdefs(root, assets, guids):
    asmdefs = {}
    for rel in assets:
        if rel.endswith(".asmdef"):
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                try:
                    asmdefs[rel] = json.load(f)
                except ValueError as e:
                    problem("asmdef is not JSON: %s: %s" % (rel, e))
    if not asmdefs:
        problem("no .asmdef in the package")
    names = {}
    for rel, asm in asmdefs.items():
        name = asm.get("name")
        if not name:
            problem("asmdef without a name: " + rel)
        elif name in names:
            problem("assembly name %s is defined by %s and %s" % (name, names[name], rel))
        names[name] = rel
    guid_of = {}
    for guid, rel in guids.items():
        if rel.endswith(".asmdef"):
            guid_of[guid] = asmdefs.get(rel, {}).get("name")
    for rel, asm in asmdefs.items():
        for ref in asm.get("references", []):
            if ref.startswith("GUID:"):
                if ref[5:] not in guid_of:
                    problem("%s: reference %s is no asmdef of the package" % (rel, ref))
            elif ref not in names and ref not in UNITY_ASSEMBLIES:
                problem("%s: reference %s is neither an asmdef of the package nor a known Unity assembly" % (rel, ref))
        for define in asm.get("versionDefines", []):
            if not define.get("name") or not define.get("define") or "expression" not in define:
                problem("%s: versionDefine needs name, expression and define: %s" % (rel, define))
    binding = [a for a in asmdefs.values() if a.get("name") == "PortOpen"]
    if len(binding) != 1:
        problem("no single asmdef named PortOpen (the binding)")
    elif binding[0].get("references"):
        problem("the binding's asmdef (PortOpen) must reference nothing, has %s" % binding[0]["references"])


def check_package_json(root, cargo_toml):
    try:
        with open(os.path.join(root, "package.json"), encoding="utf-8") as f:
            package = json.load(f)
    except (OSError, ValueError) as e:
        problem("package.json: %s" % e)
        return
    for field in REQUIRED_FIELDS:
        if not package.get(field):
            problem("package.json: no " + field)
    with open(cargo_toml, encoding="utf-8") as f:
        crate = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    if package.get("version") != crate:
        problem("package.json version %s is not the crate's %s" % (package.get("version"), crate))
    for sample in package.get("samples", []):
        path = sample.get("path", "")
        if not sample.get("displayName") or not sample.get("description"):
            problem("sample %s: displayName and description expected" % path)
        if not path.startswith("Samples~/") or not os.path.isdir(os.path.join(root, path)):
            problem("sample path does not exist under Samples~/: " + path)


def check_script_references(root, assets, guids):
    """Scenes and prefabs name their MonoBehaviours by the script's GUID: a wrong one is a
    'missing script' in the sample."""
    scripts = {g for g, rel in guids.items() if rel.endswith(".cs")}
    for rel in assets:
        if rel.endswith((".unity", ".prefab")):
            with open(os.path.join(root, rel), encoding="utf-8") as f:
                refs = SCRIPT_REF.findall(f.read())
            if not refs:
                problem("%s uses no script of the package" % rel)
            for guid in refs:
                if guid not in scripts:
                    problem("%s: script guid %s is no script of the package" % (rel, guid))


def main():
    root, cargo_toml = sys.argv[1], sys.argv[2]
    assets, guids = check_metas(root)
    check_asmdefs(root, assets, guids)
    check_package_json(root, cargo_toml)
    check_script_references(root, assets, guids)
    for text in problems:
        print("  " + text)
    if problems:
        print("%d problem(s) in the package at %s" % (len(problems), root))
        return 1
    print("package ok: %d assets, every one with a .meta, %d unique guids" % (len(assets), len(guids)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
