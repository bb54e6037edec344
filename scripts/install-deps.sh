#!/usr/bin/env bash
# Installs everything asio-quic needs to build, test and run its interop peers, from Debian 12's
# packages. Idempotent: packages already present are skipped by apt. Needs root (or sudo).
#   scripts/install-deps.sh            build + unit/integration tests + ngtcp2 peers
#   scripts/install-deps.sh --interop  also Chromium, Caddy, Go and quic-go (interop tests)
#   scripts/install-deps.sh --fuzz     also clang and its libFuzzer runtime (fuzz targets)
#   scripts/install-deps.sh --tools    also gnuplot, valgrind, linux-perf, heaptrack (benchmarks)
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

base=(g++ cmake ninja-build pkg-config git ca-certificates openssl
      libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev nettle-dev
      libmimalloc-dev
      libgtest-dev googletest ngtcp2-server ngtcp2-client gnutls-bin clang-format iproute2)
# libasio-dev's recommends pull in Boost 1.74, which conflicts with newer Boost; skip them.
norec=(libasio-dev)
extra=()
for arg in "$@"; do
  case "$arg" in
    --interop) extra+=(chromium caddy golang-go golang-github-lucas-clemente-quic-go-dev tshark) ;;
    --fuzz) extra+=(clang libclang-rt-14-dev) ;;
    --tools) extra+=(gnuplot-nox valgrind linux-perf heaptrack) ;;
    *) echo "unknown option $arg" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${base[@]}" "${norec[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
as_root apt-get update -qq
as_root apt-get install -y -qq --no-install-recommends "${norec[@]}" >/dev/null
to_install=()
for p in "${base[@]}" "${extra[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || to_install+=("$p")
done
if [ ${#to_install[@]} -gt 0 ]; then
  # tshark asks whether non-root users may capture; the default (no) is fine.
  as_root apt-get install -y -qq "${to_install[@]}" >/dev/null
fi
echo "install-deps: done"
