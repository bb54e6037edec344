#!/usr/bin/env bash
# Transport-core reference point (issue 2): a 1 GB echo through our echo server (our client
# sends 1 GB and reads the same 1 GB back, checked byte by byte) beside ngtcp2's own pair
# downloading 1 GB (gtlsserver -> gtlsclient, body discarded), alternated RUNS times in one run.
# Prints a Markdown table; a calibration figure (openssl AES-128-GCM) opens it, because this
# machine's speed drifts.
#   bench/echo_vs_reference.sh [BUILD_DIR=out/release] [BYTES=1000000000] [RUNS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-out/release}
bytes=${2:-1000000000}
runs=${3:-3}
if [ ! -x "$build/bench/echo_bench" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DASIOQUIC_BUILD_TESTS=OFF >/dev/null
  ninja -C "$build" echo_bench echo_server >/dev/null
fi
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/key.pem" \
  -out "$work/cert.pem" -days 2 -subj /CN=localhost 2>/dev/null
mkdir "$work/www"
head -c "$bytes" /dev/zero > "$work/www/file"   # content does not matter: discarded by the client

calib=$(openssl speed -evp aes-128-gcm -bytes 16384 -seconds 1 2>/dev/null |
  awk 'tolower($1) == "aes-128-gcm" {v = $2; sub(/k$/, "", v); printf "%.0f", v / 1000}')

"$build/examples/echo_server" 127.0.0.1:4501 >/dev/null 2>&1 &
gtlsserver -q -d "$work/www" 127.0.0.1 4502 "$work/key.pem" "$work/cert.pem" >/dev/null 2>&1 &
sleep 1

cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat"; }  # utime+stime in clock ticks
hz=$(getconf CLK_TCK)

echo "| run | ours: echo ${bytes} B (MB/s each way) | reference: gtlsserver→gtlsclient download (MB/s) | ratio |"
echo "|---|---|---|---|"
ours_all=(); ref_all=()
for i in $(seq 1 "$runs"); do
  o=$("$build/bench/echo_bench" 127.0.0.1 4501 "$bytes" | sed -E 's/.*MBps=([0-9.]+).*/\1/')
  s=$(date +%s.%N)
  gtlsclient -q --exit-on-all-streams-close 127.0.0.1 4502 https://127.0.0.1:4502/file >/dev/null 2>&1
  e=$(date +%s.%N)
  r=$(awk -v b="$bytes" -v s="$s" -v e="$e" 'BEGIN {printf "%.1f", b / (e - s) / 1e6}')
  ours_all+=("$o"); ref_all+=("$r")
  echo "| $i | $o | $r | $(awk -v a="$o" -v b="$r" 'BEGIN {printf "%.2f", a / b}') |"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best() { printf '%s\n' "$@" | sort -g | tail -n1; }
mo=$(median "${ours_all[@]}"); mr=$(median "${ref_all[@]}")
echo "| median | $mo | $mr | $(awk -v a="$mo" -v b="$mr" 'BEGIN {printf "%.2f", a / b}') |"
echo "| best | $(best "${ours_all[@]}") | $(best "${ref_all[@]}") | |"
echo
echo "calibration: openssl speed -evp aes-128-gcm, 16 KiB blocks = ${calib} MB/s"
