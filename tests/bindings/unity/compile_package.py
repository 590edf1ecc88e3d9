#!/usr/bin/env python3
"""Compiles a Unity package's assemblies with mcs the way Unity would decide them, for one
simulated project (which Unity packages it has, which platform defines are set).

Usage: compile_package.py PACKAGE_DIR OUT_DIR STUB_DIR SCENARIO

For each .asmdef (its folder's .cs files, minus subfolders that have their own .asmdef):
version defines are set from the scenario's packages; an assembly whose define constraints are
not all set is left out, as Unity leaves it out; the others are compiled in dependency order
with -warnaserror, referencing only what their asmdef names (package assemblies built before,
or the stub of a Unity assembly) plus UnityEngine. A reference to an assembly that is neither
built nor stubbed fails the run. Prints which assemblies were built and which were left out.
"""
import json
import os
import re
import subprocess
import sys

# Each scenario: the Unity packages (name -> version) in the simulated project, and the
# scripting defines Unity would set.
EDITOR = ["UNITY_5_3_OR_NEWER", "UNITY_2019_4_OR_NEWER", "UNITY_EDITOR", "UNITY_STANDALONE"]
SCENARIOS = {
    # A project without any UI package (no com.unity.ugui, no TextMeshPro).
    "bare": ({}, EDITOR),
    # Unity 2019.4-2022: uGUI 1.0 and TextMeshPro 3.0 as separate packages.
    "ugui+tmp": ({"com.unity.ugui": "1.0.0", "com.unity.textmeshpro": "3.0.6"}, EDITOR),
    # uGUI without TextMeshPro.
    "ugui": ({"com.unity.ugui": "1.0.0"}, EDITOR),
    # Unity 6: TextMeshPro lives inside com.unity.ugui 2.0.
    "unity6": ({"com.unity.ugui": "2.0.0"}, EDITOR),
    # An iOS player (IL2CPP): the binding imports from __Internal.
    "ios-player": ({"com.unity.ugui": "1.0.0"}, ["UNITY_5_3_OR_NEWER", "UNITY_2019_4_OR_NEWER", "UNITY_IOS", "ENABLE_IL2CPP"]),
    # The package's own tests (Unity sets UNITY_INCLUDE_TESTS for a testable package).
    "tests": ({"com.unity.ugui": "1.0.0", "com.unity.test-framework": "1.1.33"},
              EDITOR + ["UNITY_INCLUDE_TESTS"]),
}
# Unity assemblies the stubs stand for: asmdef reference name -> stub dll, and the package that
# provides it in a project (None: always there once referenced, e.g. by the test framework).
UNITY_ASSEMBLIES = {
    "UnityEngine.UI": ("UnityEngine.UI.dll", ["com.unity.ugui"]),
    "Unity.TextMeshPro": ("Unity.TextMeshPro.dll", ["com.unity.textmeshpro", "com.unity.ugui>=2"]),
    "UnityEngine.TestRunner": ("UnityEngine.TestRunner.dll", ["com.unity.test-framework"]),
    "UnityEditor.TestRunner": ("UnityEditor.TestRunner.dll", ["com.unity.test-framework"]),
}
MCS = ["mcs", "-langversion:7.2", "-warnaserror", "-nologo", "-target:library"]


def version(text):
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def matches(expression, installed):
    """Unity's version define expressions: "1.0.0" (that or later), "[1.0,2.0)" and friends."""
    v = version(installed)
    expression = expression.strip()
    if not expression:
        return True
    if expression[0] not in "[(":
        return v >= version(expression)
    low, high = expression[1:-1].split(",")
    if low.strip():
        if v < version(low) or (expression[0] == "(" and v == version(low)):
            return False
    if high.strip():
        if v > version(high) or (expression[-1] == ")" and v == version(high)):
            return False
    return True


def provides(spec, packages):
    name, _, minimum = spec.partition(">=")
    return name in packages and (not minimum or version(packages[name]) >= version(minimum))


def main():
    package, out, stubs, scenario = sys.argv[1:5]
    packages, defines = SCENARIOS[scenario]
    asmdefs = {}
    for dirpath, dirnames, filenames in os.walk(package):
        for name in filenames:
            if name.endswith(".asmdef"):
                with open(os.path.join(dirpath, name), encoding="utf-8") as f:
                    asm = json.load(f)
                asmdefs[asm["name"]] = (dirpath, asm)
    owned = {d for d, _ in asmdefs.values()}

    def sources(root):
        found = []
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if os.path.join(dirpath, d) not in owned]
            found += [os.path.join(dirpath, n) for n in filenames if n.endswith(".cs")]
        return sorted(found)

    built, left_out = {}, []
    pending = dict(asmdefs)
    while pending:
        progress = False
        for name, (root, asm) in sorted(pending.items()):
            local = list(defines)
            for vd in asm.get("versionDefines", []):
                if vd["name"] in packages and matches(vd.get("expression", ""), packages[vd["name"]]):
                    local.append(vd["define"])
            if not all(c in local for c in asm.get("defineConstraints", [])):
                left_out.append(name)
                del pending[name]
                progress = True
                continue
            refs = asm.get("references", [])
            if any(r in pending for r in refs):
                continue  # build its package references first
            dlls = [os.path.join(stubs, "UnityEngine.dll")]
            for r in refs:
                if r in built:
                    dlls.append(built[r])
                elif r in UNITY_ASSEMBLIES:
                    dll, providers = UNITY_ASSEMBLIES[r]
                    if not any(provides(p, packages) for p in providers):
                        sys.exit("%s [%s]: references %s, which this project does not have "
                                 "(and no define constraint leaves the assembly out)" % (name, scenario, r))
                    dlls.append(os.path.join(stubs, dll))
                else:
                    sys.exit("%s [%s]: reference %s is not built (left out: %s)" % (name, scenario, r, left_out))
            if asm.get("overrideReferences"):
                dlls += [os.path.join(stubs, p) for p in asm.get("precompiledReferences", [])]
            target = os.path.join(out, name + ".dll")
            cmd = MCS + ["-out:" + target, "-r:System.dll", "-r:System.Core.dll"]
            cmd += ["-r:" + d for d in dlls] + ["-define:" + d for d in local]
            if asm.get("allowUnsafeCode"):
                cmd.append("-unsafe")
            files = sources(root)
            if not files:
                sys.exit("%s: no .cs files under %s" % (name, root))
            result = subprocess.run(cmd + files)
            if result.returncode != 0:
                sys.exit("%s [%s]: mcs failed" % (name, scenario))
            built[name] = target
            del pending[name]
            progress = True
        if not progress:
            sys.exit("[%s] reference cycle or unknown reference among %s" % (scenario, sorted(pending)))
    print("   %-11s built: %s; left out: %s" % (scenario, ", ".join(sorted(built)), ", ".join(sorted(left_out)) or "none"))


if __name__ == "__main__":
    main()
