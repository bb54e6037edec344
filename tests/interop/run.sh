#!/usr/bin/env bash
# Interop tests: asioquic-server and asioquic-client against HTTP/3 implementations we did not
# write (ngtcp2's gtlsserver/gtlsclient, quic-go, headless Chromium, Caddy), plus the tools-level
# integration tests of our server with our client (the ours-* cases). See README.md here.
#
# Usage: tests/interop/run.sh BUILD_DIR
#   BUILD_DIR has tools/asioquic-server and tools/asioquic-client (a Release build); the Go
#   programs (our quic-go client, quic-go's example server) are built into BUILD_DIR/interop/.
# Environment:
#   INTEROP_PORT_BASE     first port to try (default: derived from the PID, 20000-59990); each
#                         case takes the next port free for both UDP and TCP
#   INTEROP_CASES         extended regex: run only the cases whose name matches
#   INTEROP_CASE_TIMEOUT  seconds after which a case is killed and failed (default 150)
#   INTEROP_KEEP=1        keep the work directory (logs, downloads) and print where it is
# Output: "PASS name (details)" or "FAIL name: reason" per case, then exactly one line
# "interop: N passed, M failed". Exit status 1 if M > 0.
set -euo pipefail
export LC_ALL=C

usage() {
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
}
[[ $# -eq 1 && -d "$1" ]] || usage

SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/lib/caddy.sh
source "$SCRIPT_DIR/../../scripts/lib/caddy.sh"
BUILD_DIR=$(cd "$1" && pwd)
SERVER=$BUILD_DIR/tools/asioquic-server
CLIENT=$BUILD_DIR/tools/asioquic-client
GO_OUT=$BUILD_DIR/interop
H3CLIENT=$GO_OUT/h3client           # tests/interop/quicgo/client
QUICGO_SERVER=$GO_OUT/quicgo-server # github.com/lucas-clemente/quic-go/example
QUICGO_SRC=/usr/share/gocode/src/github.com/lucas-clemente/quic-go
QUICGO_CA=$QUICGO_SRC/internal/testdata/ca.pem # signs the example server's certificate
CASE_TIMEOUT=${INTEROP_CASE_TIMEOUT:-150}
NEXT_PORT=${INTEROP_PORT_BASE:-$((20000 + ($$ % 4000) * 10))}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/asioquic-interop.XXXXXX")
WWW=$WORK/www
CERT=$WORK/cert.pem
KEY=$WORK/key.pem
PASSED=0
FAILED=0
CASE_PID=

# ------------------------------------------------------------------ process bookkeeping

# True while $1 runs (a zombie, exited but not yet reaped, counts as ended).
alive() {
  local state
  state=$(sed -E 's/.*\) ([A-Z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ $state != Z ]]
}

# Kills every process a case recorded in its pids file (only ours, by PID), TERM then KILL.
kill_recorded() {  # $1 = pids file
  local pid i
  [[ -f $1 ]] || return 0
  while read -r pid; do
    alive "$pid" && kill -TERM "$pid" 2>/dev/null || true
  done <"$1"
  for ((i = 0; i < 30; i++)); do
    local any=0
    while read -r pid; do alive "$pid" && any=1; done <"$1"
    [[ $any == 0 ]] && return 0
    sleep 0.1
  done
  while read -r pid; do
    alive "$pid" && kill -KILL "$pid" 2>/dev/null || true
  done <"$1"
}

cleanup() {
  trap - EXIT INT TERM
  if [[ -n $CASE_PID ]] && alive "$CASE_PID"; then kill -TERM "$CASE_PID" 2>/dev/null || true; fi
  local f
  for f in "$WORK"/cases/*/pids; do [[ -f $f ]] && kill_recorded "$f"; done
  if [[ ${INTEROP_KEEP:-0} == 1 ]]; then
    echo "interop: work directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# ------------------------------------------------------------------ helpers for cases
# These run inside a case's subshell, whose current directory is its CASE_DIR.

# Ends the case as failed with a reason (the first reason given wins).
fail() {
  [[ -s $CASE_DIR/reason ]] || printf '%s\n' "$*" >"$CASE_DIR/reason"
  exit 1
}

# Adds a detail to the PASS line (transfer times).
note() { printf '%s\n' "$*" >>"$CASE_DIR/notes"; }

# The last lines of a log, on one line, for a failure reason.
tail_of() { { tail -n "${2:-3}" "$1" 2>/dev/null || true; } | tr '\n' '|' | sed 's/|$//; s/|/ | /g'; }

need() {
  local c
  for c in "$@"; do
    command -v "$c" >/dev/null 2>&1 || [[ -x $c ]] || fail "not installed: $c"
  done
}

# Runs a command and sets ELAPSED to its wall time in seconds; returns the command's status.
timed() {
  local t0=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  ELAPSED=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  return "$rc"
}

# "100 MB in 0.91 s (110 MB/s)"
rate() {  # $1 = bytes, $2 = seconds
  awk -v n="$1" -v t="$2" 'BEGIN { printf "%g MB in %.2f s (%.0f MB/s)", n / 1e6, t, (t > 0 ? n / 1e6 / t : 0) }'
}

# Polls a condition every 0.1 s: true once `cmd` succeeds; false if PID ended or after TRIES.
wait_until() {  # $1 = pid, $2 = tries, rest = cmd
  local pid=$1 tries=$2 i
  shift 2
  for ((i = 0; i < tries; i++)); do
    "$@" && return 0
    alive "$pid" || return 1
    sleep 0.1
  done
  return 1
}

udp_bound() { ss -Hlun "sport = :$1" 2>/dev/null | grep -q .; }

# Starts a command in the background, recorded for cleanup; sets BG_PID.
start_bg() {  # $1 = log file, rest = command
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  echo "$BG_PID" >>"$CASE_DIR/pids"
}

# Stops a background process: signal, bounded wait, KILL if needed. Sets STOP_RC to its status.
stop_bg() {  # $1 = pid, $2 = signal (default TERM), $3 = tenths of a second to wait (default 100)
  local pid=$1 i
  kill -"${2:-TERM}" "$pid" 2>/dev/null || true
  for ((i = 0; i < ${3:-100}; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  alive "$pid" && kill -KILL "$pid" 2>/dev/null
  STOP_RC=0
  wait "$pid" 2>/dev/null || STOP_RC=$?
}

# asioquic-server on 127.0.0.1:$PORT, logging to server.log; waits for its banner.
start_our_server() {  # args: extra server options
  start_bg server.log "$SERVER" --listen "127.0.0.1:$PORT" --drain-timeout 3000 "$@"
  SERVER_PID=$BG_PID
  wait_until "$SERVER_PID" 100 grep -q '^SPKI pin' server.log ||
    fail "asioquic-server did not start: $(tail_of server.log)"
}

# A graceful stop (SIGTERM: GOAWAY, drain) must end with exit status 0.
stop_our_server() {
  stop_bg "$SERVER_PID" TERM 100
  [[ $STOP_RC == 0 ]] || fail "asioquic-server exited with status $STOP_RC on SIGTERM: $(tail_of server.log)"
}

# A peer server; waits until it has bound UDP $PORT.
start_peer() {  # $1 = log, rest = command
  local log=$1
  start_bg "$@"
  PEER_PID=$BG_PID
  wait_until "$PEER_PID" 150 udp_bound "$PORT" ||
    fail "the peer (${log%.log}) did not listen on UDP port $PORT: $(tail_of "$log")"
}

stop_peer() { stop_bg "$PEER_PID" TERM 50; }

# A relay delaying every datagram by 5 ms, in front of the server on $PORT; sets RELAY_PORT.
# For a client whose early data may leave late: quic-go's h3client writes its 0-RTT request
# from another goroutine once the ClientHello is out, and on bare loopback the server's whole
# first flight can be back before that, so the request would go in 1-RTT.
start_delay_relay() {
  local relay=$BUILD_DIR/tests/impairment/impairment_relay
  [[ -x $relay ]] || fail "impairment_relay is not built in $BUILD_DIR"
  start_bg relay.log "$relay" --listen 127.0.0.1:0 --server "127.0.0.1:$PORT" --delay 5 --duration 120
  wait_until "$BG_PID" 50 grep -q 'listening on 127\.0\.0\.1:' relay.log ||
    fail "impairment_relay did not start: $(tail_of relay.log)"
  RELAY_PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\),.*/\1/p' relay.log)
}

same_file() {  # $1 = received, $2 = original
  [[ -f $1 ]] || fail "$1 was not written"
  cmp -s "$1" "$2" || fail "$1 differs from $2 ($(stat -c %s "$1") vs $(stat -c %s "$2") bytes)"
}

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# The bytes of asioquic-server's /bytes/N: byte i is (i mod 65521) mod 251.
gen_pattern() {  # $1 = N
  perl -e 'my $n = shift; my $p = join("", map { chr($_ % 251) } 0 .. 65520); binmode STDOUT;
           while ($n > 0) { my $k = $n < 65521 ? $n : 65521; print substr($p, 0, $k); $n -= $k; }' "$1"
}

# The server's request log: METHOD PATH STATUS bytes=N time=T conn=ID stream=S
log_lines() { grep -E '^[A-Z]+ /' server.log || true; }
distinct_conns() { log_lines | grep -oE 'conn=[0-9a-f]+' | sort -u | wc -l; }

# Every request line has status $2 and there are $1 of them, all on one connection.
expect_log_one_conn() {  # $1 = request count, $2 = status
  local n bad conns
  n=$(log_lines | wc -l)
  [[ $n == "$1" ]] || fail "server logged $n requests, expected $1: $(tail_of server.log)"
  bad=$(log_lines | awk -v s="$2" '$3 != s' | head -n1)
  [[ -z $bad ]] || fail "unexpected status in the server log: $bad"
  conns=$(distinct_conns)
  [[ $conns == 1 ]] || fail "the requests came over $conns connections, expected 1"
}

# ------------------------------------------------------------------ our server <- gtlsclient

# ngtcp2's client (it verifies no certificate). $1 = download dir, then options (each one word
# starting with -, e.g. --version=v2draft), then URLs.
gtlsclient_get() {
  local dir=$1 opts=()
  shift
  while [[ ${1:-} == -* ]]; do
    opts+=("$1")
    shift
  done
  timeout 90 gtlsclient -q --exit-on-all-streams-close "${opts[@]}" --download="$dir" 127.0.0.1 \
    "$PORT" "$@" >gtlsclient.log 2>&1
}

case_srv_gtlsclient_files() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local u=https://127.0.0.1:$PORT
  mkdir dl
  gtlsclient_get dl "$u/hello.html" "$u/small.bin" "$u/1M.bin" "$u/sub/data.json" "$u/one.bin" ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  local f
  for f in hello.html small.bin 1M.bin one.bin; do same_file "dl/$f" "$WWW/$f"; done
  same_file dl/data.json "$WWW/sub/data.json"
  stop_our_server
  expect_log_one_conn 5 200
}

# With -q and no --root, every answer comes from the server's fast path (the built-in site is
# held in memory), which then completes its responses detached: nobody waits for them.
case_srv_gtlsclient_quiet_demo() {
  need gtlsclient
  start_our_server -q
  local u=https://127.0.0.1:$PORT f
  mkdir dl
  gtlsclient_get dl "$u/index.html" "$u/style.css" "$u/app.js" "$u/img/circle.svg" ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  for f in index.html style.css app.js circle.svg; do
    [[ -s dl/$f ]] || fail "dl/$f is missing or empty"
  done
  grep -q '<link rel="stylesheet" href="/style.css">' dl/index.html ||
    fail "dl/index.html is not the demo page: $(head -c 200 dl/index.html)"
  grep -q '<svg' dl/circle.svg || fail "dl/circle.svg is not an SVG image"
  stop_our_server
  [[ -z $(log_lines) ]] || fail "-q logged requests: $(log_lines | head -n1)"
}

case_srv_gtlsclient_100m() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  mkdir dl
  timed gtlsclient_get dl "https://127.0.0.1:$PORT/big.bin" ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  same_file dl/big.bin "$WWW/big.bin"
  note "$(rate 100000000 "$ELAPSED")"
  stop_our_server
  expect_log_one_conn 1 200
}

case_srv_gtlsclient_bytes() {
  need gtlsclient
  start_our_server --cert "$CERT" --key "$KEY"
  local u=https://127.0.0.1:$PORT n
  mkdir dl
  gtlsclient_get dl "$u/bytes/0" "$u/bytes/1" "$u/bytes/65537" "$u/bytes/1000000" ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  for n in 0 1 65537 1000000; do
    gen_pattern "$n" >"expected.$n"
    same_file "dl/$n" "expected.$n"
  done
  stop_our_server
  expect_log_one_conn 4 200
}

# gtlsclient updates the keys 1 ms after the handshake; the download then needs the server's
# next-phase keys both ways (the client's ACKs, and the rest of the body). Not -q: the log proves
# the update happened, and 200 kB keeps its per-packet lines short of a second.
case_srv_gtlsclient_key_update() {
  need gtlsclient
  start_our_server --cert "$CERT" --key "$KEY"
  mkdir dl
  timeout 90 gtlsclient --exit-on-all-streams-close --key-update=1ms --download=dl 127.0.0.1 \
    "$PORT" "https://127.0.0.1:$PORT/bytes/200000" >gtlsclient.log 2>&1 ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  grep -q 'Initiate key update' gtlsclient.log || fail "gtlsclient did not update its keys"
  gen_pattern 200000 >expected
  same_file dl/200000 expected
  stop_our_server
  expect_log_one_conn 1 200
}

# Resumption with 0-RTT: the second connection sends its request in 0-RTT packets only; the
# response proves the server accepted them (a rejection makes gtlsclient resend it in 1-RTT).
# gtlsclient run $1 for small.bin, keeping its session ticket and the server's transport
# parameters between runs (the second run resumes and tries 0-RTT); its log is gtlsclient$1.log.
gtlsclient_resuming_run() {  # $1 = run
  mkdir "dl$1"
  timeout 90 gtlsclient --exit-on-all-streams-close --session-file=session --tp-file=tp \
    --download="dl$1" 127.0.0.1 "$PORT" "https://127.0.0.1:$PORT/small.bin" >"gtlsclient$1.log" 2>&1 ||
    fail "gtlsclient run $1 exited with status $?: $(tail_of "gtlsclient$1.log")"
  same_file "dl$1/small.bin" "$WWW/small.bin"
}

case_srv_gtlsclient_0rtt() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  gtlsclient_resuming_run 1
  gtlsclient_resuming_run 2
  grep -qE 'frm tx [0-9]+ 0RTT STREAM\([^)]*\) id=0x0 ' gtlsclient2.log ||
    fail "the resumed connection sent no request in 0-RTT"
  if grep -qE 'frm tx [0-9]+ 1RTT STREAM\([^)]*\) id=0x0 ' gtlsclient2.log; then
    fail "the server rejected 0-RTT: the request went again in 1-RTT"
  fi
  stop_our_server
  # Answered before the handshake completed (0.5-RTT): the request log marks it "early".
  [[ $(log_lines | grep -c ' early$') == 1 ]] ||
    fail "expected the second run's request answered as early data: $(log_lines)"
}

# The upload sink: gtlsclient and our client each POST 100 MB to /discard, which reads the body,
# drops it and answers with its length (bench/run.sh's upload rows use it).
case_srv_discard() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local size want
  size=$(stat -c %s "$WWW/big.bin")
  want="{\"length\": $size}"
  mkdir -p dl
  timeout 90 gtlsclient -q --exit-on-all-streams-close --download=dl -m POST --data="$WWW/big.bin" \
    127.0.0.1 "$PORT" "https://127.0.0.1:$PORT/discard" >gtlsclient.log 2>&1 ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  [[ $(cat dl/discard 2>/dev/null) == "$want" ]] ||
    fail "gtlsclient got '$(head -c 200 dl/discard 2>/dev/null)', expected '$want'"
  timed ours_client -f -d "@$WWW/big.bin" "https://127.0.0.1:$PORT/discard" >reply.json 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  [[ $(cat reply.json) == "$want" ]] || fail "asioquic-client got '$(head -c 200 reply.json)', expected '$want'"
  stop_our_server
  [[ $(log_lines | grep -c '^POST /discard 200 ') == 2 ]] || fail "server log: $(log_lines)"
  note "gtlsclient and asioquic-client: 100 MB each, length answered; ours $(rate "$size" "$ELAPSED")"
}

# The reverse proxy example (examples/h3-proxy) in front of our server, verifying it: 100 MB
# down and 100 MB up stream through it as the Buffers async_read_buffer hands over, statuses
# pass through, gtlsclient fetches through it too, and every request shares one upstream
# connection.
case_proxy_example() {
  local proxy=$BUILD_DIR/examples/h3_reverse_proxy
  need "$proxy" gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  start_bg proxy.log "$proxy" 127.0.0.1:0 127.0.0.1 "$PORT" "$CERT"
  local proxy_pid=$BG_PID
  wait_until "$proxy_pid" 100 grep -q '^proxying ' proxy.log ||
    fail "h3_reverse_proxy did not start: $(tail_of proxy.log)"
  local via size sha rc=0
  via=$(sed -n 's|^proxying https://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' proxy.log)
  size=$(stat -c %s "$WWW/big.bin")
  sha=$(sha_of "$WWW/big.bin")
  # The proxy's own certificate is a fresh self-signed one: -k.
  timed timeout 90 "$CLIENT" -k -s -S -f -o got "https://127.0.0.1:$via/big.bin" 2>client.err ||
    fail "GET through the proxy: asioquic-client exited with status $?: $(tail_of client.err)"
  same_file got "$WWW/big.bin"
  local down=$ELAPSED
  timed timeout 90 "$CLIENT" -k -s -S -f -d "@$WWW/big.bin" "https://127.0.0.1:$via/upload" \
    >reply.json 2>client.err ||
    fail "POST through the proxy: asioquic-client exited with status $?: $(tail_of client.err)"
  [[ $(cat reply.json) == "{\"length\": $size, \"sha256\": \"$sha\"}" ]] ||
    fail "the upstream saw '$(head -c 200 reply.json)', sent $size bytes with sha256 $sha"
  local up=$ELAPSED
  timeout 30 "$CLIENT" -k -s -S -f -o /dev/null "https://127.0.0.1:$via/missing" 2>client.err || rc=$?
  [[ $rc == 22 ]] || fail "a missing file through the proxy: exit status $rc, expected 22 (404)"
  mkdir -p dl
  timeout 60 gtlsclient -q --exit-on-all-streams-close --download=dl 127.0.0.1 "$via" \
    "https://127.0.0.1:$via/small.bin" >gtlsclient.log 2>&1 ||
    fail "gtlsclient through the proxy exited with status $?: $(tail_of gtlsclient.log)"
  same_file dl/small.bin "$WWW/small.bin"
  # Graceful on SIGTERM; under the sanitizers a leak would make the status non-zero.
  stop_bg "$proxy_pid" TERM 100
  [[ $STOP_RC == 0 ]] || fail "h3_reverse_proxy exited with status $STOP_RC on SIGTERM: $(tail_of proxy.log)"
  stop_our_server
  [[ $(log_lines | grep -c -E '^(GET /big.bin 200|POST /upload 200|GET /missing 404|GET /small.bin 200) ') == 4 ]] ||
    fail "upstream log: $(log_lines)"
  [[ $(distinct_conns) == 1 ]] || fail "expected one upstream connection: $(log_lines)"
  note "100 MB down in $down s, 100 MB up in $up s, a 404 and gtlsclient's GET, on one upstream connection"
}

# gtlsclient POSTs to /upload twice; its second POST comes as 0-RTT early data, which may be a
# replay, so asioquic-server answers it 425 (Too Early) before the handshake completes.
case_srv_gtlsclient_0rtt_post() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local run
  for run in 1 2; do
    timeout 90 gtlsclient --exit-on-all-streams-close --session-file=session --tp-file=tp \
      -m POST --data="$WWW/small.bin" 127.0.0.1 "$PORT" "https://127.0.0.1:$PORT/upload" \
      >"gtlsclient$run.log" 2>&1 || fail "gtlsclient run $run exited with status $?: $(tail_of "gtlsclient$run.log")"
  done
  grep -qE 'frm tx [0-9]+ 0RTT STREAM\([^)]*\) id=0x0 ' gtlsclient2.log ||
    fail "the resumed connection sent no request in 0-RTT"
  stop_our_server
  log_lines | grep -qE '^POST /upload 200 .* stream=0$' || fail "first POST: $(log_lines)"
  log_lines | grep -qE '^POST /upload 425 .* stream=0 early$' || fail "second POST: $(log_lines)"
  note "POST in 1-RTT: 200; POST as early data: 425, answered early"
}

# Two server processes in turn, sharing a --secret-file: gtlsclient's second run resumes TLS with
# the ticket the first process issued (the ServerHello selects its PSK), and its 0-RTT request is
# refused (no anti-replay cache spans processes) and goes again in 1-RTT.
case_srv_gtlsclient_restart() {
  need gtlsclient
  openssl rand -hex 32 >secret.hex
  local run
  for run in 1 2; do
    start_our_server --root "$WWW" --cert "$CERT" --key "$KEY" --secret-file secret.hex
    gtlsclient_resuming_run "$run"
    stop_our_server
  done
  # The ServerHello (the first Initial CRYPTO data the client logs, in hex) carries
  # pre_shared_key (0x0029) with selected identity 0.
  awk '/Ordered CRYPTO data in Initial crypto level/ {on = 1; next}
       on && /^[0-9a-f]+  / {for (i = 2; i <= 17; i++) if ($i ~ /^[0-9a-f][0-9a-f]$/) printf "%s", $i; next}
       on {exit}' gtlsclient2.log >serverhello.hex
  grep -q 002900020000 serverhello.hex || fail "the restarted server did not resume the session"
  grep -qE 'frm tx [0-9]+ 0RTT STREAM\([^)]*\) id=0x0 ' gtlsclient2.log ||
    fail "gtlsclient sent no request in 0-RTT"
  grep -qE 'frm tx [0-9]+ 1RTT STREAM\([^)]*\) id=0x0 ' gtlsclient2.log ||
    fail "0-RTT was accepted by a server whose tickets travel between processes"
  note "resumed by a new process; 0-RTT refused, request resent in 1-RTT"
}

# The QUIC v2 draft ngtcp2 0.12 speaks (0x709a50c4): its own Initial salt and key labels.
case_srv_gtlsclient_v2draft() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  mkdir dl
  gtlsclient_get dl --version=v2draft "https://127.0.0.1:$PORT/1M.bin" ||
    fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  same_file dl/1M.bin "$WWW/1M.bin"
  stop_our_server
  expect_log_one_conn 1 200
}

# ------------------------------------------------------------------ our server <- quic-go client

# --threads 2: a socket per thread on the port, datagrams steered by connection ID. New
# connections from gtlsclient and quic-go spread over the threads (by their random initial
# connection IDs); each is served whole.
case_srv_threads_peers() {
  need gtlsclient
  need_go_programs
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY" --threads 2
  grep -q '^threads: 2 ' server.log || fail "no 'threads: 2' in the banner: $(tail_of server.log 8)"
  local u=https://127.0.0.1:$PORT i
  for i in $(seq 1 6); do
    rm -rf dl && mkdir dl
    gtlsclient_get dl "$u/hello.html" "$u/1M.bin" ||
      fail "gtlsclient run $i exited with status $?: $(tail_of gtlsclient.log)"
    same_file dl/hello.html "$WWW/hello.html"
    same_file dl/1M.bin "$WWW/1M.bin"
  done
  for i in $(seq 1 4); do
    timeout 90 "$H3CLIENT" -cacert "$CERT" "$u/small.bin" >h3client.out 2>h3client.err ||
      fail "h3client run $i exited with status $?: $(tail_of h3client.err)"
    expect_h3client_line /small.bin 200 "$(sha_of "$WWW/small.bin")"
  done
  stop_our_server
  local n conns
  n=$(log_lines | grep -c ' 200 ' || true)
  conns=$(distinct_conns)
  [[ $n == 16 && $conns == 10 ]] ||
    fail "server logged $n requests with status 200 over $conns connections, expected 16 over 10"
}

# --threads 2 and gtlsclient moving to a new local address (a new port) mid-download: the
# kernel's 4-tuple hash would pick either socket for the new path; the steering program keeps
# the connection's datagrams on its own thread, so the download completes.
case_srv_threads_migration() {
  need gtlsclient
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY" --threads 2
  local i
  for i in $(seq 1 4); do
    rm -rf dl && mkdir dl
    gtlsclient_get dl --change-local-addr=50ms "https://127.0.0.1:$PORT/big.bin" ||
      fail "gtlsclient run $i exited with status $?: $(tail_of gtlsclient.log)"
    same_file dl/big.bin "$WWW/big.bin"
  done
  stop_our_server
  local n
  n=$(log_lines | grep -c '^GET /big.bin 200 ' || true)
  [[ $n == 4 ]] || fail "server logged $n downloads of big.bin with status 200, expected 4"
}

need_go_programs() {
  [[ -x $H3CLIENT && -x $QUICGO_SERVER ]] ||
    fail "the Go programs did not build: $(tail_of "$WORK/go-build.log" 4)"
}

# Checks h3client's summary line for URL path $1: status $2, HTTP/3, sha256 $3.
expect_h3client_line() {  # $1 = path, $2 = status, $3 = sha256
  local line
  line=$(grep -E " url=https://[^ ]*$1( |$)" h3client.out | head -n1 || true)
  [[ -n $line ]] || fail "no response for $1: $(tail_of h3client.err)"
  [[ $line == "status=$2 proto=HTTP/3.0 "* ]] || fail "$1: $line"
  [[ $line == *" sha256=$3 "* ]] || fail "$1: body differs: $line"
}

case_srv_quicgo_files() {
  need_go_programs
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local u=https://127.0.0.1:$PORT f
  timeout 90 "$H3CLIENT" -cacert "$CERT" "$u/hello.html" "$u/small.bin" "$u/1M.bin" \
    "$u/sub/data.json" "$u/empty.bin" >h3client.out 2>h3client.err ||
    fail "h3client exited with status $?: $(tail_of h3client.err)"
  for f in hello.html small.bin 1M.bin sub/data.json empty.bin; do
    expect_h3client_line "/$f" 200 "$(sha_of "$WWW/$f")"
  done
  stop_our_server
  expect_log_one_conn 5 200
}

case_srv_quicgo_100m() {
  need_go_programs
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  timed timeout 90 "$H3CLIENT" -cacert "$CERT" "https://127.0.0.1:$PORT/big.bin" \
    >h3client.out 2>h3client.err || fail "h3client exited with status $?: $(tail_of h3client.err)"
  expect_h3client_line /big.bin 200 "$BIG_SHA"
  note "$(rate 100000000 "$ELAPSED")"
  stop_our_server
  expect_log_one_conn 1 200
}

case_srv_quicgo_post() {
  need_go_programs
  start_our_server --cert "$CERT" --key "$KEY"
  local f size details=()
  for f in empty.bin one.bin 1M.bin big.bin; do
    size=$(stat -c %s "$WWW/$f")
    timed timeout 90 "$H3CLIENT" -cacert "$CERT" -data "$WWW/$f" -show-body \
      "https://127.0.0.1:$PORT/upload" >h3client.out 2>h3client.err ||
      fail "POST of $f: h3client exited with status $?: $(tail_of h3client.err)"
    grep -q "^status=200 proto=HTTP/3.0 .* body={\"length\": $size, \"sha256\": \"$(sha_of "$WWW/$f")\"}" \
      h3client.out || fail "POST of $f ($size bytes): $(cat h3client.out)"
    if [[ $f == big.bin ]]; then details+=("POST $(rate "$size" "$ELAPSED")"); fi
  done
  note "${details[*]}"
  stop_our_server
  [[ $(log_lines | grep -c '^POST /upload 200 ') == 4 ]] || fail "server log: $(tail_of server.log 4)"
}

# quic-go's client resumes the first connection's session on a second one and sends its GET as
# 0-RTT early data; our server takes it and answers before its handshake completes (the request
# log marks it "early"). Through the delay relay: see start_delay_relay.
case_srv_quicgo_0rtt() {
  need_go_programs
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY" --qlog-dir qlog
  start_delay_relay
  local u=https://127.0.0.1:$RELAY_PORT conn zero
  timeout 90 "$H3CLIENT" -0rtt -cacert "$CERT" "$u/hello.html" "$u/small.bin" >h3client.out \
    2>h3client.err || fail "h3client exited with status $?: $(tail_of h3client.err)"
  expect_h3client_line /hello.html 200 "$(sha_of "$WWW/hello.html")"
  expect_h3client_line /small.bin 200 "$(sha_of "$WWW/small.bin")"
  stop_our_server
  log_lines | grep -qE '^GET /hello.html 200 .* stream=[0-9]+$' || fail "first GET: $(log_lines)"
  if ! log_lines | grep -qE '^GET /small.bin 200 .* early$'; then
    # Refused, or sent too late to be early: the server's qlog tells which.
    conn=$(log_lines | sed -n 's|^GET /small.bin .* conn=\([0-9a-f]*\) .*|\1|p')
    zero=$(grep -c '"packet_type":"0RTT"' "qlog/$conn-server.sqlog" 2>/dev/null || true)
    fail "the second GET was not answered as early data (0-RTT packets in the server's qlog: ${zero:-0}): $(log_lines)"
  fi
  note "full handshake, then a resumed connection with its GET as 0-RTT early data, accepted"
}

# An RSA-2048 certificate, whose TLS 1.3 signatures are RSA-PSS and whose first flight takes
# two datagrams: gtlsclient, quic-go's h3client (verifying it) and our client each fetch a file.
case_srv_rsa_peers() {
  need gtlsclient
  need_go_programs
  openssl req -x509 -newkey rsa:2048 -nodes -keyout rsa-key.pem -out rsa-cert.pem -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
    fail "openssl could not make an RSA certificate"
  start_our_server --root "$WWW" --cert rsa-cert.pem --key rsa-key.pem
  local u=https://127.0.0.1:$PORT
  mkdir dl
  gtlsclient_get dl "$u/small.bin" || fail "gtlsclient exited with status $?: $(tail_of gtlsclient.log)"
  same_file dl/small.bin "$WWW/small.bin"
  timeout 90 "$H3CLIENT" -cacert rsa-cert.pem "$u/hello.html" >h3client.out 2>h3client.err ||
    fail "h3client exited with status $?: $(tail_of h3client.err)"
  expect_h3client_line /hello.html 200 "$(sha_of "$WWW/hello.html")"
  timeout 90 "$CLIENT" --cacert rsa-cert.pem -s -S -f -o got "$u/1M.bin" 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file got "$WWW/1M.bin"
  stop_our_server
  [[ $(log_lines | grep -c ' 200 ') == 3 ]] || fail "server log: $(log_lines)"
  note "gtlsclient, and quic-go's client and ours verifying it, over an RSA-2048 certificate"
}

# ------------------------------------------------------------------ our server <- Chromium

case_srv_chromium_demo() {
  need chromium
  # No --root and no --cert: the built-in demo page with a fresh self-signed certificate,
  # whose SPKI pin the banner prints.
  start_our_server
  local pin profile status count want p
  pin=$(sed -n 's/^SPKI pin (sha256, base64): //p' server.log)
  [[ -n $pin ]] || fail "no SPKI pin in the server banner"
  profile=$(mktemp -d "$CASE_DIR/profile.XXXXXX")
  timeout -k 5 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --enable-quic --origin-to-force-quic-on="127.0.0.1:$PORT" \
    --ignore-certificate-errors-spki-list="$pin" --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --dump-dom "https://127.0.0.1:$PORT/" \
    >dom.html 2>chromium.log || fail "chromium exited with status $?: $(tail_of chromium.log)"
  rm -rf "$profile"
  stop_our_server

  # Rendered: the page's script wrote how many resources loaded and over what.
  status=$(sed -n 's/.*<p id="status">\([^<]*\)<.*/\1/p' dom.html | head -n1)
  [[ $status =~ ^loaded\ ([0-9]+)\ resources\ over\ HTTP/3$ ]] ||
    fail "the page did not render as expected: status '$status' ($(wc -c <dom.html) bytes of DOM)"
  count=${BASH_REMATCH[1]}
  # Every resource of the page (stylesheet, icon, images, script, the page itself) is in the
  # server's log with 200, all on one connection; the server speaks nothing but HTTP/3.
  grep -oE '<(img|script)[^>]* src="/[^"]*"|<link[^>]* href="/[^"]*"' dom.html |
    sed -E 's/.*(src|href)="([^"]*)"/\2/' | sort -u >resources.txt
  echo / >>resources.txt
  want=$(sort -u resources.txt | wc -l)
  ((want >= 5)) || fail "only $want resources found in the DOM"
  while read -r p; do
    log_lines | grep -q "^GET $p 200 " || fail "resource $p is not in the server log with 200"
  done < <(sort -u resources.txt)
  [[ $(log_lines | awk '$3 != 200' | wc -l) == 0 ]] || fail "non-200 in the log: $(log_lines | awk '$3 != 200' | head -n1)"
  [[ $(distinct_conns) == 1 ]] || fail "the page came over $(distinct_conns) connections, expected 1"
  ((count >= want - 1)) || fail "the page reports $count resources, the DOM references $want"
  note "$status; $want distinct resources, $(log_lines | wc -l) requests on 1 connection"
}

# ------------------------------------------------------------------ our client -> gtlsserver

start_gtlsserver() { start_peer gtlsserver.log gtlsserver -q -d "$WWW" 127.0.0.1 "$PORT" "$KEY" "$CERT"; }

case_cli_gtlsserver_files() {
  need gtlsserver
  start_gtlsserver
  local u=https://127.0.0.1:$PORT f
  mkdir dl
  (cd dl && timeout 90 "$CLIENT" --cacert "$CERT" -f -s -S -O -O -O -O -O "$u/hello.html" \
    "$u/small.bin" "$u/1M.bin" "$u/sub/data.json" "$u/one.bin") 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  for f in hello.html small.bin 1M.bin one.bin; do same_file "dl/$f" "$WWW/$f"; done
  same_file dl/data.json "$WWW/sub/data.json"
  stop_peer
}

case_cli_gtlsserver_100m() {
  need gtlsserver
  start_gtlsserver
  mkdir dl
  timed timeout 90 "$CLIENT" --cacert "$CERT" -f -s -S -o dl/big.bin "https://127.0.0.1:$PORT/big.bin" \
    2>client.err || fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file dl/big.bin "$WWW/big.bin"
  note "$(rate 100000000 "$ELAPSED")"
  stop_peer
}

# Eight URLs, at most three requests at a time, on one connection.
case_cli_gtlsserver_multi() {
  need gtlsserver
  start_gtlsserver
  local u=https://127.0.0.1:$PORT args=() i
  local files=(hello.html small.bin 1M.bin sub/data.json one.bin small.bin hello.html 1M.bin)
  mkdir dl
  for i in "${!files[@]}"; do args+=(-o "dl/$i" "$u/${files[$i]}"); done
  timeout 90 "$CLIENT" --cacert "$CERT" -f -v -n 3 "${args[@]}" 2>client.err ||
    fail "asioquic-client exited with status $?: $(grep -v '^\[' client.err | tail -n 3 | tr '\n' ' ')"
  for i in "${!files[@]}"; do same_file "dl/$i" "$WWW/${files[$i]}"; done
  [[ $(grep -c '^\* Connected to ' client.err) == 1 ]] ||
    fail "expected one connection: $(grep '^\* Conn' client.err | tr '\n' ' ')"
  [[ $(grep -cE '^\[[0-9]+\] < HTTP/3 200$' client.err) == 8 ]] || fail "expected 8 responses with 200"
  note "8 URLs, -n 3, 1 connection"
  stop_peer
}

# Three runs of our client sharing a --session-file: the first makes a full handshake and
# keeps the server's ticket, the next two resume TLS with the ticket the run before received.
# $1 = URL of hello.html, $2 = the CA file that verifies the server.
cli_resume_runs() {
  local i
  for i in 1 2 3; do
    timeout 30 "$CLIENT" --cacert "$2" --session-file session.txt -f -v -o "hello.$i" "$1" \
      2>"client.$i.err" || fail "run $i: asioquic-client exited with status $?: $(tail_of "client.$i.err")"
    same_file "hello.$i" "$WWW/hello.html"
  done
  grep -q '^\* Connected to ' client.1.err || fail "run 1 did not report its connection"
  ! grep -q 'TLS resumed' client.1.err || fail "run 1 resumed without a ticket"
  for i in 2 3; do
    grep -q '^\* Connected to .*, TLS resumed$' "client.$i.err" || fail "run $i did not resume TLS"
  done
  [[ $(stat -c %a session.txt) == 600 ]] || fail "session.txt has mode $(stat -c %a session.txt), expected 600"
  note "full handshake, then TLS resumed twice"
}

# Three runs of our client with --early-data sharing a --session-file: the first makes a full
# handshake, the next two send their GET as 0-RTT early data, which the server accepts.
# $1 = URL of hello.html, $2 = the CA file that verifies the server.
cli_early_data_runs() {
  local i
  for i in 1 2 3; do
    timeout 30 "$CLIENT" --cacert "$2" --session-file session.txt --early-data -f -v \
      -o "hello.$i" "$1" 2>"client.$i.err" ||
      fail "run $i: asioquic-client exited with status $?: $(tail_of "client.$i.err")"
    same_file "hello.$i" "$WWW/hello.html"
  done
  ! grep -q 'early data' client.1.err || fail "run 1 sent early data without a ticket"
  for i in 2 3; do
    grep -q '^\* Connected to .*, sending early data (0-RTT)$' "client.$i.err" ||
      fail "run $i did not send early data: $(grep '^\* Conn' "client.$i.err")"
    grep -q '^\* The server accepted the early data$' "client.$i.err" ||
      fail "run $i: the server did not accept the early data"
  done
}

# gtlsserver logs every frame: the GET (stream 0) must come in 0-RTT packets.
case_cli_gtlsserver_0rtt() {
  need gtlsserver
  start_peer gtlsserver.log gtlsserver -d "$WWW" 127.0.0.1 "$PORT" "$KEY" "$CERT"
  cli_early_data_runs "https://127.0.0.1:$PORT/hello.html" "$CERT"
  [[ $(grep -cE 'frm rx [0-9]+ 0RTT STREAM\(0x0b\) id=0x0 fin=1' gtlsserver.log) == 2 ]] ||
    fail "the server's log does not show the two GETs in 0-RTT packets"
  note "full handshake, then the GET as 0-RTT early data twice, accepted"
  stop_peer
}

# gtlsserver restarted between two runs of our client: the second offers 0-RTT with a ticket the
# new process cannot read, so the server makes a full handshake and drops the early data, while
# its control and QPACK streams arrive with the handshake's last packets (0.5-RTT). The client
# starts a new HTTP/3 session that must still read those streams, and sends its GET again.
case_cli_gtlsserver_0rtt_refused() {
  need gtlsserver
  local run
  for run in 1 2; do
    start_peer "gtlsserver.$run.log" gtlsserver -q -d "$WWW" 127.0.0.1 "$PORT" "$KEY" "$CERT"
    timeout 30 "$CLIENT" --cacert "$CERT" --session-file session.txt --early-data -f -v \
      -o "hello.$run" "https://127.0.0.1:$PORT/hello.html" 2>"client.$run.err" ||
      fail "run $run: asioquic-client exited with status $?: $(tail_of "client.$run.err")"
    same_file "hello.$run" "$WWW/hello.html"
    stop_peer
  done
  grep -q '^\* Connected to .*, sending early data (0-RTT)$' client.2.err ||
    fail "run 2 did not send early data"
  grep -q '^\* The server refused the early data; its requests went again after the handshake$' \
    client.2.err || fail "run 2: the refusal was not reported"
  note "early data refused by a restarted server; the GET went again, file identical"
}

# A server that takes only P-256 asks our first ClientHello (an X25519 key share) for another
# with a HelloRetryRequest. The entry kept with the ticket names P-256, so the resumed runs
# send that key share at once: no second HelloRetryRequest, and the early data is accepted.
case_cli_gtlsserver_0rtt_hrr() {
  need gtlsserver
  start_peer gtlsserver.log gtlsserver --groups=-GROUP-ALL:+GROUP-SECP256R1 -d "$WWW" \
    127.0.0.1 "$PORT" "$KEY" "$CERT"
  cli_early_data_runs "https://127.0.0.1:$PORT/hello.html" "$CERT"
  [[ $(grep -cE 'frm rx [0-9]+ Initial CRYPTO\(0x06\) offset=[1-9]' gtlsserver.log) == 1 ]] ||
    fail "expected one HelloRetryRequest (the first run's) in the server's log"
  note "one HelloRetryRequest, then P-256 shares at once and 0-RTT accepted twice"
  stop_peer
}

# A server that takes only P-256: our client offers an X25519 key share alone (TlsSettings::
# key_shares = 1), so the server must ask for P-256 with a HelloRetryRequest.
case_cli_gtlsserver_hrr() {
  need gtlsserver
  start_peer gtlsserver.log gtlsserver --groups=-GROUP-ALL:+GROUP-SECP256R1 -d "$WWW" \
    127.0.0.1 "$PORT" "$KEY" "$CERT"
  timeout 30 "$CLIENT" --cacert "$CERT" -f -s -S -o hello.html "https://127.0.0.1:$PORT/hello.html" \
    2>client.err || fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file hello.html "$WWW/hello.html"
  # The second ClientHello continues the Initial crypto stream where the first one ended.
  grep -qE 'frm rx [0-9]+ Initial CRYPTO\(0x06\) offset=[1-9]' gtlsserver.log ||
    fail "no second ClientHello in the server's log: no HelloRetryRequest happened"
  note "P-256 only: HelloRetryRequest, then the file"
  stop_peer
}

case_cli_gtlsserver_resume() {
  need gtlsserver
  start_gtlsserver
  cli_resume_runs "https://127.0.0.1:$PORT/hello.html" "$CERT"
  stop_peer
}

# ------------------------------------------------------------------ our client -> Caddy

start_caddy() {
  caddy_command "$CASE_DIR" "$PORT" "$CERT" "$KEY" "$WWW"
  start_peer caddy.log "${CADDY_CMD[@]}"
}

case_cli_caddy_files() {
  need caddy
  start_caddy
  local u=https://127.0.0.1:$PORT f
  mkdir dl
  (cd dl && timeout 90 "$CLIENT" --cacert "$CERT" -f -s -S -O -O -O -O -O -O "$u/hello.html" \
    "$u/small.bin" "$u/1M.bin" "$u/sub/data.json" "$u/one.bin" "$u/empty.bin") 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  for f in hello.html small.bin 1M.bin one.bin empty.bin; do same_file "dl/$f" "$WWW/$f"; done
  same_file dl/data.json "$WWW/sub/data.json"
  stop_peer
}

case_cli_caddy_100m() {
  need caddy
  start_caddy
  mkdir dl
  timed timeout 90 "$CLIENT" --cacert "$CERT" -f -s -S -o dl/big.bin "https://127.0.0.1:$PORT/big.bin" \
    2>client.err || fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file dl/big.bin "$WWW/big.bin"
  note "$(rate 100000000 "$ELAPSED")"
  stop_peer
}

# ------------------------------------------------------------------ our client -> quic-go server

start_quicgo_server() {
  # Its certificate (quic-go's testdata) names only "localhost", signed by testdata/ca.pem:
  # listen on both loopback addresses, whichever "localhost" resolves to.
  start_peer quicgo.log "$QUICGO_SERVER" -bind "127.0.0.1:$PORT,[::1]:$PORT" -www "$WWW"
}

case_cli_quicgo_files() {
  need_go_programs
  start_quicgo_server
  local u=https://localhost:$PORT f
  mkdir dl
  # Not hello.html's sibling index.html: Go's FileServer redirects /index.html to ./
  (cd dl && timeout 90 "$CLIENT" --cacert "$QUICGO_CA" -f -s -S -O -O -O -O -O "$u/hello.html" \
    "$u/small.bin" "$u/1M.bin" "$u/sub/data.json" "$u/one.bin") 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  for f in hello.html small.bin 1M.bin one.bin; do same_file "dl/$f" "$WWW/$f"; done
  same_file dl/data.json "$WWW/sub/data.json"
  stop_peer
}

case_cli_quicgo_0rtt() {
  need_go_programs
  start_quicgo_server
  cli_early_data_runs "https://localhost:$PORT/hello.html" "$QUICGO_CA"
  note "full handshake, then the GET as 0-RTT early data twice, accepted"
  stop_peer
}

case_cli_quicgo_resume() {
  need_go_programs
  start_quicgo_server
  cli_resume_runs "https://localhost:$PORT/hello.html" "$QUICGO_CA"
  stop_peer
}

case_cli_quicgo_100m() {
  need_go_programs
  start_quicgo_server
  mkdir dl
  timed timeout 90 "$CLIENT" --cacert "$QUICGO_CA" -f -s -S -o dl/big.bin "https://localhost:$PORT/big.bin" \
    2>client.err || fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file dl/big.bin "$WWW/big.bin"
  note "$(rate 100000000 "$ELAPSED")"
  stop_peer
}

# ------------------------------------------------------------------ ours: our server <- our client

ours_client() {  # args for asioquic-client, trusting our test certificate
  timeout 90 "$CLIENT" --cacert "$CERT" -s -S "$@"
}

ours_get() {  # $1 = file under www: GET from --root, compare
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local size
  size=$(stat -c %s "$WWW/$1")
  timed ours_client -f -o got "https://127.0.0.1:$PORT/$1" 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  same_file got "$WWW/$1"
  if ((size >= 100000000)); then note "$(rate "$size" "$ELAPSED")"; fi
  stop_our_server
  expect_log_one_conn 1 200
  log_lines | grep -q "^GET /$1 200 bytes=$size " || fail "server log: $(log_lines)"
}

ours_upload() {  # $1 = method, $2 = file under www: its body to /upload, compare length and sha256
  start_our_server --cert "$CERT" --key "$KEY"
  local size sha reply
  size=$(stat -c %s "$WWW/$2")
  sha=$(sha_of "$WWW/$2")
  timed ours_client -f -X "$1" -d "@$WWW/$2" "https://127.0.0.1:$PORT/upload" >reply.json 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  reply=$(cat reply.json)
  [[ $reply == "{\"length\": $size, \"sha256\": \"$sha\"}" ]] ||
    fail "server saw '$reply', sent $size bytes with sha256 $sha"
  if ((size >= 100000000)); then note "$(rate "$size" "$ELAPSED")"; fi
  stop_our_server
  expect_log_one_conn 1 200
  log_lines | grep -q "^$1 /upload 200 " || fail "server log: $(log_lines)"
}

case_ours_get_0b() { ours_get empty.bin; }
# The tools end to end with 0-RTT: our client's resumed GETs go as early data, which our server
# accepts and answers before its handshake completes (the request log marks them "early"),
# even on loopback's ~50 us round trip.
case_ours_0rtt() {
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  cli_early_data_runs "https://127.0.0.1:$PORT/hello.html" "$CERT"
  stop_our_server
  [[ $(log_lines | grep -c '^GET /hello.html 200 ') == 3 ]] || fail "server log: $(log_lines)"
  [[ $(log_lines | grep -c ' early$') == 2 ]] || fail "expected two requests answered early: $(log_lines)"
  note "full handshake, then the GET as 0-RTT early data twice, accepted"
}

case_ours_get_1b() { ours_get one.bin; }
case_ours_get_1mb() { ours_get 1M.bin; }
case_ours_get_100mb() { ours_get big.bin; }
case_ours_post_0b() { ours_upload POST empty.bin; }
case_ours_post_1b() { ours_upload POST one.bin; }
case_ours_post_1mb() { ours_upload POST 1M.bin; }
case_ours_post_100mb() { ours_upload POST big.bin; }
case_ours_put_0b() { ours_upload PUT empty.bin; }
case_ours_put_1b() { ours_upload PUT one.bin; }
case_ours_put_1mb() { ours_upload PUT 1M.bin; }
case_ours_put_100mb() { ours_upload PUT big.bin; }

# The response header $1 (lower-case name) as our client's -v printed it to client.err.
header_of() { sed -n "s/^< $1: //p" client.err | head -n1 | tr -d '\r'; }
status_of() { sed -n 's/^< HTTP\/3 \([0-9]*\)$/\1/p' client.err | head -n1; }

case_ours_range() {
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local u=https://127.0.0.1:$PORT/1M.bin spec first len total=1000000
  # bytes=FIRST-LAST, a suffix (the last 100) and an open end; each checked byte for byte.
  for spec in 10-19:10:10 -100:999900:100 999990-:999990:10 0-0:0:1; do
    IFS=: read -r spec first len <<<"$spec"
    ours_client -v -H "range: bytes=$spec" -o part "$u" 2>client.err ||
      fail "range $spec: asioquic-client exited with status $?: $(tail_of client.err)"
    [[ $(status_of) == 206 ]] || fail "range $spec: status $(status_of), expected 206"
    [[ $(header_of content-range) == "bytes $first-$((first + len - 1))/$total" ]] ||
      fail "range $spec: content-range '$(header_of content-range)'"
    dd if="$WWW/1M.bin" of=want bs=64k iflag=skip_bytes,count_bytes skip="$first" count="$len" status=none
    same_file part want
  done
  # The same on a generated body (/bytes/N).
  ours_client -v -H "range: bytes=65520-65522" -o part "https://127.0.0.1:$PORT/bytes/100000" 2>client.err ||
    fail "range on /bytes: status $?"
  [[ $(status_of) == 206 ]] || fail "range on /bytes/100000: status $(status_of)"
  gen_pattern 65523 | tail -c 3 >want
  same_file part want
  stop_our_server
}

case_ours_range_416() {
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  ours_client -v -H "range: bytes=2000000-" -o body "https://127.0.0.1:$PORT/1M.bin" 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  [[ $(status_of) == 416 ]] || fail "status $(status_of), expected 416"
  [[ $(header_of content-range) == "bytes */1000000" ]] || fail "content-range '$(header_of content-range)'"
  # With -f, a 416 is a failure (exit 22), as in curl.
  local rc=0
  ours_client -f -H "range: bytes=2000000-" -o body "https://127.0.0.1:$PORT/1M.bin" 2>client.err || rc=$?
  [[ $rc == 22 ]] || fail "-f on 416: exit status $rc, expected 22"
  stop_our_server
  log_lines | grep -q '^GET /1M.bin 416 ' || fail "no 416 in the server log"
}

case_ours_404() {
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  local rc=0
  ours_client -f -o body "https://127.0.0.1:$PORT/missing.txt" 2>client.err || rc=$?
  [[ $rc == 22 ]] || fail "-f on a missing file: exit status $rc, expected 22"
  ours_client -v -o body "https://127.0.0.1:$PORT/sub/missing.json" 2>client.err ||
    fail "without -f: exit status $?"
  [[ $(status_of) == 404 ]] || fail "status $(status_of), expected 404"
  stop_our_server
  [[ $(log_lines | grep -cE '^GET /(missing.txt|sub/missing.json) 404 ') == 2 ]] ||
    fail "server log: $(tail_of server.log)"
}

case_ours_head() {
  start_our_server --root "$WWW" --cert "$CERT" --key "$KEY"
  ours_client -I "https://127.0.0.1:$PORT/1M.bin" >head.txt 2>client.err ||
    fail "asioquic-client exited with status $?: $(tail_of client.err)"
  tr -d '\r' <head.txt >head.clean
  grep -qx 'HTTP/3 200' head.clean || fail "status line: $(head -n1 head.clean)"
  grep -qx 'content-length: 1000000' head.clean || fail "no content-length: 1000000: $(tr '\n' ' ' <head.clean)"
  grep -qx 'accept-ranges: bytes' head.clean || fail "no accept-ranges: $(tr '\n' ' ' <head.clean)"
  stop_our_server
  log_lines | grep -q '^HEAD /1M.bin 200 bytes=0 ' || fail "server log: $(log_lines)"
}

# 100 client processes, 10 at a time, each making 20 requests on its own connection.
case_ours_100x20() {
  start_our_server --cert "$CERT" --key "$KEY"
  local urls=() i want ok bad
  for i in $(seq 1 20); do urls+=("https://127.0.0.1:$PORT/bytes/$((i * 500))"); done
  want=$(for i in $(seq 1 20); do gen_pattern $((i * 500)); done | sha256sum | cut -d' ' -f1)
  # One client process: its exit status and the sha256 of the 20 bodies (stdout, URL order).
  cat >one_run.sh <<'EOF'
set -o pipefail
i=$1
shift
sha=$(timeout 60 "$CLIENT" --cacert "$CERT" -s -S -m 45 "$@" 2>"runs/$i.err" | sha256sum | cut -d' ' -f1)
echo "$? $sha" >"runs/$i.res"
EOF
  mkdir runs
  export CLIENT CERT
  timed bash -c 'seq 1 100 | xargs -P 10 -I{} bash one_run.sh {} "$@"' _ "${urls[@]}" ||
    fail "xargs exited with status $?"
  ok=$(cat runs/*.res 2>/dev/null | grep -c "^0 $want$" || true)
  if [[ $ok != 100 ]]; then
    bad=$(grep -Lx "0 $want" runs/*.res | head -n1 || true)
    fail "$ok of 100 clients got all 20 bodies right; e.g. ${bad:-?}: $(cat "$bad" 2>/dev/null) $(tail_of "${bad%.res}.err" 2)"
  fi
  note "100 connections x 20 requests in $ELAPSED s"
  stop_our_server
  local n conns per
  n=$(log_lines | grep -c '^GET /bytes/[0-9]* 200 ' || true)
  [[ $n == 2000 ]] || fail "server logged $n successful requests, expected 2000"
  conns=$(distinct_conns)
  [[ $conns == 100 ]] || fail "server log shows $conns distinct connections, expected 100"
  per=$(log_lines | grep -oE 'conn=[0-9a-f]+' | sort | uniq -c | awk '$1 != 20' | head -n1)
  [[ -z $per ]] || fail "a connection did not carry exactly 20 requests: $per"
}

# ------------------------------------------------------------------ runner

# Sets PORT to the next port that no UDP or TCP socket uses.
next_port() {
  local i p
  for ((i = 0; i < 500; i++)); do
    p=$NEXT_PORT
    NEXT_PORT=$((NEXT_PORT + 1))
    if ! ss -Htuan "sport = :$p" 2>/dev/null | grep -q .; then
      PORT=$p
      return 0
    fi
  done
  echo "interop: no free port found" >&2
  return 1
}

case_body() {  # $1 = function; runs in the case's subshell
  set -Eeuo pipefail
  cd "$CASE_DIR"
  # A command failing where no check expected it still gives a reason.
  trap 'echo "unexpected failure (status $?) of: $BASH_COMMAND" >"$CASE_DIR/errtrap"' ERR
  trap 'kill_recorded "$CASE_DIR/pids"' EXIT
  "$1"
}

run_case() {  # $1 = name, $2 = function
  local name=$1 fn=$2 rc=0 t0 ticks=0 elapsed reason details
  if [[ -n ${INTEROP_CASES:-} && ! $name =~ $INTEROP_CASES ]]; then return 0; fi
  CASE_DIR=$WORK/cases/$name
  mkdir -p "$CASE_DIR"
  next_port
  t0=$EPOCHREALTIME
  (case_body "$fn") >"$CASE_DIR/case.log" 2>&1 &
  CASE_PID=$!
  # The case's own timeouts bound it; this is the backstop.
  while alive "$CASE_PID"; do
    if ((ticks >= CASE_TIMEOUT * 10)); then
      echo "timed out after $CASE_TIMEOUT s" >"$CASE_DIR/reason"
      kill -TERM "$CASE_PID" 2>/dev/null || true
      kill_recorded "$CASE_DIR/pids"
      break
    fi
    sleep 0.1
    ticks=$((ticks + 1))
  done
  wait "$CASE_PID" || rc=$?
  CASE_PID=
  kill_recorded "$CASE_DIR/pids"
  elapsed=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
  if [[ $rc == 0 && ! -s $CASE_DIR/reason ]]; then
    PASSED=$((PASSED + 1))
    details="$elapsed s"
    [[ -s $CASE_DIR/notes ]] && details+="; $(paste -sd'|' "$CASE_DIR/notes" | sed 's/|/; /g')"
    echo "PASS $name ($details)"
    [[ ${INTEROP_KEEP:-0} == 1 ]] || rm -rf "$CASE_DIR"
  else
    FAILED=$((FAILED + 1))
    reason=$(cat "$CASE_DIR/reason" 2>/dev/null || cat "$CASE_DIR/errtrap" 2>/dev/null || true)
    reason=$(head -c 600 <<<"$reason" | tr '\n' ' ')
    echo "FAIL $name: ${reason:-exit status $rc, $(tail_of "$CASE_DIR/case.log" 2)} (port $PORT, $elapsed s)"
    # Large files are not worth keeping; logs are, with INTEROP_KEEP=1.
    find "$CASE_DIR" -type f -size +5M -delete 2>/dev/null || true
  fi
}

make_fixtures() {
  mkdir -p "$WWW/sub" "$WORK/cases"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$KEY" \
    -out "$CERT" -days 30 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
  printf '<!DOCTYPE html>\n<html><body><p>hello over HTTP/3</p></body></html>\n' >"$WWW/hello.html"
  head -c 1000 /dev/urandom >"$WWW/small.bin"
  head -c 1000000 /dev/urandom >"$WWW/1M.bin"
  head -c 100000000 /dev/urandom >"$WWW/big.bin"
  printf '{"x": 1}\n' >"$WWW/sub/data.json"
  : >"$WWW/empty.bin"
  head -c 1 /dev/urandom >"$WWW/one.bin"
  BIG_SHA=$(sha_of "$WWW/big.bin")
}

# Our quic-go client and quic-go's example server, built offline from Debian's Go sources.
build_go_programs() {
  if [[ -n ${INTEROP_CASES:-} && ! srv-quicgo-files =~ $INTEROP_CASES &&
    ! cli-quicgo-files =~ $INTEROP_CASES && ! cli-quicgo-resume =~ $INTEROP_CASES &&
    ! cli-quicgo-0rtt =~ $INTEROP_CASES && ! srv-quicgo-0rtt =~ $INTEROP_CASES &&
    ! srv-rsa-peers =~ $INTEROP_CASES &&
    ! srv-threads-peers =~ $INTEROP_CASES ]]; then
    return 0  # no quic-go case selected
  fi
  mkdir -p "$GO_OUT"
  local env=(env GO111MODULE=off GOPATH=/usr/share/gocode GOPROXY=off GOFLAGS=
    GOCACHE="$GO_OUT/go-cache")
  {
    (cd "$SCRIPT_DIR/quicgo/client" && timeout 300 "${env[@]}" go build -o "$H3CLIENT" .) &&
      timeout 300 "${env[@]}" go build -o "$QUICGO_SERVER" github.com/lucas-clemente/quic-go/example
  } >"$WORK/go-build.log" 2>&1 || {
    rm -f "$H3CLIENT" "$QUICGO_SERVER"
    echo "interop: building the Go programs failed: $(tail_of "$WORK/go-build.log" 4)"
  }
}

print_versions() {
  v() { dpkg-query -W -f='${Version}' "$1" 2>/dev/null || echo "not installed"; }
  echo "interop: peers used"
  echo "  ours:     $("$SERVER" --version 2>&1 | head -n1); $("$CLIENT" --version 2>&1 | head -n1)"
  echo "  ngtcp2:   gtlsserver/gtlsclient from ngtcp2-server $(v ngtcp2-server), ngtcp2-client $(v ngtcp2-client)"
  echo "  quic-go:  golang-github-lucas-clemente-quic-go-dev $(v golang-github-lucas-clemente-quic-go-dev), $(go version 2>/dev/null || echo 'go: not installed')"
  echo "  caddy:    $(caddy version 2>/dev/null || echo 'not installed') (package $(v caddy))"
  echo "  chromium: $(chromium --version 2>/dev/null || echo 'not installed')"
}

main() {
  local t0=$EPOCHREALTIME
  if [[ ! -x $SERVER || ! -x $CLIENT ]]; then
    echo "FAIL setup: $SERVER or $CLIENT is missing (build BUILD_DIR first)"
    echo "interop: 0 passed, 1 failed"
    exit 1
  fi
  print_versions
  make_fixtures
  build_go_programs
  echo "interop: fixtures and Go programs ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; ports from $NEXT_PORT"

  # our server <- peers
  run_case srv-gtlsclient-files case_srv_gtlsclient_files
  run_case srv-gtlsclient-quiet-demo case_srv_gtlsclient_quiet_demo
  run_case srv-gtlsclient-100M case_srv_gtlsclient_100m
  run_case srv-gtlsclient-bytes case_srv_gtlsclient_bytes
  run_case srv-gtlsclient-key-update case_srv_gtlsclient_key_update
  run_case srv-gtlsclient-v2draft case_srv_gtlsclient_v2draft
  run_case srv-gtlsclient-0rtt case_srv_gtlsclient_0rtt
  run_case srv-gtlsclient-0rtt-post case_srv_gtlsclient_0rtt_post
  run_case srv-discard case_srv_discard
  run_case ours-proxy case_proxy_example
  run_case srv-gtlsclient-restart case_srv_gtlsclient_restart
  run_case srv-quicgo-files case_srv_quicgo_files
  run_case srv-quicgo-100M case_srv_quicgo_100m
  run_case srv-quicgo-post case_srv_quicgo_post
  run_case srv-quicgo-0rtt case_srv_quicgo_0rtt
  run_case srv-rsa-peers case_srv_rsa_peers
  run_case srv-chromium-demo case_srv_chromium_demo
  run_case srv-threads-peers case_srv_threads_peers
  run_case srv-threads-migration case_srv_threads_migration
  # our client -> peers
  run_case cli-gtlsserver-files case_cli_gtlsserver_files
  run_case cli-gtlsserver-100M case_cli_gtlsserver_100m
  run_case cli-gtlsserver-multi case_cli_gtlsserver_multi
  run_case cli-gtlsserver-resume case_cli_gtlsserver_resume
  run_case cli-gtlsserver-hrr case_cli_gtlsserver_hrr
  run_case cli-gtlsserver-0rtt case_cli_gtlsserver_0rtt
  run_case cli-gtlsserver-0rtt-hrr case_cli_gtlsserver_0rtt_hrr
  run_case cli-gtlsserver-0rtt-refused case_cli_gtlsserver_0rtt_refused
  run_case cli-caddy-files case_cli_caddy_files
  run_case cli-caddy-100M case_cli_caddy_100m
  run_case cli-quicgo-files case_cli_quicgo_files
  run_case cli-quicgo-100M case_cli_quicgo_100m
  run_case cli-quicgo-resume case_cli_quicgo_resume
  run_case cli-quicgo-0rtt case_cli_quicgo_0rtt
  # our server <- our client
  run_case ours-get-0B case_ours_get_0b
  run_case ours-get-1B case_ours_get_1b
  run_case ours-get-1MB case_ours_get_1mb
  run_case ours-get-100MB case_ours_get_100mb
  run_case ours-post-0B case_ours_post_0b
  run_case ours-post-1B case_ours_post_1b
  run_case ours-post-1MB case_ours_post_1mb
  run_case ours-post-100MB case_ours_post_100mb
  run_case ours-put-0B case_ours_put_0b
  run_case ours-put-1B case_ours_put_1b
  run_case ours-put-1MB case_ours_put_1mb
  run_case ours-put-100MB case_ours_put_100mb
  run_case ours-range case_ours_range
  run_case ours-range-416 case_ours_range_416
  run_case ours-404 case_ours_404
  run_case ours-0rtt case_ours_0rtt
  run_case ours-head case_ours_head
  run_case ours-100x20 case_ours_100x20

  echo "interop: total $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"
  echo "interop: $PASSED passed, $FAILED failed"
  ((FAILED == 0))
}

main
