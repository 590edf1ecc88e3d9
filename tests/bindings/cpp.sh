#!/usr/bin/env bash
# The C++ binding (bindings/cpp/portopen.hpp): tests/bindings/cpp/*.cpp compiled with strict
# flags and exceptions/RTTI off, then run plainly and under valgrind:
#   misuse.cpp  moved-from objects, bad arguments, cancel (loopback unicast only);
#   lab.cpp     in a real-router lab: open UDP on both families, reachable from wan, the
#               Lease's destructor closes it, unreachable and no rule left.
# Needs root, the lab packages, g++ and valgrind (scripts/prereqs.sh). Run after `cargo build`.
set -euo pipefail
source "$(dirname "$0")/lab_flow.bash"

build_library
CXXFLAGS=(-std=c++17 -Wall -Wextra -Werror -pedantic -fno-exceptions -fno-rtti -g)

echo "-- compile (g++ ${CXXFLAGS[*]})"
for src in "$ROOT"/tests/bindings/cpp/*.cpp; do
  name=$(basename "$src" .cpp)
  g++ "${CXXFLAGS[@]}" -I "$ROOT/include" -I "$ROOT/bindings/cpp" -I "$ROOT/tests/bindings/cpp" \
    "$src" -o "$WORK/$name" -L "$LIB_DIR" -lportopen -Wl,-rpath,"$LIB_DIR" -pthread ||
    fail "g++ failed on $src"
  echo "    $name"
done

echo "-- misuse (no network but 127.0.0.1 unicast)"
run_checked "$WORK/misuse.log" "$WORK/misuse"
grep 'checks, ' "$WORK/misuse.log" | sed 's/^/    /'
PORTOPEN_TEST_TIME_SCALE=20 run_checked "$WORK/misuse-vg.log" "${VALGRIND[@]}" "$WORK/misuse"
echo "    under valgrind:"; valgrind_summary "$WORK/misuse-vg.log"

lab_up "${PORTOPEN_LAB_PREFIX:-c}cpp$$"
echo "-- lab $LAB_NAME: open, reachable, Lease destructor, unreachable"
lab_flow lab 46000 "$WORK/lab"
echo "-- lab $LAB_NAME under valgrind"
PORTOPEN_TEST_TIME_SCALE=20 lab_flow lab-vg 46001 "$WORK/lab" "${VALGRIND[@]}"
valgrind_summary "$WORK/lab-vg.log"
echo "cpp binding: all passed"
