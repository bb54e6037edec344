#!/usr/bin/env bash
# The README's first command: installs what is needed, builds the tools (Release), starts
# asioquic-server on 127.0.0.1:4433 with its defaults (a self-signed certificate made at start,
# the built-in demo page), fetches the page and one of its images with asioquic-client, then
# keeps serving (one log line per request) until Ctrl-C, which stops it gracefully.
#   PORT=4433 scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
port=${PORT:-4433}
build=out/release

scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$build" asioquic-server asioquic-client

"$build/tools/asioquic-server" --listen "127.0.0.1:$port" &
server=$!
trap 'kill -INT "$server" 2>/dev/null; wait "$server" 2>/dev/null' EXIT INT TERM
for _ in $(seq 50); do  # wait for the banner's socket, at most 5 s
  ss -Hlun "sport = :$port" | grep -q . && break
  sleep 0.1
done

echo
echo "=== asioquic-client fetches the demo page over HTTP/3"
# --insecure: the certificate was made a moment ago and is trusted by nobody; the banner above
# shows its SPKI pin for Chromium.
"$build/tools/asioquic-client" --insecure -v "https://127.0.0.1:$port/" 2>&1 | head -n 40
echo
echo "=== serving on https://127.0.0.1:$port/ (Ctrl-C stops it)"
wait "$server"
