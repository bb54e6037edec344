# shellcheck shell=bash
# Process helpers for bench/run.sh (sourced): start background processes, stop them by PID, read
# their CPU time and memory from /proc, find free loopback ports. Only processes started through
# start_bg are ever signalled, always by PID.

BG_PIDS=()         # every background process this run started
# Command prefixes that keep every server on CPU 0 and every client on CPU 1 (set_pinning).
# Left to the scheduler, the same pair ran at 77 k to 126 k requests/s from one run to the
# next; pinned, at 123 k to 125 k (BENCHMARKS.md, optimisation log).
PIN_SERVER=()
PIN_CLIENT=()
CLK_TCK=$(getconf CLK_TCK)
NEXT_PORT=$((20000 + ($$ % 3000) * 10))

# start_bg LOG CMD...: runs CMD in the background with stdout and stderr to LOG; sets BG_PID.
# CMD must be a plain command (no subshell or `cd &&`), so that $! is the process itself.
start_bg() {
  local log=$1
  shift
  "$@" >"$log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# set_pinning 0|1: with 1, on a machine of two or more CPUs that has taskset, servers go on CPU 0
# and clients on CPU 1; otherwise neither is pinned. Sets PINNING to a line for the report.
# shellcheck disable=SC2034  # PIN_SERVER, PIN_CLIENT and PINNING are read by the caller
set_pinning() {
  PIN_SERVER=()
  PIN_CLIENT=()
  PINNING="none"
  if (($1)) && (($(nproc) >= 2)) && command -v taskset >/dev/null; then
    PIN_SERVER=(taskset -c 0)
    PIN_CLIENT=(taskset -c 1)
    PINNING="servers on CPU 0, clients and load generators on CPU 1 (taskset)"
  fi
}

# stop_pid PID [GRACE_SECONDS]: SIGTERM, then SIGKILL after GRACE (default 5) seconds; reaps it.
stop_pid() {
  local pid=$1 grace=${2:-5} i
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

stop_all_bg() {
  local pid
  for pid in "${BG_PIDS[@]}"; do
    stop_pid "$pid" 3
  done
  BG_PIDS=()
}

# cpu_ticks PID: user+system CPU of the whole process (all threads) in clock ticks. The command
# name in /proc/PID/stat is cut off first, so a name with spaces cannot shift the fields.
cpu_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'
}

# ticks_to_s TICKS
ticks_to_s() {
  awk -v t="$1" -v hz="$CLK_TCK" 'BEGIN {printf "%.3f", t / hz}'
}

# rss_kib PID: resident set size in KiB.
rss_kib() {
  awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

# port_in_use PORT: whether any UDP or TCP socket has that local port.
port_in_use() {
  [[ -n $(ss -Hanu "sport = :$1" 2>/dev/null) || -n $(ss -Hant "sport = :$1" 2>/dev/null) ]]
}

# next_port: sets PORT to the next port no socket uses (bounded search).
next_port() {
  local i
  for ((i = 0; i < 200; i++)); do
    NEXT_PORT=$((NEXT_PORT + 1))
    if ! port_in_use "$NEXT_PORT"; then
      # shellcheck disable=SC2034  # read by the caller
      PORT=$NEXT_PORT
      return 0
    fi
  done
  echo "run.sh: no free port found near $NEXT_PORT" >&2
  return 1
}

# wait_udp PORT PID [SECONDS]: waits until a UDP socket listens on PORT (default 20 s); fails
# early if PID exits.
wait_udp() {
  local port=$1 pid=$2 secs=${3:-20} i
  for ((i = 0; i < secs * 10; i++)); do
    [[ -n $(ss -Hlun "sport = :$port" 2>/dev/null) ]] && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# now_ns: monotonic-enough wall clock in nanoseconds.
now_ns() {
  date +%s%N
}
