#!/usr/bin/env bash
# Impairment tests: downloads through impairment_relay under each network profile, for each
# client/server pair (ours and ngtcp2's gtlsclient/gtlsserver); every file must arrive intact
# (sha256) within a time bound. Prints goodput as a Markdown table and ends with
# "impairment: N passed, M failed"; exits non-zero on any failure.
#
#   tests/impairment/run.sh [BUILD_DIR]          (default: build)
#
# Environment:
#   IMPAIRMENT_SIZE_MB   download size in MB (default 50)
#   IMPAIRMENT_LOSSY_SIZE_MB  size for the 5%-loss profile (default 5): loss-based congestion
#                        control (cubic, both servers' default) moves about 0.25 MB/s through
#                        5% loss at 40 ms RTT, so 50 MB would take over three minutes per pair;
#                        the same profile also runs at full size with both servers on BBR
#   IMPAIRMENT_TIMEOUT   seconds allowed per transfer (default 120)
#   IMPAIRMENT_SEED      the relay's seed (default 42)
#   IMPAIRMENT_PROFILES  comma-separated profile ids to run (default all; see `profiles` below)
#   IMPAIRMENT_PAIRS     comma-separated pair ids to run (default all; see `pairs` below)
#   IMPAIRMENT_QLOG=1    our server writes qlog files next to the logs
#   IMPAIRMENT_RELAY     path of impairment_relay (default BUILD_DIR/tests/impairment/...)
# Logs of every transfer: BUILD_DIR/impairment-logs/ (replaced on each run).
set -uo pipefail

build=$(cd "${1:-build}" && pwd) || exit 2
relay=${IMPAIRMENT_RELAY:-$build/tests/impairment/impairment_relay}
our_server=$build/tools/asioquic-server
our_client=$build/tools/asioquic-client
gtls_server=/usr/sbin/gtlsserver
gtls_client=/usr/bin/gtlsclient
size_mb=${IMPAIRMENT_SIZE_MB:-50}
lossy_mb=${IMPAIRMENT_LOSSY_SIZE_MB:-5}
bound=${IMPAIRMENT_TIMEOUT:-120}
seed=${IMPAIRMENT_SEED:-42}
logs=$build/impairment-logs

# id | row label | relay options ("@blackhole" is placed mid-transfer for each pair, below) |
# size in MB | the servers' congestion control (empty: their default, cubic). Impairments
# apply to both directions.
profiles=(
  "none|no impairment||$size_mb|"
  "delay20|20 ms delay (40 ms RTT)|--delay 20|$size_mb|"
  "loss1|1% loss|--loss 1|$size_mb|"
  "loss5-delay20|5% loss, 20 ms delay ($lossy_mb MB)|--loss 5 --delay 20|$lossy_mb|"
  "loss5-delay20-bbr|5% loss, 20 ms delay, BBR servers|--loss 5 --delay 20|$size_mb|bbr"
  "reorder25-delay10|25% reordering, 10 ms delay|--reorder 25 --delay 10|$size_mb|"
  "corrupt0.5|0.5% corruption|--corrupt 0.5|$size_mb|"
  "dup1|1% duplication|--dup 1|$size_mb|"
  "blackhole2s|2 s blackhole mid-transfer|@blackhole|$size_mb|"
  "initials3|first 3 client Initials dropped|--drop-initials 3|$size_mb|"
)
# id | column label | client | server
pairs=(
  "ours|ours ← ours|ours|ours"
  "gtlsclient-ours|gtlsclient ← ours|gtls|ours"
  "ours-gtlsserver|ours ← gtlsserver|ours|gtls"
  "gtls|gtlsclient ← gtlsserver|gtls|gtls"
)

selected() {  # $1 = id, $2 = comma-separated filter (empty: everything)
  [ -z "$2" ] || [[ ",$2," == *",$1,"* ]]
}

for tool in "$relay" "$gtls_server" "$gtls_client"; do
  [ -x "$tool" ] || { echo "missing $tool" >&2; exit 2; }
done

work=$(mktemp -d /tmp/impairment.XXXXXX)
spid=
rpid=
cleanup() {  # only what is still running: stop() clears the pid it has reaped
  for p in $spid $rpid; do kill -KILL "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$logs"
mkdir -p "$logs" "$work/www"

# The served files (one per size, data-<MB>.bin) and the certificate both servers use.
declare -A want
for mb in "$size_mb" "$lossy_mb"; do
  [ -n "${want[$mb]:-}" ] && continue
  head -c $((mb * 1000000)) /dev/urandom >"$work/www/data-$mb.bin"
  want[$mb]=$(sha256sum "$work/www/data-$mb.bin" | cut -d' ' -f1)
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -keyout "$work/key.pem" -out "$work/cert.pem" -subj /CN=localhost \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1 || {
  echo "openssl failed" >&2
  exit 2
}

free_udp_port() {  # a port nobody is bound to (tries a bounded number of random ones)
  local p
  for _ in $(seq 1 50); do
    p=$((20000 + RANDOM % 40000))
    [ -z "$(ss -Huln "sport = :$p")" ] && { echo "$p"; return 0; }
  done
  return 1
}

wait_bound() {  # $1 = port, $2 = pid: wait up to 10 s for a UDP socket on the port
  for _ in $(seq 1 100); do
    [ -n "$(ss -Huln "sport = :$1")" ] && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

stop() {  # $1 = pid of a child: SIGTERM, then SIGKILL after 5 s; reaps it
  if kill -TERM "$1" 2>/dev/null; then
    for _ in $(seq 1 50); do
      kill -0 "$1" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null
  fi
  wait "$1" 2>/dev/null
  [ "$1" = "$spid" ] && spid=
  [ "$1" = "$rpid" ] && rpid=
}

server_cmd() {  # $1 = kind, $2 = port, $3 = qlog dir, $4 = congestion control; sets cmd
  if [ "$1" = ours ]; then
    cmd=("$our_server" --listen "127.0.0.1:$2" --root "$work/www" --cert "$work/cert.pem"
      --key "$work/key.pem")
    [ -n "$4" ] && cmd+=(--cc "$4")
    [ "${IMPAIRMENT_QLOG:-0}" = 1 ] && cmd+=(--qlog-dir "$3")
  else
    cmd=("$gtls_server" -q -d "$work/www")
    [ -n "$4" ] && cmd+=("--cc=$4")
    cmd+=(127.0.0.1 "$2" "$work/key.pem" "$work/cert.pem")
  fi
}

client_cmd() {  # $1 = kind, $2 = relay port, $3 = download dir, $4 = file; sets cmd
  local url="https://127.0.0.1:$2/$4"
  if [ "$1" = ours ]; then
    cmd=("$our_client" --insecure --silent --show-error --fail -o "$3/$4" "$url")
  else
    cmd=("$gtls_client" -q --exit-on-all-streams-close "--download=$3" 127.0.0.1 "$2" "$url")
  fi
}

declare -A cell base_time
passed=0
failed=0
failures=()
warnings=()

# One download: server, relay, client; sets $result to the goodput (MB/s) or FAIL(reason).
transfer() {  # $1 = profile id, $2 = relay options, $3 = pair id, $4 = client, $5 = server, $6 = MB,
  #             $7 = the server's congestion control
  local tag="$1.$3" dir="$work/$1.$3" file="data-$6.bin" sport rport t0 t1 rc got
  local log="$logs/$tag"
  mkdir -p "$dir/dl" "$log.qlog"
  result="FAIL(setup)"
  elapsed=-
  sport=$(free_udp_port) || return
  [ "$5" = ours ] && [ ! -x "$our_server" ] && { result="FAIL(no server)"; return; }
  [ "$4" = ours ] && [ ! -x "$our_client" ] && { result="FAIL(no client)"; return; }
  server_cmd "$5" "$sport" "$log.qlog" "$7"
  echo "server: ${cmd[*]}" >"$log.commands"
  "${cmd[@]}" >"$log.server.log" 2>&1 &
  spid=$!
  if ! wait_bound "$sport" "$spid"; then
    stop "$spid"
    result="FAIL(server start)"
    return
  fi
  # shellcheck disable=SC2086  # the relay options are words
  "$relay" --listen 127.0.0.1:0 --server "127.0.0.1:$sport" --seed "$seed" \
    --duration $((bound + 30)) $2 >"$log.relay.log" 2>&1 &
  rpid=$!
  rport=
  for _ in $(seq 1 50); do
    rport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' "$log.relay.log" 2>/dev/null)
    [ -n "$rport" ] && break
    sleep 0.1
  done
  if [ -z "$rport" ]; then
    stop "$spid"
    stop "$rpid"
    result="FAIL(relay start)"
    return
  fi
  client_cmd "$4" "$rport" "$dir/dl" "$file"
  {
    echo "relay:  $relay --listen 127.0.0.1:$rport --server 127.0.0.1:$sport --seed $seed $2"
    echo "client: ${cmd[*]}"
  } >>"$log.commands"
  t0=$(date +%s.%N)
  timeout --kill-after=5 "$bound" "${cmd[@]}" >"$log.client.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  kill -INT "$rpid" 2>/dev/null
  wait "$rpid" 2>/dev/null
  rpid=
  stop "$spid"
  got=$(sha256sum "$dir/dl/$file" 2>/dev/null | cut -d' ' -f1)
  elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    result="FAIL(timeout ${bound}s)"
  elif [ "$got" != "${want[$6]}" ]; then
    result="FAIL(rc=$rc, $( [ -z "$got" ] && echo no file || echo sha256 mismatch))"
  elif [ "$rc" != 0 ]; then
    result="FAIL(rc=$rc, file intact)"
  else
    result=$(awk -v s="$6" -v t="$elapsed" 'BEGIN { printf (s / t < 10 ? "%.2f" : "%.1f"), s / t }')
  fi
  # The relay must not have distorted the test by dropping on its own account.
  if grep -E '^\[stats final' "$log.relay.log" | grep -qE ' (pool_drops|send_errors)=[1-9]'; then
    warnings+=("$tag: the relay dropped datagrams of its own (pool_drops/send_errors)")
  fi
  rm -rf "$dir"
  rmdir "$log.qlog" 2>/dev/null
}

# gap_hit: true if the last transfer was held up by its 2 s blackhole. A transfer the gap hit
# cannot end sooner than 2 s; one that ended first may still have lost its closing packets to it.
gap_hit() {
  awk -v t="$elapsed" 'BEGIN { exit !(t >= 2) }'
}

start=$(date +%s)
echo "impairment: ${size_mb} MB downloads, ${bound} s bound, seed $seed, logs in $logs"
for prof in "${profiles[@]}"; do
  IFS='|' read -r pid_ label opts mb cc <<<"$prof"
  selected "$pid_" "${IMPAIRMENT_PROFILES:-}" || continue
  for pair in "${pairs[@]}"; do
    IFS='|' read -r pair_id plabel client server <<<"$pair"
    selected "$pair_id" "${IMPAIRMENT_PAIRS:-}" || continue
    args=$opts
    if [ "$opts" = "@blackhole" ]; then
      # Start at 40% of this pair's unimpaired transfer (at least 50 ms, so after the
      # handshake), so the 2 s gap always falls inside the transfer.
      b=${base_time[$pair_id]:-0.5}
      from=$(awk -v t="$b" 'BEGIN { f = t * 0.4; if (f < 0.05) f = 0.05; printf "%.2f", f }')
      to=$(awk -v f="$from" 'BEGIN { printf "%.2f", f + 2 }')
      args="--blackhole $from:$to"
    fi
    transfer "$pid_" "$args" "$pair_id" "$client" "$server" "$mb" "$cc"
    if [ "$opts" = "@blackhole" ] && [[ "$result" != FAIL* ]] && ! gap_hit; then
      # Faster than its unimpaired run: it ended before the gap began. Again, the gap starting
      # right after the handshake.
      args="--blackhole 0.05:2.05"
      transfer "$pid_" "$args" "$pair_id" "$client" "$server" "$mb" "$cc"
      gap_hit || warnings+=("$pid_.$pair_id: the transfer ended before the blackhole")
    fi
    [ "$pid_" = none ] && [[ "$result" != FAIL* ]] && base_time[$pair_id]=$elapsed
    cell["$pid_.$pair_id"]=$result
    if [[ "$result" == FAIL* ]]; then
      failed=$((failed + 1))
      failures+=("$label / $plabel: $result — $logs/$pid_.$pair_id.*")
    else
      passed=$((passed + 1))
    fi
    printf '  %-36s %-26s %8s MB/s  (%s s) %s\n' "$label" "$plabel" "$result" "$elapsed" "$args"
  done
done

echo
printf '| profile |'
for pair in "${pairs[@]}"; do
  IFS='|' read -r pair_id plabel _ _ <<<"$pair"
  selected "$pair_id" "${IMPAIRMENT_PAIRS:-}" && printf ' %s |' "$plabel"
done
printf '\n|---|'
for pair in "${pairs[@]}"; do
  IFS='|' read -r pair_id _ _ _ <<<"$pair"
  selected "$pair_id" "${IMPAIRMENT_PAIRS:-}" && printf -- '---:|'
done
echo
for prof in "${profiles[@]}"; do
  IFS='|' read -r pid_ label _ _ _ <<<"$prof"
  selected "$pid_" "${IMPAIRMENT_PROFILES:-}" || continue
  printf '| %s |' "$label"
  for pair in "${pairs[@]}"; do
    IFS='|' read -r pair_id _ _ _ <<<"$pair"
    selected "$pair_id" "${IMPAIRMENT_PAIRS:-}" && printf ' %s |' "${cell[$pid_.$pair_id]}"
  done
  echo
done
echo
echo "Goodput in MB/s (10^6 bytes) over the client's whole run, handshake included;" \
  "${size_mb} MB per download unless the row says otherwise; $(($(date +%s) - start)) s in all."
for w in "${warnings[@]}"; do echo "WARNING: $w"; done
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "impairment: $passed passed, $failed failed"
[ "$failed" = 0 ]
