#!/usr/bin/env bash
# ThreadSanitizer run: builds the library and its tests with -fsanitize=thread (Debug, no tools or
# examples) into out/tsan, then runs the unit and integration tests under it. A data race or a
# lock-order inversion fails the test that hit it (halt_on_error). Ends with one line
# "tsan: N passed, M failed"; exits non-zero on any failure.
#
#   scripts/tsan.sh [ctest args...]      e.g. scripts/tsan.sh -R Threads
# Environment:
#   JOBS         build jobs (default: nproc)
#   CTEST_JOBS   tests run at once (default 2; TSan makes each several times slower)
#   TSAN_OPTIONS appended to ours
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

dir=out/tsan
mkdir -p out
summary() {
  echo "tsan: $1 passed, $2 failed"
  [ "$2" = 0 ]
  exit
}

echo "=== tsan: configure and build ($dir)"
# g++ 12 warns that TSan does not model std::atomic_thread_fence (Asio's fenced blocks): true,
# and harmless there (the fences back up locks TSan does see), so that one warning is no error.
if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DASIOQUIC_SANITIZE=thread \
  -DASIOQUIC_WERROR=ON -DASIOQUIC_BUILD_TOOLS=OFF -DASIOQUIC_BUILD_EXAMPLES=OFF \
  -DCMAKE_CXX_FLAGS=-Wno-tsan \
  >"$dir.configure.log" 2>&1; then
  cat "$dir.configure.log"
  summary 0 1
fi
if ! ninja -C "$dir" -j"${JOBS:-$(nproc)}" unit_tests integration_tests >"$dir.build.log" 2>&1; then
  grep -E "error|FAILED" -A5 "$dir.build.log" | head -80
  summary 0 1
fi

echo "=== tsan: tests"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
ctest --test-dir "$dir" --output-on-failure -j"${CTEST_JOBS:-2}" --timeout 600 -L 'unit|integration' \
  "$@" 2>&1 | tee "$dir.test.log" | grep -E "tests passed|\*\*\*|WARNING: ThreadSanitizer" || true

line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$dir.test.log" | tail -n1)
[ -n "$line" ] || summary 0 1
failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
summary $((total - failed)) "$failed"
