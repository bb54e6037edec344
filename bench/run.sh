#!/usr/bin/env bash
# The asio-quic benchmark suite (issue 7): builds Release, then runs every scenario against us
# and the peers side by side, alternating them, and writes a Markdown report, a PNG chart and
# the raw figures to bench/results/. See BENCHMARKS.md.
#
#   bench/run.sh [--quick] [--runs N] [--only LIST] [--build-dir DIR] [--out DIR] [--keep]
#                [--no-pin]
#   bench/run.sh --report RAW.tsv [--out DIR]   (rebuild the report and chart from raw figures)
#
# Scenarios (LIST is a comma-separated subset): ceiling, bulk, requests, handshakes, idle,
# callgrind. The engine ceiling runs inside the bulk rounds too, so bulk alone still has it.
# Full: 1 GiB transfers, 3 alternated rounds, 10 000 idle connections (about 10 minutes here,
# build excluded). --quick: 256 MiB, one round, shorter runs, 2 000 idle connections (about
# 1.5 minutes). Servers run on CPU 0 and clients on CPU 1 unless --no-pin; the engine ceiling
# (one process) is never pinned.
# All traffic is on 127.0.0.1; every wait is bounded; only processes started here are stopped.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=bench/lib/procs.sh
source "$ROOT/bench/lib/procs.sh"
# shellcheck source=bench/lib/report.sh
source "$ROOT/bench/lib/report.sh"
# shellcheck source=scripts/lib/caddy.sh
source "$ROOT/scripts/lib/caddy.sh"

usage() {
  sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

# ------------------------------------------------------------------ options and sizes

QUICK=0
RUNS=
ONLY=ceiling,bulk,requests,handshakes,idle,callgrind
BUILD_DIR=$ROOT/build-bench
OUT_DIR=$ROOT/bench/results
KEEP=0  # read by the EXIT trap
REPORT_FROM=
PIN=1
COMMAND_LINE="bench/run.sh $*"

# shellcheck disable=SC2034  # KEEP is read by the EXIT trap
parse_args() {
  while (($# > 0)); do
    if [[ $1 =~ ^--(runs|only|build-dir|out|report)$ ]] && (($# < 2)); then
      echo "run.sh: $1 needs a value" >&2
      exit 2
    fi
    case "$1" in
      --quick) QUICK=1 ;;
      --runs) RUNS=$2; shift ;;
      --only) ONLY=$2; shift ;;
      --build-dir) BUILD_DIR=$(realpath -m "$2"); shift ;;
      --out) OUT_DIR=$(realpath -m "$2"); shift ;;
      --keep) KEEP=1 ;;
      --no-pin) PIN=0 ;;
      --report) REPORT_FROM=$(realpath "$2"); shift ;;
      -h | --help) usage; exit 0 ;;
      *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
  done
  if ((QUICK)); then
    MODE=quick
    : "${RUNS:=1}"
    BULK_BYTES=$((256 << 20))
    REQ_SECONDS=2; REQ_WARM=0.5
    HS_SECONDS=2; HS_WARM=0.5
    IDLE_CONNS=2000; IDLE_MEASURE=3
    CG_BULK_BYTES=$((16 << 20)); CG_REQUESTS=1000
  else
    MODE=full
    : "${RUNS:=3}"
    BULK_BYTES=$((1 << 30))
    REQ_SECONDS=5; REQ_WARM=1
    HS_SECONDS=5; HS_WARM=1
    IDLE_CONNS=10000; IDLE_MEASURE=10
    CG_BULK_BYTES=$((64 << 20)); CG_REQUESTS=5000
  fi
  [[ $RUNS =~ ^[1-9][0-9]?$ ]] || { echo "run.sh: --runs must be 1..99" >&2; exit 2; }
  # Load shapes, the same against every server.
  REQ_CONNS=10; REQ_STREAMS=10; REQ_THREADS=1
  HS_SLOTS=32
  # A transfer slower than 5 MB/s is broken, not slow.
  BULK_TIMEOUT=$((BULK_BYTES / 5000000 + 30))
}

want() {
  [[ ",$ONLY," == *",$1,"* ]]
}

log() {
  printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

# ------------------------------------------------------------------ build and fixtures

build() {
  log "building Release in $BUILD_DIR"
  cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DASIOQUIC_BUILD_TESTS=OFF >"$WORK/build.log" 2>&1 &&
    ninja -C "$BUILD_DIR" asioquic-server asioquic-client asioquic-bench engine_ceiling \
      >>"$WORK/build.log" 2>&1 || {
    tail -20 "$WORK/build.log" >&2
    echo "run.sh: the build failed" >&2
    exit 1
  }
  SERVER=$BUILD_DIR/tools/asioquic-server
  CLIENT=$BUILD_DIR/tools/asioquic-client
  LOADGEN=$BUILD_DIR/bench/asioquic-bench
  CEILING=$BUILD_DIR/bench/engine_ceiling
}

# Our quic-go client (tests/interop/quicgo/client) and quic-go's example server, built
# offline from Debian's Go sources as the interop suite does.
build_go() {
  GO_OUT=$BUILD_DIR/bench-go
  H3CLIENT=$GO_OUT/h3client
  QUICGO_SERVER=$GO_OUT/quicgo-server
  if ! command -v go >/dev/null || [[ ! -d /usr/share/gocode/src/github.com/lucas-clemente/quic-go ]]; then
    log "Go or quic-go not installed (scripts/install-deps.sh --interop): skipping quic-go"
    H3CLIENT='' QUICGO_SERVER=''
    return 0
  fi
  mkdir -p "$GO_OUT"
  local env=(env GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS= GOCACHE="$GO_OUT/go-cache")
  if ! { (cd "$ROOT/tests/interop/quicgo/client" && timeout 300 "${env[@]}" go build -o "$H3CLIENT" .) &&
    timeout 300 "${env[@]}" go build -o "$QUICGO_SERVER" github.com/lucas-clemente/quic-go/example; } \
    >"$WORK/go-build.log" 2>&1; then
    log "building the quic-go programs failed (see --keep): skipping quic-go"
    H3CLIENT='' QUICGO_SERVER=''
  fi
}

make_fixtures() {
  WWW=$WORK/www
  DL=$WORK/dl
  mkdir -p "$WWW" "$DL" "$WORK/logs"
  CERT=$WORK/cert.pem
  KEY=$WORK/key.pem
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KEY" \
    -out "$CERT" -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
  # Contents do not matter (no server compresses); zeros are quick to make. Reading them once
  # puts them in the page cache before the first timed run.
  head -c "$BULK_BYTES" /dev/zero >"$WWW/big.bin"
  head -c "$CG_BULK_BYTES" /dev/zero >"$WWW/cg.bin"
  head -c 1024 /dev/urandom >"$WWW/1k.bin"
  cat "$WWW/big.bin" "$WWW/cg.bin" >/dev/null
}

# calibrate: AES-128-GCM throughput in MB/s (openssl speed, 16 KiB blocks, 1 s).
calibrate() {
  openssl speed -evp aes-128-gcm -bytes 16384 -seconds 1 2>/dev/null |
    awk 'tolower($1) == "aes-128-gcm" {v = $2; sub(/k$/, "", v); printf "%.0f", v / 1000}'
}

# ------------------------------------------------------------------ servers

declare -A SPID SPORT

start_ours() {  # NAME [EXTRA_ARGS...]
  local name=$1
  shift
  next_port
  start_bg "$WORK/logs/$name.log" "${PIN_SERVER[@]}" "$SERVER" --listen "127.0.0.1:$PORT" --root "$WWW" \
    --cert "$CERT" --key "$KEY" -q "$@"
  register "$name"
}

start_gtls() {  # NAME [EXTRA_ARGS...]
  local name=$1
  shift
  next_port
  start_bg "$WORK/logs/$name.log" "${PIN_SERVER[@]}" gtlsserver -q "$@" -d "$WWW" 127.0.0.1 "$PORT" "$KEY" "$CERT"
  register "$name"
}

start_caddy() {  # NAME
  local name=$1
  next_port
  caddy_command "$WORK/caddy-$PORT" "$PORT" "$CERT" "$KEY" "$WWW"
  start_bg "$WORK/logs/$name.log" "${PIN_SERVER[@]}" "${CADDY_CMD[@]}"
  register "$name"
}

start_quicgo() {  # NAME
  local name=$1
  next_port
  # It serves quic-go's testdata certificate; our clients do not verify (h3client -insecure).
  start_bg "$WORK/logs/$name.log" "${PIN_SERVER[@]}" "$QUICGO_SERVER" -bind "127.0.0.1:$PORT" -www "$WWW"
  register "$name"
}

register() {
  local name=$1
  if ! wait_udp "$PORT" "$BG_PID" 20; then
    log "server $name did not start: $(tail -3 "$WORK/logs/$name.log" | tr '\n' ' ')"
    stop_pid "$BG_PID"
    return 1
  fi
  SPID[$name]=$BG_PID
  SPORT[$name]=$PORT
}

have_server() {
  [[ -n ${SPID[$1]:-} ]] && kill -0 "${SPID[$1]}" 2>/dev/null
}

stop_servers() {
  local name
  for name in "${!SPID[@]}"; do
    stop_pid "${SPID[$name]}" 5
  done
  SPID=()
  SPORT=()
}

# start_peer_servers NAME...: ours, ours-retry, gtls, gtls-retry, caddy, quicgo.
start_servers() {
  local name
  for name in "$@"; do
    case "$name" in
      ours) start_ours ours || true ;;
      ours-retry) start_ours ours-retry --retry || true ;;
      gtls) command -v gtlsserver >/dev/null && { start_gtls gtls || true; } ;;
      gtls-retry) command -v gtlsserver >/dev/null && { start_gtls gtls-retry -V || true; } ;;
      caddy) command -v caddy >/dev/null && { start_caddy caddy || true; } ;;
      quicgo) [[ -n $QUICGO_SERVER ]] && { start_quicgo quicgo || true; } ;;
    esac
  done
  return 0
}

# ------------------------------------------------------------------ scenario 0 + 1: bulk

# run_ceiling RUN THREADS
run_ceiling() {
  local run=$1 threads=$2 line
  if ! line=$(timeout 300 "$CEILING" --threads "$threads" --bytes "$BULK_BYTES" --timeout 240 \
    2>>"$WORK/logs/ceiling.err"); then
    note_failure "ceiling-${threads}t" "$run" "engine_ceiling failed: $(tail -1 "$WORK/logs/ceiling.err")"
    return 0
  fi
  local case=ceiling-${threads}t
  rec_kv bulk "$case" "$run" "$line" MBps server_cpu_s client_cpu_s server_us_per_pkt \
    client_us_per_pkt
  local gib
  gib=$(awk -v b="$BULK_BYTES" 'BEGIN {print b / 1073741824}')
  rec bulk "$case" "$run" server_cpu_per_gib "$(kv "$line" server_cpu_s | awk -v g="$gib" '{printf "%.3f", $1 / g}')"
  rec bulk "$case" "$run" client_cpu_per_gib "$(kv "$line" client_cpu_s | awk -v g="$gib" '{printf "%.3f", $1 / g}')"
}

# client_cmd CLIENT PORT FILE SERVER: sets CMD to the command of CLIENT for FILE on the server
# at https://127.0.0.1:PORT. ours, gtls, quicgo, ours-disk and gtls-disk download FILE (the disk
# variants into $DL); ours-up and gtls-up upload $WWW/FILE as a POST body, to /discard on our
# server (which reads the body and drops it) and to /1k.bin on gtlsserver (which reads it and
# then answers with that file).
client_cmd() {
  local client=$1 port=$2 file=$3 server=$4
  local url=https://127.0.0.1:$port/$file
  local sink=https://127.0.0.1:$port/1k.bin
  [[ $server == ours ]] && sink=https://127.0.0.1:$port/discard
  case "$client" in
    ours) CMD=("$CLIENT" -k -s -S -o /dev/null "$url") ;;
    ours-disk) CMD=("$CLIENT" -k -s -S -o "$DL/$file" "$url") ;;
    ours-up) CMD=("$CLIENT" -k -s -S -f -d "@$WWW/$file" "$sink") ;;
    gtls) CMD=(gtlsclient -q --exit-on-all-streams-close 127.0.0.1 "$port" "$url") ;;
    gtls-disk) CMD=(gtlsclient -q --exit-on-all-streams-close --download="$DL" 127.0.0.1 "$port" "$url") ;;
    gtls-up) CMD=(gtlsclient -q --exit-on-all-streams-close -m POST -d "$WWW/$file" 127.0.0.1 "$port" "$sink") ;;
    quicgo) CMD=("$H3CLIENT" -insecure "$url") ;;
  esac
}

# fixed_cost CLIENT PORT SERVER: the client's wall time for a 1 KiB download from (or upload to)
# the same server, the smaller of two tries: process start, TLS set-up, handshake, one round
# trip, close and exit.
# Clients differ here by up to ~0.1 s (asioquic-client stays for its closing period, 3 PTO,
# before exiting; gtlsclient does not), which would bias a 1-second transfer by 10%.
fixed_cost() {
  local client=$1 port=$2 server=$3 i t0 t1 best=''
  client_cmd "$client" "$port" 1k.bin "$server"
  for i in 1 2; do
    t0=$(now_ns)
    timeout 30 "${PIN_CLIENT[@]}" "${CMD[@]}" >/dev/null 2>&1 || return 0
    t1=$(now_ns)
    if [[ -z $best ]] || ((t1 - t0 < best)); then best=$((t1 - t0)); fi
  done
  rm -f "$DL/1k.bin"
  awk -v n="$best" 'BEGIN {printf "%.4f", n / 1e9}'
}

# run_bulk CASE RUN SERVER CLIENT: one download (or, for an -up client, upload) of big.bin. MB/s is computed over the client's
# wall time minus its fixed cost (see fixed_cost); the uncorrected figure is kept as
# MBps_process.
run_bulk() {
  local case=$1 run=$2 server=$3 client=$4
  if ! have_server "$server"; then
    note_failure "$case" "$run" "server $server not running"
    return 0
  fi
  if { [[ $client == quicgo ]] && [[ -z $H3CLIENT ]]; } ||
    { [[ $client == gtls* ]] && ! command -v gtlsclient >/dev/null; }; then
    note_failure "$case" "$run" "client not installed"
    return 0
  fi
  local port=${SPORT[$server]} pid=${SPID[$server]} fixed
  fixed=$(fixed_cost "$client" "$port" "$server")
  if [[ -z $fixed ]]; then
    note_failure "$case" "$run" "the 1 KiB transfer failed"
    return 0
  fi
  client_cmd "$client" "$port" big.bin "$server"
  rm -f "$DL/big.bin"
  local tfile=$WORK/time.out out=$WORK/client.out t0 t1 c0 c1 rc=0
  c0=$(cpu_ticks "$pid")
  t0=$(now_ns)
  /usr/bin/time -f '%U %S' -o "$tfile" timeout "$BULK_TIMEOUT" "${PIN_CLIENT[@]}" "${CMD[@]}" >"$out" 2>"$WORK/client.err" || rc=$?
  t1=$(now_ns)
  c1=$(cpu_ticks "$pid")
  local bytes=$BULK_BYTES
  case "$client" in
    *-disk) bytes=$(stat -c %s "$DL/big.bin" 2>/dev/null || echo 0) ;;
    quicgo) bytes=$(sed -n 's/.* bytes=\([0-9]*\) .*/\1/p' "$out" | head -1) ;;
    ours-up) [[ $server == ours ]] && bytes=$(sed -n 's/^{"length": \([0-9]*\)}$/\1/p' "$out") ;;
  esac
  rm -f "$DL/big.bin"
  [[ $client == *-disk ]] && sync
  if ((rc != 0)) || [[ ${bytes:-0} != "$BULK_BYTES" ]]; then
    note_failure "$case" "$run" "exit status $rc, ${bytes:-0} of $BULK_BYTES bytes: $(tail -2 "$WORK/client.err" | tr '\n' ' ')"
    return 0
  fi
  local wall client_cpu server_cpu gib
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.4f", (b - a) / 1e9}')
  client_cpu=$(awk '{printf "%.3f", $1 + $2}' "$tfile")
  server_cpu=$(ticks_to_s $((c1 - c0)))
  gib=$(awk -v b="$BULK_BYTES" 'BEGIN {print b / 1073741824}')
  rec bulk "$case" "$run" MBps "$(awk -v b="$BULK_BYTES" -v w="$wall" -v f="$fixed" 'BEGIN {printf "%.1f", b / (w - f) / 1e6}')"
  rec bulk "$case" "$run" MBps_process "$(awk -v b="$BULK_BYTES" -v w="$wall" 'BEGIN {printf "%.1f", b / w / 1e6}')"
  rec bulk "$case" "$run" fixed_ms "$(awk -v f="$fixed" 'BEGIN {printf "%.1f", f * 1000}')"
  rec bulk "$case" "$run" server_cpu_s "$server_cpu"
  rec bulk "$case" "$run" client_cpu_s "$client_cpu"
  rec bulk "$case" "$run" server_cpu_per_gib "$(awk -v c="$server_cpu" -v g="$gib" 'BEGIN {printf "%.3f", c / g}')"
  rec bulk "$case" "$run" client_cpu_per_gib "$(awk -v c="$client_cpu" -v g="$gib" 'BEGIN {printf "%.3f", c / g}')"
}

# The pairs, in the order of the first round; later rounds rotate it so that no pair always
# runs first or right after another one. CASE|SERVER|CLIENT (SERVER "ceiling": CLIENT = threads).
BULK_CASES=(
  "ceiling-2t|ceiling|2"
  "ours>ours|ours|ours"
  "gtls>gtls|gtls|gtls"
  "ours>gtls|ours|gtls"
  "gtls>ours|gtls|ours"
  "caddy>ours|caddy|ours"
  "quicgo>quicgo|quicgo|quicgo"
  "ceiling-1t|ceiling|1"
  "disk:ours>ours|ours|ours-disk"
  "disk:gtls>gtls|gtls|gtls-disk"
  "up:ours>ours|ours|ours-up"
  "up:gtls>gtls|gtls|gtls-up"
  "up:ours>gtls|ours|gtls-up"
  "up:gtls>ours|gtls|ours-up"
)

scenario_bulk() {
  local with_pairs=$1 run i n=${#BULK_CASES[@]} entry case server client
  if ((with_pairs)); then
    start_servers ours gtls caddy quicgo
  fi
  for ((run = 1; run <= RUNS; run++)); do
    for ((i = 0; i < n; i++)); do
      entry=${BULK_CASES[$(((i + run - 1) % n))]}
      IFS='|' read -r case server client <<<"$entry"
      if [[ $server == ceiling ]]; then
        log "bulk round $run/$RUNS: engine ceiling, $client thread(s)"
        run_ceiling "$run" "$client"
      elif ((with_pairs)); then
        log "bulk round $run/$RUNS: $case"
        run_bulk "$case" "$run" "$server" "$client"
      fi
    done
  done
  stop_servers
}

# ------------------------------------------------------------------ scenario 2 + 3: load

# run_load SCEN CASE RUN SERVER ARGS...: one asioquic-bench run; records its figures and the
# server's CPU per completed request (or handshake).
run_load() {
  local scen=$1 case=$2 run=$3 server=$4
  shift 4
  if ! have_server "$server"; then
    note_failure "$case" "$run" "server $server not running"
    return 0
  fi
  local port=${SPORT[$server]} pid=${SPID[$server]} c0 c1 t0 t1 line rc=0
  c0=$(cpu_ticks "$pid")
  t0=$(date +%s.%N)
  timeout 300 "${PIN_CLIENT[@]}" "$LOADGEN" -q "$@" "https://127.0.0.1:$port/1k.bin" >"$WORK/load.out" 2>&1 || rc=$?
  t1=$(date +%s.%N)
  c1=$(cpu_ticks "$pid")
  line=$(grep '^result ' "$WORK/load.out" || true)
  if [[ -z $line ]] || ((rc > 1)); then
    note_failure "$case" "$run" "asioquic-bench exit status $rc: $(tail -2 "$WORK/load.out" | tr '\n' ' ')"
    return 0
  fi
  local all
  all=$(kv "$line" all)
  rec_kv "$scen" "$case" "$run" "$line" rate p50_us p99_us errors all client_cpu_s resumed early
  if [[ $case == *+0rtt ]] && (($(kv "$line" early) == 0)); then
    note_failure "$case" "$run" "no connection had its 0-RTT data accepted (run kept)"
  fi
  # Which process limited the rate: each one's CPU over the run's wall time (1.00 = a whole
  # core), and the load generator's CPU per request next to the server's.
  local server_s client_s wall
  server_s=$(ticks_to_s $((c1 - c0)))
  client_s=$(kv "$line" client_cpu_s)
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
  rec "$scen" "$case" "$run" server_cpu_s "$server_s"
  rec "$scen" "$case" "$run" server_busy "$(awk -v c="$server_s" -v w="$wall" 'BEGIN {if (w > 0) printf "%.2f", c / w}')"
  rec "$scen" "$case" "$run" client_busy "$(awk -v c="$client_s" -v w="$wall" 'BEGIN {if (w > 0 && c != "") printf "%.2f", c / w}')"
  if ((all > 0)); then
    rec "$scen" "$case" "$run" server_cpu_us "$(awk -v c="$server_s" -v n="$all" 'BEGIN {printf "%.1f", c * 1e6 / n}')"
    rec "$scen" "$case" "$run" client_cpu_us "$(awk -v c="$client_s" -v n="$all" 'BEGIN {if (c != "") printf "%.1f", c * 1e6 / n}')"
  fi
  if ((rc == 1)); then
    note_failure "$case" "$run" "$(kv "$line" errors) failed requests (counted, run kept)"
  fi
}

# CASE|SERVER, in the order of the first round (later rounds rotate it).
REQUEST_CASES=("ours|ours" "gtls|gtls" "caddy|caddy")
# "+resume": the load generator resumes TLS with each slot's last ticket (--resume), on the same
# servers: no certificate, signature or verification, so the servers' share of the work grows.
# "+0rtt": resumed the same way, and the request goes as 0-RTT early data (--early-data).
HANDSHAKE_CASES=("ours|ours" "gtls|gtls" "ours+retry|ours-retry" "gtls+retry|gtls-retry" "caddy|caddy"
  "ours+resume|ours" "gtls+resume|gtls" "ours+0rtt|ours" "gtls+0rtt|gtls")

scenario_requests() {
  local run i n=${#REQUEST_CASES[@]} case server
  start_servers ours gtls caddy
  for ((run = 1; run <= RUNS; run++)); do
    for ((i = 0; i < n; i++)); do
      IFS='|' read -r case server <<<"${REQUEST_CASES[$(((i + run - 1) % n))]}"
      log "requests round $run/$RUNS: $case"
      run_load requests "$case" "$run" "$server" -c "$REQ_CONNS" -m "$REQ_STREAMS" \
        -t "$REQ_THREADS" -D "$REQ_SECONDS" --warm-up "$REQ_WARM" --max-time 120
    done
  done
  stop_servers
}

scenario_handshakes() {
  local run i n=${#HANDSHAKE_CASES[@]} case server
  start_servers ours ours-retry gtls gtls-retry caddy
  for ((run = 1; run <= RUNS; run++)); do
    for ((i = 0; i < n; i++)); do
      IFS='|' read -r case server <<<"${HANDSHAKE_CASES[$(((i + run - 1) % n))]}"
      log "handshakes round $run/$RUNS: $case"
      local resume=()
      [[ $case == *+resume ]] && resume=(--resume)
      [[ $case == *+0rtt ]] && resume=(--resume --early-data)
      run_load handshakes "$case" "$run" "$server" --handshakes "${resume[@]}" -c "$HS_SLOTS" \
        -D "$HS_SECONDS" --warm-up "$HS_WARM" --max-time 120
    done
  done
  stop_servers
}

# ------------------------------------------------------------------ scenario 4: idle

scenario_idle() {
  local conns=$IDLE_CONNS limit
  # Each client connection has a UDP socket of its own: the load generator needs that many
  # descriptors (the server needs one).
  limit=$(ulimit -Hn)
  if [[ $limit != unlimited ]] && ((limit < conns + 200)); then
    ulimit -Hn $((conns + 1000)) 2>/dev/null || true
    limit=$(ulimit -Hn)
  fi
  ulimit -Sn "$limit" 2>/dev/null || true
  if [[ $(ulimit -Sn) != unlimited ]] && (($(ulimit -Sn) < conns + 200)); then
    conns=$(($(ulimit -Sn) - 200))
    log "idle: file descriptor limit $(ulimit -Sn): $conns connections instead of $IDLE_CONNS"
  fi
  # A fresh server, so that its baseline is not inflated by earlier scenarios.
  start_ours idle --idle-timeout 600000 || { note_failure idle 1 "server did not start"; return 0; }
  local pid=${SPID[idle]} port=${SPORT[idle]}
  # The baseline includes what the first connection allocates once (TLS, buffers, pools).
  timeout 60 "${PIN_CLIENT[@]}" "$LOADGEN" -q -c 1 -n 10 "https://127.0.0.1:$port/1k.bin" >/dev/null 2>&1 || true
  sleep 1
  local rss0 cpu_ready cpu_end rss1 rss2 out=$WORK/idle.out ready='' i
  rss0=$(rss_kib "$pid")
  log "idle: opening $conns connections (server RSS $rss0 KiB)"
  local hold=$((IDLE_MEASURE + 3))
  start_bg "$out" timeout $((hold + 300)) "${PIN_CLIENT[@]}" "$LOADGEN" --idle -c "$conns" --connect-parallel 64 -D "$hold" \
    --idle-timeout 600 --max-time $((hold + 240)) "https://127.0.0.1:$port/1k.bin"
  local gen=$BG_PID
  for ((i = 0; i < 2400; i++)); do  # at most 240 s to open them
    ready=$(grep '^idle-ready ' "$out" || true)
    [[ -n $ready ]] && break
    kill -0 "$gen" 2>/dev/null || break
    sleep 0.1
  done
  if [[ -z $ready ]]; then
    note_failure idle 1 "the connections were not all opened: $(tail -3 "$out" | tr '\n' ' ')"
    stop_pid "$gen"
    stop_servers
    return 0
  fi
  sleep 1  # the last handshakes' ACKs and NEW_CONNECTION_IDs settle
  rss1=$(rss_kib "$pid")
  cpu_ready=$(cpu_ticks "$pid")
  sleep "$IDLE_MEASURE"
  cpu_end=$(cpu_ticks "$pid")
  rss2=$(rss_kib "$pid")
  for ((i = 0; i < 600; i++)); do
    kill -0 "$gen" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$gen"
  local open
  open=$(kv "$ready" connections)
  rec idle idle 1 connections "$open"
  rec idle idle 1 ramp_s "$(kv "$ready" ramp_seconds)"
  rec idle idle 1 server_rss_base_kib "$rss0"
  rec idle idle 1 server_rss_kib "$rss2"
  rec idle idle 1 kib_per_conn "$(awk -v a="$rss0" -v b="$rss1" -v n="$open" 'BEGIN {printf "%.1f", (n > 0 ? (b - a) / n : 0)}')"
  rec idle idle 1 idle_cpu_ms_per_s "$(awk -v t=$((cpu_end - cpu_ready)) -v hz="$CLK_TCK" -v s="$IDLE_MEASURE" 'BEGIN {printf "%.1f", t / hz * 1000 / s}')"
  rec idle idle 1 measure_s "$IDLE_MEASURE"
  rec idle idle 1 client_kib_per_conn "$(awk -v r="$(kv "$ready" client_rss_kib)" -v n="$open" 'BEGIN {printf "%.1f", (n > 0 ? r / n : 0)}')"
  stop_servers
}

# ------------------------------------------------------------------ scenario 5: callgrind

# callgrind_total FILE: the Ir total of a callgrind dump.
callgrind_total() {
  awk '/^totals:/ {print $2; exit}' "$1"
}

# cgctl ARGS...: callgrind_control, bounded (it talks to valgrind through vgdb).
cgctl() {
  timeout 60 callgrind_control "$@" >/dev/null
}

# callgrind_top DUMP OUT: the top functions, by own and by inclusive instructions.
callgrind_top() {
  {
    echo "== by own instructions (self)"
    callgrind_annotate "$1" 2>/dev/null | sed -n '/^Ir /,$p' | sed -n '6,35p' | cut -c1-220
    echo
    echo "== by inclusive instructions (callees counted)"
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | sed -n '/^Ir /,$p' | sed -n '6,45p' |
      cut -c1-220
  } >"$2" || true
}

# cg_measure PID DIR TOP_FILE CMD...: zeroes the counters of the instrumented server PID, runs
# CMD with instrumentation on, dumps, and sets CG_IR to the instructions the server executed
# (empty if CMD failed). Writes the top functions to TOP_FILE unless it is "-".
cg_measure() {
  local vg=$1 dir=$2 top=$3 dump
  shift 3
  CG_IR=''
  cgctl -z "$vg" && cgctl -i on "$vg"
  if "$@" >"$WORK/cg-cmd.out" 2>&1; then
    cgctl -d "$vg"
    dump=$(ls -t "$dir"/cg.*.out.* 2>/dev/null | head -1)
    CG_IR=$(callgrind_total "$dump")
    [[ $top != - ]] && callgrind_top "$dump" "$top"
  fi
  cgctl -i off "$vg"
  return 0
}

scenario_callgrind() {
  if ! command -v valgrind >/dev/null || ! command -v callgrind_control >/dev/null; then
    log "callgrind: valgrind not installed (scripts/install-deps.sh --tools): skipped"
    note_failure callgrind 1 "valgrind not installed"
    return 0
  fi
  local dir=$WORK/callgrind
  mkdir -p "$dir"
  next_port
  # Instrumentation off until a workload starts: start-up (certificate, TLS set-up) is not
  # counted, and the server starts at native speed.
  log "callgrind: asioquic-server under valgrind --tool=callgrind"
  start_bg "$WORK/logs/callgrind.log" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$dir/cg.%p.out" "$SERVER" --listen "127.0.0.1:$PORT" --root "$WWW" \
    --cert "$CERT" --key "$KEY" -q
  local vg=$BG_PID url=https://127.0.0.1:$PORT
  if ! wait_udp "$PORT" "$vg" 60; then
    note_failure callgrind 1 "the server did not start under valgrind"
    stop_pid "$vg"
    return 0
  fi
  # Bulk: our client downloads cg.bin (one handshake included).
  cg_measure "$vg" "$dir" "$WORK/callgrind-bulk.txt" \
    timeout 300 "$CLIENT" -k -s -S -o /dev/null "$url/cg.bin"
  if [[ -n $CG_IR ]]; then
    rec callgrind bulk 1 instructions "$CG_IR"
    rec callgrind bulk 1 per_unit "$(awk -v i="$CG_IR" -v b="$CG_BULK_BYTES" 'BEGIN {printf "%.0f", i / (b / 1e6)}')"
  else
    note_failure callgrind 1 "bulk download under callgrind failed: $(tail -2 "$WORK/cg-cmd.out" | tr '\n' ' ')"
  fi
  # Small requests, the shape of scenario 2, at two counts on 2 connections: the difference is
  # the marginal cost of a request, free of the handshakes and of anything done once.
  local small=$((CG_REQUESTS / 5)) ir_small ir_large
  cg_measure "$vg" "$dir" - timeout 400 "$LOADGEN" -q -c 2 -m "$REQ_STREAMS" -n "$small" \
    --max-time 300 "$url/1k.bin"
  ir_small=$CG_IR
  cg_measure "$vg" "$dir" "$WORK/callgrind-requests.txt" timeout 400 "$LOADGEN" -q -c 2 \
    -m "$REQ_STREAMS" -n "$CG_REQUESTS" --max-time 300 "$url/1k.bin"
  ir_large=$CG_IR
  if [[ -n $ir_small && -n $ir_large ]]; then
    rec callgrind requests 1 instructions "$ir_large"
    rec callgrind requests 1 per_unit "$(awk -v a="$ir_small" -v b="$ir_large" -v n=$((CG_REQUESTS - small)) 'BEGIN {printf "%.0f", (b - a) / n}')"
  else
    note_failure callgrind 1 "requests under callgrind failed: $(tail -2 "$WORK/cg-cmd.out" | tr '\n' ' ')"
  fi
  # Handshakes, the shape of scenario 3 (each with one 1 KiB GET and a close).
  local hs=$((CG_REQUESTS / 20))
  cg_measure "$vg" "$dir" "$WORK/callgrind-handshakes.txt" timeout 400 "$LOADGEN" -q \
    --handshakes -c 4 -n "$hs" --max-time 300 "$url/1k.bin"
  if [[ -n $CG_IR ]]; then
    rec callgrind handshakes 1 instructions "$CG_IR"
    rec callgrind handshakes 1 per_unit "$(awk -v i="$CG_IR" -v n="$hs" 'BEGIN {printf "%.0f", i / n}')"
  else
    note_failure callgrind 1 "handshakes under callgrind failed: $(tail -2 "$WORK/cg-cmd.out" | tr '\n' ' ')"
  fi
  stop_pid "$vg" 20
}

# ------------------------------------------------------------------ main

# report_only: rebuilds the Markdown report and the chart from a raw file of an earlier run.
report_only() {
  RAW=$REPORT_FROM
  [[ -s $RAW ]] || { echo "run.sh: $RAW: no such raw file" >&2; exit 2; }
  load_meta "$RAW"
  [[ -n $MODE ]] || { echo "run.sh: $RAW has no meta records" >&2; exit 2; }
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/asioquic-bench.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$OUT_DIR"
  [[ $RAW -ef $OUT_DIR/$MODE-raw.tsv ]] || cp "$RAW" "$OUT_DIR/$MODE-raw.tsv"
  write_report "$OUT_DIR/$MODE.md"
  write_chart "$OUT_DIR/$MODE.png" || log "gnuplot not installed or failed: no chart"
  log "report: $OUT_DIR/$MODE.md"
}

# install_tools OPTION...: scripts/install-deps.sh with OPTIONs (--interop: the peers Caddy and
# Go + quic-go; --tools: gnuplot, valgrind), quick when they are there already. Without them
# what needs them is skipped, each with a note.
install_tools() {
  local log_file
  log_file=$(mktemp "${TMPDIR:-/tmp}/asioquic-bench-deps.XXXXXX")
  if "$ROOT/scripts/install-deps.sh" "$@" >"$log_file" 2>&1; then
    rm -f "$log_file"
  else
    log "scripts/install-deps.sh $* failed ($log_file): what it did not install is skipped"
  fi
}

main() {
  parse_args "$@"
  if [[ -n $REPORT_FROM ]]; then
    install_tools --tools  # the chart
    report_only
    return 0
  fi
  install_tools --interop --tools
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/asioquic-bench.XXXXXX")
  RAW=$WORK/raw.tsv
  : >"$RAW"
  trap 'stop_servers; stop_all_bg; if ((KEEP)); then echo "work directory: $WORK" >&2; else rm -rf "$WORK"; fi' EXIT
  trap 'exit 130' INT TERM
  local started
  started=$(date +%s)

  build
  want bulk && build_go
  make_fixtures
  META_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
  META_COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- src include 2>/dev/null) ]]; then
    META_COMMIT="$META_COMMIT + uncommitted changes in src/ or include/"
  fi
  META_LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  META_MACHINE="$(nproc) CPUs, $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), Linux $(uname -r)"
  set_pinning "$PIN"
  log "pinning: $PINNING"
  log "calibrating (openssl speed -evp aes-128-gcm -bytes 16384 -seconds 1)"
  CALIB_START=$(calibrate)
  log "calibration: $CALIB_START MB/s; load average $META_LOAD_START"

  if want bulk; then
    scenario_bulk 1
  elif want ceiling; then
    scenario_bulk 0
  fi
  want requests && scenario_requests
  want handshakes && scenario_handshakes
  want idle && scenario_idle
  want callgrind && scenario_callgrind

  CALIB_END=$(calibrate)
  META_LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
  META_ELAPSED=$(($(date +%s) - started))
  log "calibration at the end: $CALIB_END MB/s; load average $META_LOAD_END; ${META_ELAPSED}s"

  save_meta
  mkdir -p "$OUT_DIR"
  write_report "$OUT_DIR/$MODE.md"
  cp "$RAW" "$OUT_DIR/$MODE-raw.tsv"
  for f in callgrind-bulk callgrind-requests callgrind-handshakes; do
    [[ -s $WORK/$f.txt ]] && cp "$WORK/$f.txt" "$OUT_DIR/$MODE-$f.txt"
  done
  write_chart "$OUT_DIR/$MODE.png" || log "gnuplot not installed or failed: no chart"
  log "report: $OUT_DIR/$MODE.md"
  cat "$OUT_DIR/$MODE.md"
}

main "$@"
