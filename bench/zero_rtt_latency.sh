#!/usr/bin/env bash
# Time to a response with a real round trip: connect + one 1 KiB GET through impairment_relay
# with DELAY ms each way, against asioquic-server and gtlsserver side by side, for a full
# handshake, a resumed one (--resume) and 0-RTT (--resume --early-data). asioquic-bench
# --handshakes -c 1 times each connection from the connect call to the response's last byte
# (the slot's wait for its next ticket is not counted). Prints a Markdown table of p50
# latencies, in ms and in round trips; loopback adds well under a millisecond. KEY picks the
# servers' certificate: ec (P-256, the default) or rsa (2048 bits, whose first flight needs two
# datagrams).
#   bench/zero_rtt_latency.sh [BUILD_DIR=out/release] [DELAY_MS=20] [CONNECTIONS=40] [KEY=ec]
# BUILD_DIR needs asioquic-server, asioquic-bench and tests/impairment/impairment_relay (a build
# with tests, e.g. out/release).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-out/release}
delay=${2:-20}
conns=${3:-40}
key=${4:-ec}
case $key in
  ec) newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1) ;;
  rsa) newkey=(-newkey rsa:2048) ;;
  *) echo "KEY must be ec or rsa" >&2; exit 2 ;;
esac
server=$build/tools/asioquic-server
bench=$build/bench/asioquic-bench
relay=$build/tests/impairment/impairment_relay
for tool in "$server" "$bench" "$relay"; do
  [[ -x $tool ]] || { echo "missing $tool: build $build with tests first" >&2; exit 2; }
done
command -v gtlsserver >/dev/null || { echo "missing gtlsserver (scripts/install-deps.sh --interop)" >&2; exit 2; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
openssl req -x509 "${newkey[@]}" -nodes -keyout "$work/key.pem" -out "$work/cert.pem" -days 2 \
  -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
mkdir "$work/www"
head -c 1024 /dev/urandom >"$work/www/1k.bin"

# A free UDP port on 127.0.0.1 (bound, then released).
free_port() { python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_relay NAME SERVER_PORT: a relay with the delay in front of the server; sets RPORT[NAME].
declare -A RPORT
start_relay() {
  "$relay" --listen 127.0.0.1:0 --server "127.0.0.1:$2" --delay "$delay" --duration 600 \
    >"$work/$1.relay.log" 2>&1 &
  local p=
  for _ in $(seq 1 50); do
    p=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$work/$1.relay.log")
    [[ -n $p ]] && break
    sleep 0.1
  done
  [[ -n $p ]] || { echo "relay for $1 did not start" >&2; exit 1; }
  RPORT[$1]=$p
}

ours_port=$(free_port)
"$server" --listen "127.0.0.1:$ours_port" --root "$work/www" --cert "$work/cert.pem" \
  --key "$work/key.pem" -q >"$work/ours.log" 2>&1 &
gtls_port=$(free_port)
gtlsserver -q -d "$work/www" 127.0.0.1 "$gtls_port" "$work/key.pem" "$work/cert.pem" \
  >"$work/gtls.log" 2>&1 &
sleep 0.5
start_relay ours "$ours_port"
start_relay gtls "$gtls_port"

# p50 latency in ms of CONNECTIONS connections in MODE, and how many took 0-RTT / resumed.
measure() {  # $1 = relay name, $2... = asioquic-bench mode options
  local name=$1 line
  shift
  line=$(timeout 120 "$bench" -q -k --handshakes "$@" -c 1 -n "$conns" --timeout 10 \
    "https://127.0.0.1:${RPORT[$name]}/1k.bin" | grep '^result ')
  awk -v l="$line" 'BEGIN {
    n = split(l, kv, " ")
    for (i = 1; i <= n; i++) { split(kv[i], p, "="); v[p[1]] = p[2] }
    printf "%.1f %s %s %s\n", v["p50_us"] / 1000, v["resumed"], v["early"], v["errors"]
  }'
}

rtt=$((2 * delay))
echo "Through impairment_relay --delay $delay ($rtt ms round trip), $conns connections each,"
echo "one at a time (asioquic-bench --handshakes -c 1 -n $conns), $key certificate,"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'):"
echo
echo "| server | mode | p50 ms to the response | round trips | resumed | 0-RTT accepted | errors |"
echo "|---|---|---|---|---|---|---|"
for name in ours gtls; do
  label=asioquic-server
  [[ $name == gtls ]] && label=gtlsserver
  for mode in full resume 0rtt; do
    opts=()
    [[ $mode == resume ]] && opts=(--resume)
    [[ $mode == 0rtt ]] && opts=(--resume --early-data)
    read -r ms resumed early errors < <(measure "$name" "${opts[@]}")
    rt=$(awk -v m="$ms" -v r="$rtt" 'BEGIN {printf "%.2f", m / r}')
    echo "| $label | $mode | $ms | $rt | $resumed | $early | $errors |"
  done
done
