#!/usr/bin/env bash
# Where the hot path's CPU goes: perf profiles of the client (`async`, c=64, zero latency, against
# a standalone mock) and of the mock (under `wrk -t2 -c64`), for one commit. Not run by CI.
#
#   bash scripts/profile.sh OUT_DIR [COMMIT]     (COMMIT defaults to HEAD)
#
# Builds COMMIT in a worktree with frame pointers and line tables (a target dir of its own, so
# target/release is untouched), records with `perf record --call-graph fp`, and writes
# OUT_DIR/client.txt and OUT_DIR/mock.txt: the run's figures, the top symbols by self time, and
# the inclusive share of the frames that name the costs (reqwest's layers, URL parsing, the
# request log, rendering). OUT_DIR/client-vs-reqwest.txt sets the client's profile beside one of
# bare reqwest under the same load (examples/floor_client.rs, built as asyncbench builds its
# client, doing the same per-request checks): each symbol's self time in µs per request in both,
# largest difference first — where the harness's own cost per request goes; and
# OUT_DIR/mock-vs-hyper.txt does the same for the mock beside a bare hyper server
# (mock-server/examples/hyper_floor.rs) answering the same bytes. Installs perf (linux-perf) and
# wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/profile.sh OUT_DIR [COMMIT]}
rev=${2:-HEAD}
DURATION=${DURATION:-6}
mkdir -p "$out"
out=$(cd "$out" && pwd)
if ! command -v perf >/dev/null || ! command -v wrk >/dev/null; then
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf wrk >/dev/null
fi
commit=$(git rev-parse --short "$rev")
src=$(mktemp -d)
work=$(mktemp -d)
pids=()
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
cleanup() {
  cleanup_servers
  git worktree remove --force "$src" 2>/dev/null || rm -rf "$src"
}
trap cleanup EXIT
git worktree add -q --detach "$src" "$rev"
(cd "$src" && CARGO_TARGET_DIR=${PROFILE_TARGET:-/tmp/asyncbench-profile-target} \
  RUSTFLAGS="-C force-frame-pointers=yes" CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --release -q --workspace --bins --example floor_client --example hyper_floor)
cp "${PROFILE_TARGET:-/tmp/asyncbench-profile-target}"/release/{asyncbench,mock-server,examples/floor_client,examples/hyper_floor} "$work/"

start_mock() { # → sets $mock and $mock_pid
  start_server "$work/server.out" "$work/mock-server" --port 0 --latency 0ms
  mock=$server_url
  mock_pid=$server_pid
}
body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}'
echo "$body" >"$work/body.json"
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body   = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
# The top self-time symbols, then the inclusive share of the frames that name a cost.
summarize() { # perf.data, regex of frames
  echo "### Self time, top 30 symbols"
  echo
  perf report -i "$1" --no-children --sort dso,symbol -g none --percent-limit 0.3 --stdio 2>/dev/null |
    grep '%' | grep -v '^#' | sed -E 's/ +$//; s/ {2,}/  /g' | head -30 || true # head closes the pipe
  echo
  echo "### Inclusive time of named frames"
  echo
  perf report -i "$1" --children --sort symbol -g none --stdio 2>/dev/null | grep '%' | grep -v '^#' |
    grep -E "$2" | sed -E 's/ +$//; s/ {2,}/  /g' | head -40 || true
}

# self_us DATA REQUESTS: "µs-per-request<TAB>symbol" for every symbol (cpu-clock counts ns).
self_us() {
  local ns
  ns=$(perf report -i "$1" --stdio --sort comm 2>/dev/null | awk '/^# Event count/ && !n++ {print $NF}')
  perf report -i "$1" --no-children --sort symbol -g none --percent-limit 0 --stdio 2>/dev/null |
    awk -v ns="$ns" -v n="$2" -F'%' '/^ +[0-9.]+%/ {sym = $2; sub(/^ +\[.\] +/, "", sym); sub(/ +[- ]*$/, "", sym)
      printf "%.4f\t%s\n", $1 / 100 * ns / 1000 / n, sym}'
}
# diff_table DATA_A REQUESTS_A NAME_A DATA_B REQUESTS_B NAME_B: both profiles' self time per
# request by symbol, the 30 largest differences (A − B) first, with the totals, then the 10
# largest the other way.
diff_table() {
  self_us "$1" "$2" >"$work/a.self"
  self_us "$4" "$5" >"$work/b.self"
  python3 - "$work/a.self" "$3" "$work/b.self" "$6" <<'PY'
import sys
def load(path):
    d = {}
    for line in open(path):
        us, _, sym = line.rstrip("\n").partition("\t")
        d[sym] = d.get(sym, 0.0) + float(us)
    return d
a, b = load(sys.argv[1]), load(sys.argv[3])
na, nb = sys.argv[2], sys.argv[4]
print(f"Total: {na} {sum(a.values()):.2f} µs a request, {nb} {sum(b.values()):.2f}, difference {sum(a.values()) - sum(b.values()):.2f}.")
print()
print(f"| difference | {na} | {nb} | symbol |")
print("|---:|---:|---:|---|")
order = sorted(set(a) | set(b), key=lambda k: -(a.get(k, 0) - b.get(k, 0)))
row = lambda sym: f"| {a.get(sym, 0) - b.get(sym, 0):+.3f} | {a.get(sym, 0):.3f} | {b.get(sym, 0):.3f} | `{sym[:110]}` |"
for sym in order[:30]:
    print(row(sym))
# The other end: where the floor spends more, mostly its own frames into which the same work is
# inlined under other names (its request loop where the harness has `send_async`).
print()
print(f"The 10 largest differences the other way ({nb} more):")
print()
print(f"| difference | {na} | {nb} | symbol |")
print("|---:|---:|---:|---|")
for sym in order[::-1][:10]:
    print(row(sym))
PY
}

# --- the client ---------------------------------------------------------------------------------
start_mock
perf record -q -F 1999 --call-graph fp -o "$work/client.data" -- "$work/asyncbench" compare -q --rounds 1 \
  --target "$mock/v1" --body-file "$work/body.json" --strategies async -c 64 -z "${DURATION}s" \
  --out "$work/client-run" >/dev/null 2>&1
figures=$(python3 -c "
import json; s = json.load(open('$work/client-run/report.json'))['strategies'][0]
print(f\"{s['goodput_rps']:.0f} ok/s, {s['accounted']} accounted, client CPU {s['cpu_s'] / s['issued'] * 1e6:.1f} µs/request\")")
stop_server "$mock_pid"
{
  echo "## Client: asyncbench async, c=64, zero latency, ${DURATION} s (commit $commit)"
  echo
  echo "Run: $figures. Profile: \`perf record -F 1999 --call-graph fp\` of the whole process."
  echo
  summarize "$work/client.data" 'send_async|run_phase|Recorder::record|async_tokio::fold|parse_body|RateLimit::from_headers|task::spawn|RequestLog|reqwest::|url::ParseOptions::parse|follow_redirect|tower::retry|hyper_util::client|__memmove|writev|SyncWaker|mpmc|park'
} >"$out/client.txt"

# --- the client beside bare reqwest ---------------------------------------------------------------
start_mock
perf record -q -F 1999 --call-graph fp -o "$work/floor.data" -- "$work/floor_client" reqwest \
  "$mock/v1/chat/completions" "$work/body.json" 64 "${DURATION}s" >"$work/floor.out" 2>&1
stop_server "$mock_pid"
ab_n=$(python3 -c "import json; print(json.load(open('$work/client-run/report.json'))['strategies'][0]['issued'])")
read -r _ fl_n _ fl_ok _ fl_rps _ <"$work/floor.out"
{
  echo "## Client beside bare reqwest: self time per request (commit $commit)"
  echo
  echo "asyncbench \`async\` as in client.txt ($ab_n requests); bare reqwest: \`floor_client reqwest\`, 64 tasks"
  echo "sending one request after another, asyncbench's client settings, status and completion checked,"
  echo "the latency recorded ($fl_n requests, $fl_ok ok, $fl_rps ok/s), ${DURATION} s each against"
  echo "a fresh mock. Self time of each symbol in µs per request (perf's cpu-clock samples ÷ requests;"
  echo "perf's own overhead inflates both alike), the 30 largest differences first, then the 10 largest the other way."
  echo
  diff_table "$work/client.data" "$ab_n" async "$work/floor.data" "$fl_n" "bare reqwest"
} >"$out/client-vs-reqwest.txt"

# --- the mock -----------------------------------------------------------------------------------
# profile_server PID DATA ORIGIN: records PID for DURATION s while wrk -t2 -c64 posts the chat
# body to ORIGIN's completions endpoint (a second longer); prints wrk's requests/s.
profile_server() {
  perf record -q -F 1999 --call-graph fp -o "$2" -p "$1" -- sleep "$DURATION" >/dev/null 2>&1 &
  local perf_pid=$!
  wrk -t2 -c64 -d"$((DURATION + 1))s" -s "$work/post.lua" "$3/v1/chat/completions" | awk '/Requests\/sec/ {print $2}'
  wait "$perf_pid" || true
}
start_mock
rps=$(profile_server "$mock_pid" "$work/mock.data" "$mock")
# The bytes bare hyper answers with below.
curl -s -X POST -H 'content-type: application/json' -d "$body" "$mock/v1/chat/completions" >"$work/completion.json"
stop_server "$mock_pid"
{
  echo "## Mock: wrk -t2 -c64, POST /v1/chat/completions, zero delay (commit $commit)"
  echo
  echo "Run: $rps requests/s (wrk on the same 2 cores). Profile: \`perf record -F 1999 --call-graph fp -p <mock>\` for ${DURATION} s."
  echo
  summarize "$work/mock.data" 'mock_server::|Oneshot|axum::handler|axum::routing|serde_json::de::from_slice|format_inner|writev|recv|Dispatcher.*poll_read|poll_flush|Http1Transaction>::(parse|encode)'
} >"$out/mock.txt"

# --- the mock beside bare hyper -------------------------------------------------------------------
# The same load on a bare hyper server answering the mock's completion bytes; requests in each
# profiled window ≈ wrk's rate × DURATION.
start_server "$work/server.out" "$work/hyper_floor" "$work/completion.json"
hyper_rps=$(profile_server "$server_pid" "$work/hyper.data" "$server_url")
stop_server "$server_pid"
{
  echo "## Mock beside bare hyper: self time per request (commit $commit)"
  echo
  echo "The mock as in mock.txt ($rps requests/s); bare hyper (mock-server/examples/hyper_floor.rs: reads the"
  echo "POST, answers the mock's completion bytes) under the same wrk load: $hyper_rps requests/s. Self time of"
  echo "each symbol in µs per request (perf's cpu-clock samples ÷ (rate × ${DURATION} s)), the 30 largest differences first, then the 10 largest the other way."
  echo
  diff_table "$work/mock.data" "$(python3 -c "print(round($rps * $DURATION))")" mock \
    "$work/hyper.data" "$(python3 -c "print(round($hyper_rps * $DURATION))")" "bare hyper"
} >"$out/mock-vs-hyper.txt"
cat "$out/client.txt" "$out/client-vs-reqwest.txt" "$out/mock.txt" "$out/mock-vs-hyper.txt"
