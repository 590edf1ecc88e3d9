#!/usr/bin/env bash
# The Unity package's assemblies compile as Unity would build them (run by scripts/test.sh;
# needs mono-mcs and python3; no Unity here). Stubs of the UnityEngine, uGUI, TextMeshPro and
# test framework types the package uses (tests/bindings/unity/*Stub.cs) stand in for Unity's;
# tests/bindings/unity/compile_package.py reads the asmdefs and compiles each assembly with
# -warnaserror for each simulated project: no UI package, uGUI, uGUI + TextMeshPro, Unity 6
# (TextMeshPro inside uGUI 2.0), an iOS player (__Internal), and the package's tests. The sample
# (Samples~) is compiled with the package, as the Package Manager imports it into Assets/.
# What this proves: the sources type-check against Unity's API as declared in the stubs, the
# asmdef references and define constraints hold together in each project. What it does not: that
# anything runs in the Unity editor or a player.
set -euo pipefail
cd "$(dirname "$0")/../.."

WORK=$(mktemp -d /tmp/portopen-unity-compile.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
STUBS=tests/bindings/unity
MCS=(mcs -langversion:7.2 -warnaserror -nologo -target:library)

echo "-- stubs"
"${MCS[@]}" -out:"$WORK/UnityEngine.dll" "$STUBS/UnityEngineStub.cs"
"${MCS[@]}" -r:"$WORK/UnityEngine.dll" -out:"$WORK/UnityEngine.UI.dll" "$STUBS/UnityEngineUIStub.cs"
"${MCS[@]}" -r:"$WORK/UnityEngine.dll" -out:"$WORK/Unity.TextMeshPro.dll" "$STUBS/TextMeshProStub.cs"
"${MCS[@]}" -define:NUNIT_STUB -out:"$WORK/nunit.framework.dll" "$STUBS/TestRunnerStub.cs"
"${MCS[@]}" -out:"$WORK/UnityEngine.TestRunner.dll" "$STUBS/TestRunnerStub.cs"
echo 'namespace UnityEditor.TestRunner { }' >"$WORK/EditorTestRunnerStub.cs" # referenced, nothing used
"${MCS[@]}" -out:"$WORK/UnityEditor.TestRunner.dll" "$WORK/EditorTestRunnerStub.cs"

echo "-- package assemblies, per simulated project"
for scenario in bare ugui ugui+tmp unity6 ios-player tests; do
  mkdir -p "$WORK/$scenario"
  python3 "$STUBS/compile_package.py" unity-sample "$WORK/$scenario" "$WORK" "$scenario"
done
echo "-- unity compile: all passed"
