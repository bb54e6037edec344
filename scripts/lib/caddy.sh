# shellcheck shell=bash
# Sourced by bench/run.sh and tests/interop/run.sh: how we run Caddy as an HTTP/3 file server.

# caddy_command DIR PORT CERT KEY ROOT: writes DIR/Caddyfile (the one of
# shared/research/stack.md §4: HTTP/3 on 127.0.0.1:PORT, files under ROOT, no admin endpoint)
# and sets CADDY_CMD to the command that runs it with every file Caddy writes kept under DIR.
caddy_command() {
  local dir=$1 port=$2 cert=$3 key=$4 root=$5
  mkdir -p "$dir/xdg"
  cat >"$dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
	servers {
		protocols h1 h2 h3
	}
}
https://127.0.0.1:$port {
	bind 127.0.0.1
	tls $cert $key
	root * $root
	file_server
}
EOF
  # shellcheck disable=SC2034  # read by the sourcing script
  CADDY_CMD=(env HOME="$dir/xdg" XDG_DATA_HOME="$dir/xdg" XDG_CONFIG_HOME="$dir/xdg"
    caddy run --config "$dir/Caddyfile" --adapter caddyfile)
}
