#!/usr/bin/env bash
# System calls per request, counted by `strace -c -f`, for the servers (the mock and nginx's
# in-memory `return` under wrk) and the clients (oha, asyncbench `async` and `async-single`)
# against one standalone mock at zero latency, c=64. Counts, not speed: strace slows every
# call, so the rates it prints are not figures (bench-mock.sh and bench-client.sh measure
# those). It tells whether a gap is the kernel work per request or user space.
#
#   bash scripts/syscalls.sh [OUT_DIR]
#
# Needs strace, wrk, nginx and oha (installed as the bench scripts do when missing). Writes
# OUT_DIR/syscalls.md (default: results/<date>-<hostname>/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/nginx-conf.sh
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
N=${N:-20000}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need strace || ! need wrk || ! need nginx; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq strace wrk nginx-light >/dev/null
fi
need oha || cargo install oha --locked
cargo build --release -q
commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!results' || echo " (dirty)")
work=$(mktemp -d)
chmod 755 "$work"
pids=()
# shellcheck source=lib/server.sh
. "$root/scripts/lib/server.sh"
trap cleanup_servers EXIT

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}'
printf '%s' "$body" >"$work/body.json"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

start_server "$work/mock.out" "$root/target/release/mock-server" --port 0 --latency 0ms
mock_pid=$server_pid
mock=$server_url
curl -s -X POST -H 'content-type: application/json' -d "$body" "$mock/v1/chat/completions" >"$work/c.json"

# strace's summary → "calls per request | the top five" for `requests` requests.
per_request() { # file requests
  python3 - "$1" "$2" <<'PY'
import sys
rows, n = [], int(sys.argv[2])
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) >= 5 and f[0][0].isdigit() and f[-1] not in ("total",):
        rows.append((int(f[3]), f[-1]))
total = sum(c for c, _ in rows)
top = ", ".join(f"{name} {c / n:.2f}" for c, name in sorted(rows, reverse=True)[:5])
print(f"{total / n:.2f} | {top}")
PY
}
# Attach to a server for one wrk run; prints the requests wrk completed.
trace_server() { # pid file url
  strace -c -f -p "$1" -o "$2" 2>/dev/null &
  local s=$!
  sleep 1
  wrk -t1 -c64 -d5s -s "$work/post.lua" "$3" >"$2.wrk"
  kill -INT "$s"; wait "$s" 2>/dev/null || true
  awk '/requests in/ {print $1}' "$2.wrk"
}

rows=""
n=$(trace_server "$mock_pid" "$work/mock.strace" "$mock/v1/chat/completions")
rows+="| mock (server, wrk -c64) | $n | $(per_request "$work/mock.strace" "$n") |"$'\n'

port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
mkdir -p "$work/nginx"
nginx_conf "$work/nginx" 1 \
  "server { listen 127.0.0.1:$port; location / { return 200 '$(cat "$work/c.json")'; } }" \
  >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -g 'daemon off; master_process off;' &
nginx_pid=$!
pids+=("$nginx_pid")
sleep 0.5
n=$(trace_server "$nginx_pid" "$work/nginx.strace" "http://127.0.0.1:$port/v1/chat/completions")
rows+="| nginx \`return\` (server, one worker, wrk -c64) | $n | $(per_request "$work/nginx.strace" "$n") |"$'\n'

strace -c -f -o "$work/oha.strace" oha --no-tui -n "$N" -c 64 -m POST -H 'content-type: application/json' \
  -D "$work/body.json" "$mock/v1/chat/completions" >/dev/null
rows+="| oha (client, -n $N -c 64) | $N | $(per_request "$work/oha.strace" "$N") |"$'\n'
for s in async async-single; do
  strace -c -f -o "$work/$s.strace" "$root/target/release/asyncbench" compare -q --rounds 1 --target "$mock/v1" \
    --body-file "$work/body.json" --strategies "$s" -c 64 -n "$N" >/dev/null
  rows+="| asyncbench $s (client, -n $N -c 64) | $N | $(per_request "$work/$s.strace" "$N") |"$'\n'
done

{
  echo "# System calls per request"
  echo
  echo "\`bash scripts/syscalls.sh\` at $commit on $(date -u +%Y-%m-%d), $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), $(uname -r)."
  echo "Counted by \`strace -c -f\` (counts only: strace slows each call, so no rate here is a figure)."
  echo "One standalone mock at zero latency; the clients' counts include their start and end."
  echo
  echo "| process | requests | system calls per request | the five most frequent, per request |"
  echo "|---|---|---|---|"
  printf '%s' "$rows"
} >"$out/syscalls.md"
cat "$out/syscalls.md"
