#!/usr/bin/env bash
# Benchmarks the mock server against nginx on loopback, in one run, and checks its delay
# fidelity under 1000 connections. Not run by CI (it needs wrk and nginx, and a quiet machine).
#
#   bash scripts/bench-mock.sh [OUT_DIR]
#
# 1. Throughput: `wrk -t2 -c64 -d10s` (ROUNDS alternating rounds, medians, every round shown)
#    against nginx answering the mock's own chat-completion JSON from memory (`return 200 '…'`),
#    nginx serving it as a static file (GET), a bare hyper server answering the same bytes to
#    the same POST (mock-server/examples/hyper_floor.rs: the floor of any hyper server here),
#    and the mock at zero delay (POST /v1/chat/completions with a real request body, parsed and
#    answered). Each round also reads each server's CPU time from /proc (user and kernel, µs
#    per request) and its involuntary context switches per request: noise-robust where
#    requests/s on shared cores is not. Goal: mock ≥ 1.0 × nginx's in-memory `return`.
# 2. Fidelity: the mock at --latency 100ms under `wrk -t2 -c1000 -d10s --latency`, ROUNDS
#    rounds (a fresh mock each), the median of each percentile. Goal: p50 ≤ 101 ms, p99 ≤ 105 ms.
#    Each round is followed by one against bare hyper waiting 100 ms on tokio's timer, the same
#    load: what the machine's shared cores leave of any server's tail.
# Installs nginx and wrk with apt-get when missing. Writes OUT_DIR/mock-server.md
# (default: results/<date>-<hostname>/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
source scripts/nginx-conf.sh
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)}
mkdir -p "$out"
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx; then
  echo "installing wrk and nginx" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light >/dev/null
fi
ulimit -n 65536 2>/dev/null || ulimit -n 4096 || true

cargo build --release -q -p mock-server --bin mock-server --example hyper_floor
work=$(mktemp -d)
chmod 755 "$work" # nginx workers (www-data) must read the static file
pids=()
# shellcheck source=lib/server.sh
. "$root/scripts/lib/server.sh"
trap cleanup_servers EXIT

start_mock() { # args → sets $mock to the mock's base URL and $mock_pid
  start_server "$work/server.out" "$root/target/release/mock-server" --port 0 "$@"
  mock=$server_url
  mock_pid=$server_pid
}
stop_last() {
  local last=$((${#pids[@]} - 1))
  stop_server "${pids[$last]}"
  unset "pids[$last]"
}

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA

# --- 1. throughput: nginx vs the mock --------------------------------------------------------
start_mock --latency 0ms
curl -s -X POST -H 'content-type: application/json' -d "$body" "$mock/v1/chat/completions" >"$work/completion.json"
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
port=$(free_port)
port_ret=$(free_port)
# The same bytes from memory: nginx's `return` takes a quoted string (the JSON has no ' or $).
if grep -q "['\$]" "$work/completion.json"; then echo "the completion holds ' or \$: cannot inline it" >&2; exit 1; fi
mkdir -p "$work/www" "$work/nginx"
cp "$work/completion.json" "$work/www/completion.json"
nginx_conf "$work/nginx" auto \
  "server { listen 127.0.0.1:$port; root $work/www; }" \
  "server { listen 127.0.0.1:$port_ret; location / { return 200 '$(cat "$work/completion.json")'; } }" \
  >"$work/nginx.conf"
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_pid=$!
start_server "$work/server.out" "$root/target/release/examples/hyper_floor" "$work/completion.json"
hyper=$server_url
hyper_pid=$server_pid
sleep 0.5

rps() { awk '/Requests\/sec/ {print $2}'; }
tck=$(getconf CLK_TCK)
# CPU ticks (user, kernel) and involuntary context switches of a process, its threads and its
# children (nginx's workers).
usage() {
  local u=0 k=0 inv=0 p t
  for p in "$1" $(pgrep -P "$1" || true); do
    read -r a b < <(awk '{print $14, $15}' "/proc/$p/stat")
    u=$((u + a)); k=$((k + b))
    for t in /proc/"$p"/task/*; do
      inv=$((inv + $(awk '/^nonvoluntary_ctxt_switches/ {print $2}' "$t/status")))
    done
  done
  echo "$u $k $inv"
}
# load NAME PID URL [wrk args]: one wrk round, its output appended to NAME.txt and the server's
# user µs, kernel µs and involuntary switches per request to NAME.cpu.
load() {
  local name=$1 pid=$2 target=$3
  shift 3
  local before after n
  before=$(usage "$pid")
  wrk -t2 -c64 -d"$DURATION" "$@" "$target" >"$work/round.txt"
  after=$(usage "$pid")
  cat "$work/round.txt" >>"$work/$name.txt"
  n=$(awk '/requests in/ {print $1}' "$work/round.txt")
  python3 -c "
b, a = [int(x) for x in '$before'.split()], [int(x) for x in '$after'.split()]
us = 1e6 / $tck / $n
print(f'{(a[0]-b[0])*us:.2f} {(a[1]-b[1])*us:.2f} {(a[2]-b[2])/$n:.3f}')" >>"$work/$name.cpu"
}
# Alternate the two ROUNDS times and keep each one's median, so a noisy moment on a shared
# machine does not decide the ratio.
: >"$work/nginx.txt"; : >"$work/nginxret.txt"; : >"$work/mock0.txt"; : >"$work/hyper.txt"
: >"$work/nginx.cpu"; : >"$work/nginxret.cpu"; : >"$work/mock0.cpu"; : >"$work/hyper.cpu"
curl -sf "http://127.0.0.1:$port_ret/" | cmp - "$work/completion.json" # the same bytes
curl -sf -X POST -d "$body" "$hyper/v1/chat/completions" | cmp - "$work/completion.json"
for round in $(seq "$ROUNDS"); do
  load nginxret "$nginx_pid" "http://127.0.0.1:$port_ret/"
  load nginx "$nginx_pid" "http://127.0.0.1:$port/completion.json"
  load hyper "$hyper_pid" "$hyper/v1/chat/completions" -s "$work/post.lua"
  load mock0 "$mock_pid" "$mock/v1/chat/completions" -s "$work/post.lua"
done
for f in nginx nginxret hyper mock0; do
  if grep -q 'Non-2xx' "$work/$f.txt"; then echo "$f answered errors:" >&2; cat "$work/$f.txt" >&2; exit 1; fi
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
nginx_all=$(rps <"$work/nginx.txt" | tr '\n' ' ')
ret_all=$(rps <"$work/nginxret.txt" | tr '\n' ' ')
ret_rps=$(rps <"$work/nginxret.txt" | median)
mock_all=$(rps <"$work/mock0.txt" | tr '\n' ' ')
nginx_rps=$(rps <"$work/nginx.txt" | median)
mock_rps=$(rps <"$work/mock0.txt" | median)
ratio=$(python3 -c "print(f'{$mock_rps/$nginx_rps:.3f}')")
ratio_ret=$(python3 -c "print(f'{$mock_rps/$ret_rps:.3f}')")
hyper_all=$(rps <"$work/hyper.txt" | tr '\n' ' ')
hyper_rps=$(rps <"$work/hyper.txt" | median)
ratio_hyper=$(python3 -c "print(f'{$mock_rps/$hyper_rps:.3f}')")
hyper_ret=$(python3 -c "print(f'{$hyper_rps/$ret_rps:.3f}')")
# col FILE N: the median of column N of a .cpu file; cpus FILE: every round's "user+kernel".
col() { awk -v c="$2" '{print $c}' "$1" | median; }
cpus() { awk '{printf "%s+%s ", $1, $2}' "$1"; }
bytes=$(wc -c <"$work/completion.json")
stop_last # hyper
stop_last # nginx
stop_last # mock

# --- 2. delay fidelity under 1000 connections -------------------------------------------------
# One wrk run's tail on a shared 2-core machine moves by a few ms from run to run, so as for the
# throughput the script takes ROUNDS runs and reports each percentile's median (all runs shown).
ms() { sed -E 's/ms$//; s/([0-9.]+)s$/\1*1000/; s/([0-9.]+)us$/\1\/1000/' | python3 -c 'import sys; print(f"{eval(sys.stdin.read()):.2f}")'; }
pct() { awk -v p="$1" -v q="$2" '$1 == p || $1 == q {print $2; exit}' "$3" | ms; }
: >"$work/mock100.txt"; : >"$work/hyper100.txt"
p50s=(); p90s=(); p99s=(); rpss=(); h50s=(); h99s=()
errors=""
for round in $(seq "$ROUNDS"); do
  start_mock --latency 100ms
  wrk -t2 -c1000 -d"$DURATION" --latency -s "$work/post.lua" "$mock/v1/chat/completions" >"$work/fid.txt"
  cat "$work/fid.txt" >>"$work/mock100.txt"
  p50s+=("$(pct 50.000% 50% "$work/fid.txt")")
  p90s+=("$(pct 90.000% 90% "$work/fid.txt")")
  p99s+=("$(pct 99.000% 99% "$work/fid.txt")")
  rpss+=("$(rps <"$work/fid.txt")")
  errors+=$(grep -E 'Socket errors|Non-2xx' "$work/fid.txt" || true)
  stop_last
  start_server "$work/server.out" "$root/target/release/examples/hyper_floor" "$work/completion.json" 100
  wrk -t2 -c1000 -d"$DURATION" --latency -s "$work/post.lua" "$server_url/v1/chat/completions" >"$work/fid.txt"
  cat "$work/fid.txt" >>"$work/hyper100.txt"
  h50s+=("$(pct 50.000% 50% "$work/fid.txt")")
  h99s+=("$(pct 99.000% 99% "$work/fid.txt")")
  stop_last
done
med() { printf '%s\n' "$@" | median; }
p50="$(med "${p50s[@]}")ms"; p90="$(med "${p90s[@]}")ms"; p99="$(med "${p99s[@]}")ms"; fid_rps=$(med "${rpss[@]}")
h50="$(med "${h50s[@]}")ms"; h99="$(med "${h99s[@]}")ms"

cpu=$(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "# mock-server vs nginx, and delay fidelity"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $commit$(git diff --quiet HEAD -- . ':!results' 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) × $cpu, $mem, $(uname -sr)"
  echo "- rustc: $(rustc --version)"
  echo "- $(wrk --version 2>&1 | head -1 | cut -c1-60); $(nginx -v 2>&1)"
  echo "- command: \`bash scripts/bench-mock.sh\` (wrk, nginx and the mock share the same $(nproc) cores)"
  echo
  echo "## Throughput, zero delay: \`wrk -t2 -c64 -d$DURATION\`, $ROUNDS alternating rounds, medians"
  echo
  echo "Server CPU per request from /proc (user and kernel µs, all threads and workers), and the"
  echo "server's involuntary context switches per request (preempted by wrk on the shared cores)."
  echo
  echo "| server | request | body | requests/s | user µs/req | kernel µs/req | preempted/req |"
  echo "|---|---|---|---|---|---|---|"
  for row in "nginxret|nginx $(nginx -v 2>&1 | sed 's/.*\///')|GET, \`return 200 '…'\` from memory|$ret_rps" \
    "nginx|nginx $(nginx -v 2>&1 | sed 's/.*\///')|GET static file|$nginx_rps" \
    "hyper|bare hyper (examples/hyper_floor.rs)|POST, body read, the same bytes|$hyper_rps" \
    "mock0|mock-server|POST /v1/chat/completions (parsed, answered)|$mock_rps"; do
    IFS='|' read -r f name what r <<<"$row"
    echo "| $name | $what | $bytes B | $r | $(col "$work/$f.cpu" 1) | $(col "$work/$f.cpu" 2) | $(col "$work/$f.cpu" 3) |"
  done
  echo
  echo "mock ÷ nginx in-memory \`return\` = **$ratio_ret** (goal ≥ 1.0); mock ÷ nginx static file = **$ratio**;"
  echo "mock ÷ bare hyper = **$ratio_hyper**; bare hyper ÷ nginx \`return\` = **$hyper_ret**."
  echo "Every round, requests/s: nginx return $ret_all; nginx static $nginx_all; hyper $hyper_all; mock $mock_all"
  echo "Every round, user+kernel µs/req: nginx return $(cpus "$work/nginxret.cpu"); nginx static $(cpus "$work/nginx.cpu"); hyper $(cpus "$work/hyper.cpu"); mock $(cpus "$work/mock0.cpu")"
  echo
  echo "## Delay fidelity: \`--latency 100ms\`, \`wrk -t2 -c1000 -d$DURATION --latency\`, $ROUNDS rounds, medians"
  echo
  echo "| p50 | p90 | p99 | requests/s |"
  echo "|---|---|---|---|"
  echo "| $p50 | $p90 | $p99 | $fid_rps |"
  echo
  echo "Goal: p50 ≤ 101 ms, p99 ≤ 105 ms. Every round (ms): p50 ${p50s[*]}; p90 ${p90s[*]}; p99 ${p99s[*]}. ${errors:+wrk reported: $errors}"
  echo
  echo "Bare hyper waiting 100 ms on tokio's timer (whole milliseconds, rounded up), a round after each"
  echo "of the mock's, the same load: p50 $h50, p99 $h99 (medians). Every round (ms): p50 ${h50s[*]}; p99 ${h99s[*]}."
  echo
  echo "<details><summary>raw wrk output</summary>"
  echo
  echo '```'
  cat "$work/nginxret.txt" "$work/nginx.txt" "$work/hyper.txt" "$work/mock0.txt" "$work/mock100.txt" "$work/hyper100.txt"
  echo '```'
  echo "</details>"
} >"$out/mock-server.md"
cat "$out/mock-server.md"
