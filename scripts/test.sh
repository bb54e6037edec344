#!/usr/bin/env bash
# The README's test command. Installs what is needed, then:
#   1. checks formatting (clang-format),
#   2. builds Debug and Release with warnings as errors and runs the unit and integration tests,
#   3. builds with ASan+UBSan and runs the same tests, then the tools' interop cases that need
#      no Go (ours-*, gtlsserver/gtlsclient) with the sanitized tools,
#   4. runs each libFuzzer target briefly (scripts/fuzz.sh),
#   5. runs the interop tests against peers we did not write (tests/interop/run.sh),
#   6. runs downloads through the impairment relay (tests/impairment/run.sh).
# Ends with one line "N passed, N failed" summed over every stage; exits non-zero on any failure.
#   SKIP_SANITIZERS=1, SKIP_FUZZ=1, SKIP_INTEROP=1, SKIP_IMPAIRMENT=1 skip stages 3-6;
#   FUZZ_SECONDS=20, IMPAIRMENT_SIZE_MB=20
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "${SKIP_INTEROP:-0}" = 1 ]; then
  scripts/install-deps.sh || exit 1
else
  scripts/install-deps.sh --interop || exit 1
fi

passed=0
failed=0
stage_failed=()

note_ctest() {  # $1 = stage name, $2 = ctest log
  local line p f t
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$2" | tail -n1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); stage_failed+=("$1 (no ctest summary)"); return
  fi
  f=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  t=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  p=$((t - f))
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" = 0 ] || stage_failed+=("$1")
}

show_failures() {  # $1 = ctest log: each failed test's own output (at most 60 lines), so a
  # failure seen once in CI can be read there instead of needing a rerun that may pass
  awk '/\*\*\*(Failed|Exception|Timeout)/ { on = 1; n = 0; print "--- " $0; next }
       on && (/^ *Start +[0-9]+:/ || /^ *[0-9]+\/[0-9]+ Test +#/ || /tests passed, /) { on = 0 }
       on && n++ < 60 { print }' "$1"
}

note_script() {  # $1 = stage, $2 = log whose last "STAGE: N passed, M failed" line counts
  local line p f
  line=$(grep -E "^$1: [0-9]+ passed, [0-9]+ failed" "$2" | tail -n1)
  if [ -z "$line" ]; then
    failed=$((failed + 1)); stage_failed+=("$1 (no summary)"); return
  fi
  p=$(sed -E "s/^$1: ([0-9]+) passed, ([0-9]+) failed.*/\1/" <<<"$line")
  f=$(sed -E "s/^$1: ([0-9]+) passed, ([0-9]+) failed.*/\2/" <<<"$line")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" = 0 ] || stage_failed+=("$1")
}

build_and_test() {  # $1 = stage, $2 = build dir, rest = cmake args
  local stage=$1 dir=$2; shift 2
  echo "=== $stage: configure and build ($dir)"
  if ! cmake -S . -B "$dir" -G Ninja -DASIOQUIC_WERROR=ON "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"; failed=$((failed + 1)); stage_failed+=("$stage (configure)"); return
  fi
  if ! ninja -C "$dir" -j"$(nproc)" >"$dir.build.log" 2>&1; then
    grep -E "error|FAILED" -A5 "$dir.build.log" | head -80
    failed=$((failed + 1)); stage_failed+=("$stage (build)"); return
  fi
  echo "=== $stage: tests"
  ctest --test-dir "$dir" --output-on-failure -j2 --timeout 600 2>&1 | tee "$dir.test.log" |
    grep -E "tests passed|Failed|\*\*\*|Timeout" || true
  show_failures "$dir.test.log"
  note_ctest "$stage" "$dir.test.log"
}

mkdir -p out
echo "=== format check"
if git ls-files '*.cpp' '*.hpp' | xargs clang-format --dry-run --Werror >out/format.log 2>&1; then
  passed=$((passed + 1))
else
  head -40 out/format.log; failed=$((failed + 1)); stage_failed+=("clang-format")
fi

build_and_test debug out/debug -DCMAKE_BUILD_TYPE=Debug
build_and_test release out/release -DCMAKE_BUILD_TYPE=Release
echo "=== install (find_package and pkg-config consumers)"
tests/install/run.sh out/release 2>&1 | tee out/install.log
note_script install out/install.log
if [ "${SKIP_SANITIZERS:-0}" != 1 ]; then
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  build_and_test asan out/asan -DCMAKE_BUILD_TYPE=Debug "-DASIOQUIC_SANITIZE=address,undefined"
  if [ "${SKIP_INTEROP:-0}" != 1 ] && [ -x out/asan/tools/asioquic-server ]; then
    # The tools under the sanitizers: a case fails if either process reports an error or a leak.
    echo "=== asan: tools (our server and client, and with gtlsserver/gtlsclient)"
    INTEROP_CASES='^(ours-|srv-gtlsclient-|cli-gtlsserver-)' tests/interop/run.sh \
      "$root/out/asan" 2>&1 | sed -u 's/^interop: \([0-9]* passed\)/interop-asan: \1/' |
      tee out/interop-asan.log
    note_script interop-asan out/interop-asan.log
  fi
  unset ASAN_OPTIONS UBSAN_OPTIONS
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "=== fuzz (each target ${FUZZ_SECONDS:-20} s)"
  scripts/fuzz.sh "${FUZZ_SECONDS:-20}" 2>&1 | tee out/fuzz.log
  note_script fuzz out/fuzz.log
fi

if [ "${SKIP_INTEROP:-0}" != 1 ] && [ -x tests/interop/run.sh ]; then
  echo "=== interop"
  tests/interop/run.sh "$root/out/release" 2>&1 | tee out/interop.log
  note_script interop out/interop.log
fi

if [ "${SKIP_IMPAIRMENT:-0}" != 1 ] && [ -x tests/impairment/run.sh ]; then
  # 20 MB transfers keep the stage near two minutes; the README's table uses 50 MB.
  echo "=== impairment (loss, delay, reordering, corruption, duplication, blackhole, lost Initials)"
  IMPAIRMENT_SIZE_MB=${IMPAIRMENT_SIZE_MB:-20} tests/impairment/run.sh "$root/out/release" 2>&1 |
    tee out/impairment.log
  note_script impairment out/impairment.log
fi

if [ ${#stage_failed[@]} -gt 0 ]; then echo "failed stages: ${stage_failed[*]}"; fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
