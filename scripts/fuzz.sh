#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) with clang, ASan and UBSan, and runs each for SECONDS
# (default 20) starting from the committed seeds in fuzz/corpus/<target>. Inputs the fuzzer
# finds go to out/fuzz/corpus/<target> (not committed); a crash leaves out/fuzz/crash-<target>-*.
# Ends with "fuzz: N passed, M failed" (a target passes when it ran its time without a finding).
#   scripts/fuzz.sh [SECONDS]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
build=out/fuzz
scripts/install-deps.sh --fuzz || exit 1
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DASIOQUIC_FUZZ=ON \
  "-DASIOQUIC_SANITIZE=address,undefined" -DASIOQUIC_BUILD_TESTS=OFF -DASIOQUIC_BUILD_TOOLS=OFF \
  -DASIOQUIC_BUILD_EXAMPLES=OFF "-DCMAKE_CXX_FLAGS=-DASIO_HAS_CO_AWAIT=1 -DASIO_HAS_STD_COROUTINE=1" \
  >"$build.configure.log" 2>&1 || { cat "$build.configure.log"; echo "fuzz: 0 passed, 1 failed"; exit 1; }
ninja -C "$build" >"$build.build.log" 2>&1 || {
  grep -E "error" -A3 "$build.build.log" | head -40; echo "fuzz: 0 passed, 1 failed"; exit 1; }
passed=0
failed=0
for t in packet router h3; do
  mkdir -p "$build/corpus/$t"
  log="$build/$t.log"
  if "$build/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 -timeout=10 \
      -artifact_prefix="$build/crash-$t-" "$build/corpus/$t" "fuzz/corpus/$t" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "fuzz_$t: ok, $(grep -oE 'number_of_executed_units: [0-9]+' "$log" | awk '{print $2}') executions in ${secs} s, $(grep -oE 'cov: [0-9]+' "$log" | tail -1)"
  else
    failed=$((failed + 1))
    echo "fuzz_$t: FINDING"; grep -E "ERROR|SUMMARY|Test unit written" "$log" | head -5
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
