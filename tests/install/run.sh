#!/usr/bin/env bash
# Installs a build into a staging prefix and builds two consumers against it: one with CMake's
# find_package(asioquic), one with pkg-config. Ends with "install: N passed, M failed".
#   tests/install/run.sh BUILD_DIR
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(realpath "$1")
prefix=$build/staging
work=$build/consumer
passed=0
failed=0
check() {  # $1 = name, rest = command
  local name=$1; shift
  if "$@" >"$work.$name.log" 2>&1; then
    passed=$((passed + 1)); echo "install: $name ok"
  else
    failed=$((failed + 1)); echo "install: $name FAILED"; tail -20 "$work.$name.log"
  fi
}
rm -rf "$prefix" "$work"
mkdir -p "$work"
check install cmake --install "$build" --prefix "$prefix"
check find_package sh -c "cmake -S '$here' -B '$work/cmake' -G Ninja -DCMAKE_PREFIX_PATH='$prefix' \
  && ninja -C '$work/cmake' && '$work/cmake/consumer'"
check pkg_config sh -c "g++ -std=c++20 '$here/consumer.cpp' -o '$work/pc' \
  \$(PKG_CONFIG_PATH='$prefix/lib/pkgconfig' pkg-config --cflags --libs asioquic) \
  && '$work/pc'"
echo "install: $passed passed, $failed failed"
[ "$failed" = 0 ]
