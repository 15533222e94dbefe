#!/usr/bin/env bash
# Starting the servers the scripts measure against (a standalone mock, bare hyper, anything
# that prints `listening on ORIGIN` once it accepts connections), sourced by every script
# that starts one. Not run on its own.

# start_server OUT CMD...: CMD in the background, both its streams in OUT; waits until it
# prints `listening on ORIGIN` (at most 10 s, less when it exits first), then sets
# $server_url to ORIGIN and $server_pid to its PID, which it also appends to the array $pids
# (a script's EXIT trap kills what that holds). When it did not start (a bad flag, a port it
# could not bind) the script exits 1 naming the command and its output: the loops this
# replaced went on with an empty URL.
start_server() {
  local out=$1
  shift
  "$@" >"$out" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
  for _ in $(seq 200); do
    grep -q '^listening on ' "$out" 2>/dev/null && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.05
  done
  server_url=$(sed -n 's/^listening on //p' "$out" | head -1)
  [ -n "$server_url" ] || { echo "$(basename "$1") did not start: $(cat "$out")" >&2; exit 1; }
}

# stop_server PID: stops a server start_server started and waits for it to end. A server that
# had already exited stops the script (exit 1): what was measured against it is suspect.
stop_server() {
  if ! kill "$1" 2>/dev/null; then
    echo "server $1 had exited before it was stopped" >&2
    exit 1
  fi
  wait "$1" 2>/dev/null || true
}

# cleanup_servers: the EXIT trap of a script that starts servers: kills every PID left in
# $pids and removes the script's $work directory.
cleanup_servers() {
  local p
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  [ -z "${work:-}" ] || rm -rf "$work"
}
