# shellcheck shell=bash
# Recording and reporting for bench/run.sh (sourced). Every figure is one line of $RAW:
#   SCENARIO <tab> CASE <tab> RUN <tab> KEY <tab> VALUE
# and the report is computed from those lines only, so the raw file reproduces it.

# rec SCEN CASE RUN KEY VALUE
rec() {
  [[ -n $5 ]] && printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" >>"$RAW"
  return 0
}

# kv LINE KEY: the value of KEY=VALUE in a line of space-separated pairs ("" if absent).
kv() {
  tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1
}

# rec_kv SCEN CASE RUN LINE KEY...: records the named keys of a key=value line.
rec_kv() {
  local scen=$1 case=$2 run=$3 line=$4 key
  shift 4
  for key in "$@"; do
    rec "$scen" "$case" "$run" "$key" "$(kv "$line" "$key")"
  done
}

# note_failure CASE RUN MESSAGE: a run that produced no figure (or a suspect one), recorded as
# scenario "problem".
note_failure() {
  rec problem "$1" "$2" message "$(tr '\t\n' '  ' <<<"$3")"
  log "  problem: $1 (run $2): $3"
}

# problems_for CASE: how many problems were recorded for CASE.
problems_for() {
  awk -F'\t' -v c="$1" '$1 == "problem" && $2 == c {n++} END {print n + 0}' "$RAW"
}

# META_KEYS: the run's parameters and circumstances, saved in $RAW as scenario "meta" so that
# --report can rebuild the report from the raw file alone.
META_KEYS=(MODE RUNS ONLY COMMAND_LINE META_DATE META_COMMIT META_LOAD_START META_LOAD_END
  META_ELAPSED META_MACHINE PINNING CALIB_START CALIB_END BULK_BYTES REQ_CONNS REQ_STREAMS REQ_THREADS
  REQ_SECONDS REQ_WARM HS_SLOTS HS_SECONDS HS_WARM IDLE_MEASURE CG_BULK_BYTES CG_REQUESTS)

save_meta() {
  local k
  for k in "${META_KEYS[@]}"; do
    rec meta - 0 "$k" "${!k}"
  done
}

# load_meta FILE: sets the META_KEYS variables from a raw file.
load_meta() {
  local k v
  for k in "${META_KEYS[@]}"; do
    v=$(awk -F'\t' -v k="$k" '$1 == "meta" && $4 == k {print $5; exit}' "$1")
    printf -v "$k" '%s' "$v"
  done
}

# values SCEN CASE KEY: the recorded values, one per line, in run order.
values() {
  awk -F'\t' -v s="$1" -v c="$2" -v k="$3" '$1 == s && $2 == c && $4 == k {print $5}' "$RAW"
}

# agg SCEN CASE KEY median|max|min|sum|count: "" when nothing was recorded (count: 0).
agg() {
  values "$1" "$2" "$3" | sort -g | awk -v what="$4" '
    {a[NR] = $1; s += $1}
    END {
      if (NR == 0) { if (what == "count") print 0; exit }
      if (what == "median") v = NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2
      else if (what == "max") v = a[NR]
      else if (what == "min") v = a[1]
      else if (what == "sum") v = s
      else if (what == "count") v = NR
      print v
    }'
}

# fmt VALUE [DECIMALS]: a number for the tables, "–" when missing.
fmt() {
  if [[ -z $1 ]]; then
    printf '–'
  else
    awk -v v="$1" -v d="${2:-1}" 'BEGIN {printf "%.*f", d, v}'
  fi
}

# ratio A B [DECIMALS]: A / B, "–" when either is missing or B is 0.
ratio() {
  if [[ -z $1 || -z $2 ]]; then
    printf '–'
  else
    awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {if (b == 0) printf "–"; else printf "%.*f", d, a / b}'
  fi
}

# paired_ratio SCEN CASE_A CASE_B KEY: the median over rounds of A/B, each round's two figures
# having been measured minutes apart (robust to the machine's drift); "" if no round has both.
paired_ratio() {
  awk -F'\t' -v s="$1" -v a="$2" -v b="$3" -v k="$4" '
    $1 == s && $4 == k && $2 == a {x[$3] = $5}
    $1 == s && $4 == k && $2 == b {y[$3] = $5}
    END {for (r in x) if ((r in y) && y[r] != 0) print x[r] / y[r]}' "$RAW" |
    sort -g | awk '{a[NR] = $1} END {if (NR) print NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}

# verdict VALUE OP TARGET: "met" or "missed" (OP is >= or <=), "not measured" when empty.
verdict() {
  if [[ -z $1 ]]; then
    printf 'not measured'
    return
  fi
  awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN {ok = op == ">=" ? v >= t : v <= t; printf ok ? "**met**" : "**missed**"}'
}

bulk_label() {
  case "$1" in
    ceiling-2t) echo "engine ceiling, a thread per side (in memory, no sockets)" ;;
    ceiling-1t) echo "engine ceiling, one thread (in memory, no sockets)" ;;
    'ours>ours') echo "asioquic-server → asioquic-client" ;;
    'gtls>gtls') echo "gtlsserver → gtlsclient (reference pair)" ;;
    'ours>gtls') echo "asioquic-server → gtlsclient" ;;
    'gtls>ours') echo "gtlsserver → asioquic-client" ;;
    'caddy>ours') echo "Caddy → asioquic-client" ;;
    'quicgo>quicgo') echo "quic-go example server → quic-go client" ;;
    'disk:ours>ours') echo "to disk: asioquic-server → asioquic-client -o FILE" ;;
    'disk:gtls>gtls') echo "to disk: gtlsserver → gtlsclient --download=DIR" ;;
    'up:ours>ours') echo "upload: asioquic-client → asioquic-server (/discard)" ;;
    'up:gtls>gtls') echo "upload: gtlsclient → gtlsserver (reference pair)" ;;
    'up:ours>gtls') echo "upload: gtlsclient → asioquic-server (/discard)" ;;
    'up:gtls>ours') echo "upload: asioquic-client → gtlsserver" ;;
    *) echo "$1" ;;
  esac
}

# chart_label CASE: a short name for the chart's x axis.
chart_label() {
  case "$1" in
    ceiling-2t) echo "engine, 2 threads" ;;
    ceiling-1t) echo "engine, 1 thread" ;;
    disk:*) echo "$(chart_label "${1#disk:}") (disk)" ;;
    up:*) sed 's/ours/asioquic/g; s/gtls/ngtcp2/g; s/\(.*\)>\(.*\)/\2 → \1 (up)/' <<<"${1#up:}" ;;
    *) sed 's/ours/asioquic/g; s/gtls/ngtcp2/g; s/>/ → /' <<<"$1" ;;
  esac
}

server_label() {
  case "$1" in
    ours) echo "asioquic-server" ;;
    ours+retry) echo "asioquic-server --retry" ;;
    gtls) echo "gtlsserver" ;;
    gtls+retry) echo "gtlsserver -V" ;;
    ours+resume) echo "asioquic-server, TLS resumed" ;;
    gtls+resume) echo "gtlsserver, TLS resumed" ;;
    ours+0rtt) echo "asioquic-server, 0-RTT" ;;
    gtls+0rtt) echo "gtlsserver, 0-RTT" ;;
    caddy) echo "Caddy" ;;
    *) echo "$1" ;;
  esac
}

# per_run_row SCEN CASE KEY LABEL: "| LABEL | run1 | run2 | ... |"
per_run_row() {
  local r row="| $4 |"
  for ((r = 1; r <= RUNS; r++)); do
    row+=" $(fmt "$(awk -F'\t' -v s="$1" -v c="$2" -v k="$3" -v r="$r" \
      '$1 == s && $2 == c && $4 == k && $3 == r {print $5}' "$RAW")") |"
  done
  echo "$row"
}

per_run_header() {
  local r head="| $1 |" sep="|---|"
  for ((r = 1; r <= RUNS; r++)); do
    head+=" run $r |"
    sep+="---|"
  done
  printf '%s\n%s\n' "$head" "$sep"
}

report_bulk() {
  local entry case ref up_ref ceil mb
  ref=$(agg bulk 'gtls>gtls' MBps median)
  up_ref=$(agg bulk 'up:gtls>gtls' MBps median)
  ceil=$(agg bulk ceiling-2t MBps median)
  echo "## 0–1. Engine ceiling, bulk download and upload"
  echo
  echo "One connection, one stream, $(fmt "$(awk -v b="$BULK_BYTES" 'BEGIN {print b / 1048576}')" 0) MiB; the body is discarded by every client"
  echo "(asioquic-client \`-o /dev/null\`, gtlsclient without \`--download\`, the quic-go client hashes"
  echo "it) except in the two to-disk rows, which write it to the same file system. In the upload"
  echo "rows the client sends the same file as a POST body from the page cache (asioquic-client"
  echo "\`-d @FILE\`, gtlsclient \`-m POST --data=FILE\`) and the server reads and drops it (our server's"
  echo "\`/discard\`; gtlsserver reads any request body, then answers); their reference is the"
  echo "gtlsclient → gtlsserver upload. MB/s = 10^6"
  echo "bytes per second over the client's wall time minus its *fixed cost* (the wall time of the"
  echo "same client transferring 1 KiB with the same server just before: start-up, handshake, close,"
  echo "exit); the uncorrected process figure is shown too. The engine ceiling counts from the"
  echo "request to the last byte. CPU is per GiB transferred, fixed cost included: server from"
  echo "/proc/PID/stat, client from getrusage (engine ceiling: each side's thread)."
  echo
  echo "| pair (sender → receiver) | MB/s median | MB/s best | × reference pair | × ceiling (2 threads) | MB/s of the process | fixed cost ms | server CPU s/GiB | client CPU s/GiB | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for entry in "${BULK_CASES[@]}"; do
    case=${entry%%|*}
    [[ $(agg bulk "$case" MBps count) == 0 && $(problems_for "$case") == 0 ]] && continue
    mb=$(agg bulk "$case" MBps median)
    echo "| $(bulk_label "$case") | $(fmt "$mb") | $(fmt "$(agg bulk "$case" MBps max)") |" \
      "$(ratio "$mb" "$([[ $case == up:* ]] && echo "$up_ref" || echo "$ref")") | $(ratio "$mb" "$ceil") |" \
      "$(fmt "$(agg bulk "$case" MBps_process median)") | $(fmt "$(agg bulk "$case" fixed_ms median)" 0) |" \
      "$(fmt "$(agg bulk "$case" server_cpu_per_gib median)" 2) |" \
      "$(fmt "$(agg bulk "$case" client_cpu_per_gib median)" 2) | $(agg bulk "$case" MBps count)/$RUNS |"
  done
  echo
  if [[ -n $(agg bulk ceiling-2t server_us_per_pkt median) ]]; then
    echo "Engine CPU per 1452-byte data packet (median): a thread per side: server" \
      "$(fmt "$(agg bulk ceiling-2t server_us_per_pkt median)" 2) µs, client" \
      "$(fmt "$(agg bulk ceiling-2t client_us_per_pkt median)" 2) µs; one thread: server" \
      "$(fmt "$(agg bulk ceiling-1t server_us_per_pkt median)" 2) µs, client" \
      "$(fmt "$(agg bulk ceiling-1t client_us_per_pkt median)" 2) µs."
    echo
  fi
  ((RUNS > 1)) || return 0
  echo "MB/s per round (rounds alternate every pair; the order rotates each round):"
  echo
  per_run_header "pair"
  for entry in "${BULK_CASES[@]}"; do
    case=${entry%%|*}
    [[ $(agg bulk "$case" MBps count) == 0 ]] && continue
    per_run_row bulk "$case" MBps "$(bulk_label "$case")"
  done
  echo
}

report_load() {  # SCEN TITLE UNIT CASES...
  local scen=$1 title=$2 unit=$3 case ref
  shift 3
  ref=$(agg "$scen" gtls rate median)
  echo "$title"
  echo
  echo "| server | $unit/s median | $unit/s best | × gtlsserver | × Caddy | server CPU µs per $unit | load generator CPU µs per $unit | busy: server, load generator | p50 µs | p99 µs | errors | runs |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for case in "$@"; do
    [[ $(agg "$scen" "$case" rate count) == 0 && $(problems_for "$case") == 0 ]] && continue
    local rate cref
    rate=$(agg "$scen" "$case" rate median)
    # Retry rows compare with the peer's Retry row.
    cref=$ref
    [[ $case == *+retry ]] && cref=$(agg "$scen" gtls+retry rate median)
    [[ $case == *+resume ]] && cref=$(agg "$scen" gtls+resume rate median)
    [[ $case == *+0rtt ]] && cref=$(agg "$scen" gtls+0rtt rate median)
    echo "| $(server_label "$case") | $(fmt "$rate" 0) | $(fmt "$(agg "$scen" "$case" rate max)" 0) |" \
      "$(ratio "$rate" "$cref") | $(ratio "$rate" "$(agg "$scen" caddy rate median)") |" \
      "$(fmt "$(agg "$scen" "$case" server_cpu_us median)" 1) |" \
      "$(fmt "$(agg "$scen" "$case" client_cpu_us median)" 1) |" \
      "$(fmt "$(agg "$scen" "$case" server_busy median)" 2), $(fmt "$(agg "$scen" "$case" client_busy median)" 2) |" \
      "$(fmt "$(agg "$scen" "$case" p50_us median)" 0) | $(fmt "$(agg "$scen" "$case" p99_us median)" 0) |" \
      "$(fmt "$(agg "$scen" "$case" errors sum)" 0) | $(agg "$scen" "$case" rate count)/$RUNS |"
  done
  echo
  echo "Busy is each process's CPU time over the run's wall time, warm-up included (1.00 = one whole core): a row whose load generator is near 1.00 measured the load generator more than the server."
  echo
  [[ $scen == handshakes ]] && echo "Rows with Retry are compared with gtlsserver -V, resumed rows (asioquic-bench --resume: each slot resumes TLS with the ticket of its previous connection) with gtlsserver resumed, 0-RTT rows (--resume --early-data: the request goes as early data) with gtlsserver 0-RTT, the others with gtlsserver." && echo
  ((RUNS > 1)) || return 0
  echo "$unit/s per round:"
  echo
  per_run_header server
  for case in "$@"; do
    [[ $(agg "$scen" "$case" rate count) == 0 ]] && continue
    per_run_row "$scen" "$case" rate "$(server_label "$case")"
  done
  echo
}

report_idle() {
  [[ $(agg idle idle connections count) == 0 ]] && return 0
  echo "## 4. Idle connections"
  echo
  echo "A fresh asioquic-server (\`--idle-timeout 600000\`); asioquic-bench \`--idle\` opens the"
  echo "connections (one 1 KiB request each, 64 handshakes at a time) and holds them open. RSS"
  echo "per connection = (RSS with them open − RSS after one warm-up connection) / connections;"
  echo "CPU while idle is measured over $(agg idle idle measure_s max) s, starting 1 s after the last one opened."
  echo
  echo "| connections | opened in s | server RSS before → after (KiB) | KiB per connection | server CPU while idle (ms per s) | client KiB per connection |"
  echo "|---|---|---|---|---|---|"
  echo "| $(agg idle idle connections max) | $(fmt "$(agg idle idle ramp_s max)" 1) |" \
    "$(agg idle idle server_rss_base_kib max) → $(agg idle idle server_rss_kib max) |" \
    "$(fmt "$(agg idle idle kib_per_conn max)" 1) | $(fmt "$(agg idle idle idle_cpu_ms_per_s max)" 1) |" \
    "$(fmt "$(agg idle idle client_kib_per_conn max)" 1) |"
  echo
}

report_callgrind() {
  [[ $(awk -F'\t' '$1 == "callgrind" && $4 == "instructions"' "$RAW" | wc -l) == 0 ]] && return 0
  echo "## 5. Instruction counts (callgrind, asioquic-server only)"
  echo
  echo "The server runs under \`valgrind --tool=callgrind --instr-atstart=no\`; its counters are"
  echo "zeroed just before each workload and dumped just after it, so start-up is not counted."
  echo "These figures do not drift with the machine: use them for regressions. Per request is the"
  echo "marginal cost: (instructions for $CG_REQUESTS requests − for $((CG_REQUESTS / 5))) / $((CG_REQUESTS - CG_REQUESTS / 5)), on 2"
  echo "connections, so handshakes cancel out. The download includes its one handshake (see the"
  echo "handshake row). Top functions, self and inclusive: \`$(realpath --relative-to="$ROOT" "$OUT_DIR")/$MODE-callgrind-*.txt\`."
  echo
  echo "| workload | instructions | per unit |"
  echo "|---|---|---|"
  [[ -n $(agg callgrind bulk instructions max) ]] &&
    echo "| download of $(fmt "$(awk -v b="$CG_BULK_BYTES" 'BEGIN {print b / 1048576}')" 0) MiB to asioquic-client | $(agg callgrind bulk instructions max) | $(agg callgrind bulk per_unit max) per MB |"
  [[ -n $(agg callgrind requests instructions max) ]] &&
    echo "| $CG_REQUESTS × GET 1 KiB (asioquic-bench -c 2 -m $REQ_STREAMS) | $(agg callgrind requests instructions max) | $(agg callgrind requests per_unit max) per request |"
  [[ -n $(agg callgrind handshakes instructions max) ]] &&
    echo "| $((CG_REQUESTS / 20)) × (handshake, GET 1 KiB, close) (asioquic-bench --handshakes -c 4) | $(agg callgrind handshakes instructions max) | $(agg callgrind handshakes per_unit max) per handshake |"
  echo
}

report_targets() {
  echo "## Targets (issue 7)"
  echo
  echo "Ratios are medians of per-round ratios (each round measures both sides minutes apart)."
  echo
  echo "| target | measured | verdict |"
  echo "|---|---|---|"
  local v
  v=$(paired_ratio bulk 'ours>ours' 'gtls>gtls' MBps)
  echo "| bulk: our pair ≥ 2.5 × gtlsserver→gtlsclient | $(fmt "$v" 2) × | $(verdict "$v" '>=' 2.5) |"
  v=$(paired_ratio bulk 'ours>ours' ceiling-2t MBps)
  echo "| bulk: our pair ≥ 0.75 × engine ceiling (2 threads) | $(fmt "$v" 2) × | $(verdict "$v" '>=' 0.75) |"
  v=$(paired_ratio bulk 'up:ours>ours' 'up:gtls>gtls' MBps)
  [[ -n $v ]] && echo "| (no target) upload: our pair × gtlsclient→gtlsserver | $(fmt "$v" 2) × | – |"
  v=$(paired_ratio requests ours gtls rate)
  echo "| small requests: ≥ 1.5 × gtlsserver | $(fmt "$v" 2) × | $(verdict "$v" '>=' 1.5) |"
  v=$(paired_ratio requests ours caddy rate)
  echo "| small requests: ≥ 3 × Caddy | $(fmt "$v" 2) × | $(verdict "$v" '>=' 3) |"
  v=$(agg requests ours server_cpu_us median)
  echo "| small requests: ≤ 20 µs server CPU per request | $(fmt "$v" 1) µs | $(verdict "$v" '<=' 20) |"
  v=$(paired_ratio handshakes ours gtls rate)
  echo "| handshakes: ≥ 1.2 × gtlsserver | $(fmt "$v" 2) × | $(verdict "$v" '>=' 1.2) |"
  v=$(paired_ratio handshakes ours+retry gtls+retry rate)
  echo "| handshakes with Retry: ≥ 1.2 × gtlsserver -V | $(fmt "$v" 2) × | $(verdict "$v" '>=' 1.2) |"
  v=$(paired_ratio handshakes ours+resume gtls+resume rate)
  [[ -n $v ]] && echo "| (no target) handshakes with TLS resumed, × gtlsserver resumed | $(fmt "$v" 2) × | – |"
  v=$(paired_ratio handshakes ours+0rtt gtls+0rtt rate)
  [[ -n $v ]] && echo "| (no target) handshakes with 0-RTT, × gtlsserver with 0-RTT | $(fmt "$v" 2) × | – |"
  v=$(agg idle idle kib_per_conn max)
  echo "| idle: ≤ 32 KiB per connection | $(fmt "$v" 1) KiB | $(verdict "$v" '<=' 32) |"
  echo
}

write_report() {
  local file=$1
  {
    echo "# asio-quic benchmarks: $MODE run"
    echo
    echo "- Command: \`$COMMAND_LINE\` ($RUNS round(s) per comparison), ${META_ELAPSED} s."
    echo "- Taken: $META_DATE, commit $META_COMMIT."
    echo "- Machine: $META_MACHINE; load average (1/5/15 min) $META_LOAD_START at the start," \
      "$META_LOAD_END at the end."
    echo "- Pinning: ${PINNING:-none}."
    echo "- **Calibration** (\`openssl speed -evp aes-128-gcm -bytes 16384 -seconds 1\`):" \
      "**$CALIB_START MB/s** at the start, **$CALIB_END MB/s** at the end. Compare runs only" \
      "through ratios taken in the same run; absolute figures move with this number."
    echo
    report_targets
    if want bulk || want ceiling; then report_bulk; fi
    if want requests; then
      report_load requests "## 2. Small requests (1 KiB GET; asioquic-bench -c $REQ_CONNS -m $REQ_STREAMS -t $REQ_THREADS, ${REQ_SECONDS} s after ${REQ_WARM} s warm-up)" \
        request ours gtls caddy
    fi
    if want handshakes; then
      report_load handshakes "## 3. Handshakes (connect, 1 KiB GET, close; asioquic-bench --handshakes -c $HS_SLOTS, ${HS_SECONDS} s after ${HS_WARM} s warm-up)" \
        handshake ours gtls ours+retry gtls+retry caddy ours+resume gtls+resume ours+0rtt gtls+0rtt
    fi
    want idle && report_idle
    want callgrind && report_callgrind
    if [[ $(awk -F'\t' '$1 == "problem"' "$RAW" | wc -l) -gt 0 ]]; then
      echo "## Problems"
      echo
      echo "Runs that gave no figure, or whose figure needs a caveat:"
      echo
      awk -F'\t' '$1 == "problem" {printf "- %s, run %s: %s\n", $2, $3, $5}' "$RAW"
      echo
    fi
    echo "Raw figures: \`$(realpath --relative-to="$ROOT" "$OUT_DIR")/$MODE-raw.tsv\` (scenario, case, run, key, value)."
  } >"$file"
}

# write_chart FILE: medians and bests of the three throughput scenarios, one panel each.
write_chart() {
  command -v gnuplot >/dev/null || return 1
  local d=$WORK/chart entry case f
  mkdir -p "$d"
  : >"$d/bulk.dat"
  for entry in "${BULK_CASES[@]}"; do
    case=${entry%%|*}
    [[ $(agg bulk "$case" MBps count) == 0 ]] && continue
    printf '"%s" %s %s\n' "$(chart_label "$case")" \
      "$(agg bulk "$case" MBps median)" "$(agg bulk "$case" MBps max)" >>"$d/bulk.dat"
  done
  local scen
  for scen in requests handshakes; do
    : >"$d/$scen.dat"
    for case in ours gtls ours+retry gtls+retry caddy ours+resume gtls+resume ours+0rtt gtls+0rtt; do
      [[ $(agg "$scen" "$case" rate count) == 0 ]] && continue
      printf '"%s" %s %s\n' "$(server_label "$case")" "$(agg "$scen" "$case" rate median)" \
        "$(agg "$scen" "$case" rate max)" >>"$d/$scen.dat"
    done
  done
  local panels=0
  for f in bulk requests handshakes; do
    [[ -s $d/$f.dat ]] && panels=$((panels + 1))
  done
  ((panels > 0)) || return 0  # no throughput scenario ran: no chart
  {
    echo "set terminal pngcairo size 1100,$((340 * panels)) font 'sans,9' noenhanced"
    echo "set output '$1'"
    echo "set multiplot layout $panels,1 title 'asio-quic $MODE run, $META_DATE, calibration $CALIB_START→$CALIB_END MB/s AES-128-GCM'"
    echo "set style data histograms"
    echo "set style histogram clustered gap 1"
    echo "set style fill solid 0.8 border -1"
    echo "set boxwidth 0.9"
    echo "set grid ytics"
    echo "set yrange [0:*]"
    echo "set key top right"
    echo "set xtics rotate by -20 nomirror"
    [[ -s $d/bulk.dat ]] && {
      echo "set title 'Bulk download and upload, MB/s (ngtcp2 = gtlsserver/gtlsclient)'"
      echo "plot '$d/bulk.dat' using 2:xtic(1) title 'median' lc rgb '#3465a4', '' using 3 title 'best' lc rgb '#729fcf'"
    }
    [[ -s $d/requests.dat ]] && {
      echo "set title 'Small requests (1 KiB), requests/s'"
      echo "plot '$d/requests.dat' using 2:xtic(1) title 'median' lc rgb '#4e9a06', '' using 3 title 'best' lc rgb '#8ae234'"
    }
    [[ -s $d/handshakes.dat ]] && {
      echo "set title 'Handshakes (connect, GET 1 KiB, close), handshakes/s'"
      echo "plot '$d/handshakes.dat' using 2:xtic(1) title 'median' lc rgb '#ce5c00', '' using 3 title 'best' lc rgb '#fcaf3e'"
    }
    echo "unset multiplot"
  } >"$d/chart.gp"
  gnuplot "$d/chart.gp" 2>"$d/gnuplot.err"
}
