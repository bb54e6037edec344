#!/usr/bin/env bash
# Runs the soak test (tests/soak/soak.cpp) against a build of the library and prints
# "soak: N passed, M failed" (one per CHECK line; a crash or a missing check is a failure).
#
#   tests/soak/run.sh BUILD_DIR        e.g. tests/soak/run.sh out/asan
# Environment: SOAK_SECONDS (default 300), SOAK_SAMPLE_SECONDS (default 5).
# The program is built in BUILD_DIR/soak with the same build type and sanitizers as BUILD_DIR;
# its output is kept in BUILD_DIR/soak.log.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) || exit 2

summary() {
  echo "soak: $1 passed, $2 failed"
  [ "$2" = 0 ]
  exit
}

cache() { sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt"; }
if ! ninja -C "$build" asioquic >"$build/soak.build.log" 2>&1 ||
  ! cmake -S "$root/tests/soak" -B "$build/soak" -G Ninja \
    -DASIOQUIC_BUILD_DIR="$build" -DASIOQUIC_SANITIZE="$(cache ASIOQUIC_SANITIZE)" \
    -DCMAKE_BUILD_TYPE="$(cache CMAKE_BUILD_TYPE)" >>"$build/soak.build.log" 2>&1 ||
  ! ninja -C "$build/soak" >>"$build/soak.build.log" 2>&1; then
  grep -E "error|FAILED|Error" -A5 "$build/soak.build.log" | head -60
  summary 0 1
fi

echo "=== soak: ${SOAK_SECONDS:-300} s of mixed HTTP/3 traffic ($build)"
"$build/soak/asioquic_soak" 2>&1 | tee "$build/soak.log"
rc=${PIPESTATUS[0]}
passed=$(grep -c "^CHECK .*: PASS" "$build/soak.log")
failed=$(grep -c "^CHECK .*: FAIL" "$build/soak.log")
# A crash (sanitizer report, abort) or an early exit without its checks.
if [ "$rc" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
[ $((passed + failed)) -gt 0 ] || failed=1
summary "$passed" "$failed"
