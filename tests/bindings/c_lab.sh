#!/usr/bin/env bash
# The C API against the real router (tests/c/lab.c, gcc -std=c11 strict): discover both
# families, open UDP (IPv6 pinhole + IPv4 mapping), reachable from wan, close, unreachable and
# no rule left; plainly and under valgrind. (tests/c/misuse.c runs from tests/c_api.rs.)
# Needs root, the lab packages, gcc and valgrind (scripts/prereqs.sh). Run after `cargo build`.
set -euo pipefail
source "$(dirname "$0")/lab_flow.bash"

build_library
CFLAGS=(-std=c11 -Wall -Wextra -Werror -pedantic -g)

echo "-- compile tests/c/lab.c (gcc ${CFLAGS[*]})"
gcc "${CFLAGS[@]}" -I "$ROOT/include" "$ROOT/tests/c/lab.c" -o "$WORK/lab" \
  -L "$LIB_DIR" -lportopen -Wl,-rpath,"$LIB_DIR" -pthread || fail "gcc failed on tests/c/lab.c"

lab_up "${PORTOPEN_LAB_PREFIX:-c}clab$$"
echo "-- lab $LAB_NAME: discover, open, reachable, close, unreachable"
lab_flow lab 46100 "$WORK/lab"
echo "-- lab $LAB_NAME under valgrind"
PORTOPEN_TEST_TIME_SCALE=20 lab_flow lab-vg 46101 "$WORK/lab" "${VALGRIND[@]}"
valgrind_summary "$WORK/lab-vg.log"
echo "C lab: all passed"
