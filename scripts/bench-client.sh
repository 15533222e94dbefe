#!/usr/bin/env bash
# The client's hot path against oha, in one run, against one standalone mock (not run by CI: it
# needs oha and a quiet machine).
#
#   bash scripts/bench-client.sh [OUT_DIR]
#
# 1. Throughput at zero latency: ROUNDS alternating rounds of `oha -z DURATION -c 64` and
#    asyncbench's `async` and `async-single` (-c 64 -z DURATION), the same body file, the same
#    mock. Medians and every round. Goal: async ≥ 1.0 × oha, async-single ≥ 0.9 × oha.
#    Each round also gives each tool's whole-process CPU per request (`/usr/bin/time`, user +
#    system ÷ requests): the same measure for both, and less noisy than requests/s on shared
#    cores. Two more columns are the floors under `async` (examples/floor_client.rs): bare
#    hyper-util (reqwest's core, as oha uses hyper) and bare reqwest built as asyncbench builds
#    it, each doing asyncbench's per-request work and nothing of the harness's (the status, the
#    completion parsed, the latency recorded). Between them: what reqwest's layers cost; between
#    bare reqwest and `async`: what the harness's own work costs.
# 2. 10 000 in flight: mock at --latency 1s, 20 000 requests at -c 10000, each tool and both
#    floors under `/usr/bin/time -v` (wall, requests/s, p99, peak RSS of the whole process), and
#    the peaks of its anonymous and file-backed memory from /proc every 0.05 s;
#    asyncbench twice, as it runs by default and with `--tokenizer words` (without o200k_base's
#    vocabulary, about 67 MB, in memory). asyncbench runs one round each time (`--rounds 1`), as
#    the other tools do.
# 3. Efficiency: C=100, 100 ms, 1000 requests (ideal wall 1.0 s): async, threadpool and oha.
# Installs oha with `cargo install oha --locked` when missing. Writes OUT_DIR/client.md
# (default: results/<date>-<hostname>/client/). Run it from a clean checkout so the report names
# its commit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/client}
mkdir -p "$out"
DURATION=${DURATION:-8s}
ROUNDS=${ROUNDS:-5}

command -v oha >/dev/null 2>&1 || cargo install oha --locked
[ -x /usr/bin/time ] || { apt-get update -qq >/dev/null; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null; }
ulimit -n 65536 2>/dev/null || ulimit -n 20000

cargo build --release -q --workspace --bins
cargo build --release -q --example floor_client
work=$(mktemp -d)
# A rebuild mid-run cannot change them.
cp target/release/asyncbench target/release/mock-server target/release/examples/floor_client "$work/"
ab="$work/asyncbench"
pids=()
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
trap cleanup_servers EXIT

start_mock() { # args → sets $mock (origin) and $mock_pid
  start_server "$work/mock.out" "$work/mock-server" --port 0 "$@"
  mock=$server_url
  mock_pid=$server_pid
}
stop_mock() { stop_server "$mock_pid"; }

body="$work/body.json"
echo '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}' >"$body"

# oha's JSON → "rps p99_ms ok total"; success = 2xx answers (oha counts errors apart).
oha_fig() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
codes = r.get("statusCodeDistribution", {})
ok = sum(v for k, v in codes.items() if k.startswith("2"))
total = sum(codes.values()) + sum(r.get("errorDistribution", {}).values())
p99 = r["latencyPercentiles"]["p99"]
print(f'{s["requestsPerSec"]:.0f} {p99 * 1000:.1f} {ok} {total}')
PY
}
# asyncbench's report.json → "goodput_rps p99_ms ok accounted efficiency cpu_us_per_request"
ab_fig() {
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["strategies"][0]
ok = r["outcomes"].get("ok", 0)
p99 = (r.get("latency_ms") or {}).get("p99", float("nan"))
cpu = r["cpu_s"] / max(r["issued"], 1) * 1e6
eff = r["efficiency"] if r["efficiency"] is not None else float("nan")  # null for a standalone mock
print(f'{r["goodput_rps"]:.0f} {p99:.1f} {ok} {r["accounted"]} {eff:.3f} {cpu:.1f}')
PY
}
run_oha() { # file, then oha arguments; the process's CPU (user system, s) goes to FILE.time
  local f=$1; shift
  /usr/bin/time -f '%U %S' -o "$f.time" oha --no-tui --output-format json -m POST -H 'content-type: application/json' -D "$body" "$@" >"$f"
}
run_ab() { # dir, then asyncbench arguments; the process's CPU (user system, s) goes to DIR.time
  local d=$1; shift
  rm -rf "$d"
  /usr/bin/time -f '%U %S' -o "$d.time" "$ab" compare -q --rounds 1 --target "$mock/v1" --body-file "$body" --out "$d" "$@" >"$d.txt" 2>&1 || {
    echo "asyncbench $* failed:" >&2; cat "$d.txt" >&2; exit 1; }
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# per_req TIME_FILE REQUESTS: whole-process CPU µs per request (user + system).
per_req() { awk -v n="$2" 'END {printf "%.1f", ($1 + $2) * 1e6 / n}' "$1"; }

# --- 1. throughput, zero latency, c=64 --------------------------------------------------------
start_mock --latency 0ms
: >"$work/oha.rps"; : >"$work/async.rps"; : >"$work/single.rps"; rounds=""
: >"$work/oha.cpu"; : >"$work/async.cpu"; : >"$work/single.cpu"
for k in hyper reqwest; do : >"$work/$k.rps"; : >"$work/$k.cpu"; done
# floor KIND FILE CONCURRENCY STOP: one floor_client run under /usr/bin/time -v → FILE, FILE.time
floor() { /usr/bin/time -v -o "$2.time" "$work/floor_client" "$1" "$mock/v1/chat/completions" "$body" "$3" "$4" >"$2"; }
# floor_fig FILE → "rps p99_ms ok total cpu_us_per_request"
floor_fig() {
  read -r _ total _ ok _ rps _ p99 <"$1"
  awk -F': ' -v n="$total" -v rps="$rps" -v p99="$p99" -v ok="$ok" '/User time/ {u=$2} /System time/ {s=$2}
    END {printf "%s %s %s %s %.1f", rps, p99, ok, n, (u + s) * 1e6 / n}' "$1.time"
}
for r in $(seq "$ROUNDS"); do
  run_oha "$work/oha-$r.json" -z "$DURATION" -c 64 "$mock/v1/chat/completions"
  run_ab "$work/async-$r" --strategies async -c 64 -z "$DURATION"
  run_ab "$work/single-$r" --strategies async-single -c 64 -z "$DURATION"
  read -r o_rps o_p99 o_ok o_total <<<"$(oha_fig "$work/oha-$r.json")"
  read -r a_rps a_p99 a_ok a_acc a_eff a_cpu <<<"$(ab_fig "$work/async-$r/report.json")"
  read -r s_rps s_p99 s_ok s_acc s_eff s_cpu <<<"$(ab_fig "$work/single-$r/report.json")"
  o_pc=$(per_req "$work/oha-$r.json.time" "$o_total")
  a_pc=$(per_req "$work/async-$r.time" "$a_acc")
  s_pc=$(per_req "$work/single-$r.time" "$s_acc")
  echo "$o_rps" >>"$work/oha.rps"; echo "$a_rps" >>"$work/async.rps"; echo "$s_rps" >>"$work/single.rps"
  echo "$o_pc" >>"$work/oha.cpu"; echo "$a_pc" >>"$work/async.cpu"; echo "$s_pc" >>"$work/single.cpu"
  floor hyper "$work/hyper-$r.txt" 64 "$DURATION"
  floor reqwest "$work/reqwest-$r.txt" 64 "$DURATION"
  read -r h_rps _ h_ok h_total h_pc <<<"$(floor_fig "$work/hyper-$r.txt")"
  read -r q_rps _ q_ok q_total q_pc <<<"$(floor_fig "$work/reqwest-$r.txt")"
  echo "$h_rps" >>"$work/hyper.rps"; echo "$h_pc" >>"$work/hyper.cpu"
  echo "$q_rps" >>"$work/reqwest.rps"; echo "$q_pc" >>"$work/reqwest.cpu"
  rounds+="| $r | $o_rps ($o_ok/$o_total 2xx; $o_pc µs) | $a_rps ($a_acc; $a_pc µs, client ${a_cpu}) | $s_rps ($s_acc; $s_pc µs, client ${s_cpu}) | $h_rps ($h_ok/$h_total ok; $h_pc µs) | $q_rps ($q_ok/$q_total ok; $q_pc µs) |"$'\n'
  echo "round $r: oha $o_rps, async $a_rps, async-single $s_rps, bare hyper-util $h_rps, bare reqwest $q_rps" >&2
done
stop_mock
o_med=$(median <"$work/oha.rps"); a_med=$(median <"$work/async.rps"); s_med=$(median <"$work/single.rps")
o_cmed=$(median <"$work/oha.cpu"); a_cmed=$(median <"$work/async.cpu"); s_cmed=$(median <"$work/single.cpu")
h_med=$(median <"$work/hyper.rps"); h_cmed=$(median <"$work/hyper.cpu")
q_med=$(median <"$work/reqwest.rps"); q_cmed=$(median <"$work/reqwest.cpu")
ratio() { python3 -c "print(f'{$1/$2:.3f}')"; }

# --- 2. 10 000 in flight, 1 s latency, 20 000 requests ------------------------------------------
# shellcheck source=lib/mem.sh
. scripts/lib/mem.sh
wall() { awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$1" | python3 -c 'import sys
t = sys.stdin.read().strip().split(":"); print(f"{sum(float(x) * 60 ** i for i, x in enumerate(reversed(t))):.2f}")'; }
start_mock --latency 1s
timed_split "$work/oha10k" oha --no-tui --output-format json -m POST -H 'content-type: application/json' \
  -D "$body" -n 20000 -c 10000 "$mock/v1/chat/completions" >"$work/oha10k.json"
read -r o10_rps o10_p99 o10_ok o10_total <<<"$(oha_fig "$work/oha10k.json")"
o10_wall=$(wall "$work/oha10k.time"); o10_rss="$(peak "$work/oha10k.time") | $(cat "$work/oha10k.split")"
stop_mock
start_mock --latency 1s
ab10k="" # asyncbench as it runs by default, and without o200k_base's vocabulary in memory
for tok in o200k_base words; do
  rm -rf "$work/ab10k-$tok"
  timed_split "$work/ab10k-$tok" "$ab" compare -q --rounds 1 --target "$mock/v1" --body-file "$body" \
    --strategies async -n 20000 -c 10000 --tokenizer "$tok" --out "$work/ab10k-$tok" >"$work/ab10k-$tok.txt" 2>&1
  read -r a10_rps a10_p99 a10_ok a10_acc a10_eff a10_cpu <<<"$(ab_fig "$work/ab10k-$tok/report.json")"
  a10_wall=$(python3 -c "import json; print(f\"{json.load(open('$work/ab10k-$tok/report.json'))['strategies'][0]['wall_s']:.2f}\")")
  ab10k+="| asyncbench async, --tokenizer $tok | $a10_wall (process $(wall "$work/ab10k-$tok.time")) | $a10_rps | $a10_p99 | $a10_acc | $(peak "$work/ab10k-$tok.time") | $(cat "$work/ab10k-$tok.split") |"$'\n'
done
stop_mock
floor10k="" # a fresh mock for each, as for oha and asyncbench
for k in hyper reqwest; do
  start_mock --latency 1s
  timed_split "$work/$k-10k.txt" "$work/floor_client" "$k" "$mock/v1/chat/completions" "$body" 10000 20000 >"$work/$k-10k.txt"
  read -r f_rps f_p99 f_ok f_total _ <<<"$(floor_fig "$work/$k-10k.txt")"
  floor10k+="| bare $k (floor_client) | $(wall "$work/$k-10k.txt.time") | $f_rps | $f_p99 | $f_ok/$f_total | $(peak "$work/$k-10k.txt.time") | $(cat "$work/$k-10k.txt.split") |"$'\n'
  stop_mock
done

# --- 3. efficiency: C=100, 100 ms, 1000 requests (ideal 1.0 s) ----------------------------------
start_mock --latency 100ms
eff_rows=""
for r in $(seq 3); do
  run_oha "$work/oha-eff.json" -n 1000 -c 100 "$mock/v1/chat/completions"
  o_eff=$(python3 -c "import json; print(f\"{1.0/json.load(open('$work/oha-eff.json'))['summary']['total']:.3f}\")")
  run_ab "$work/eff-$r" --strategies async,threadpool -n 1000 -c 100
  effs=$(python3 -c "import json
r = json.load(open('$work/eff-$r/report.json'))['strategies']
print(' '.join(f\"{s['goodput_rps'] * 0.1 / 100:.3f}\" for s in r))")
  read -r e_async e_tp <<<"$effs"
  eff_rows+="| $r | $o_eff | $e_async | $e_tp |"$'\n'
done
stop_mock

cpu=$(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo)
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
{
  echo "# asyncbench's client vs oha"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commit: $commit$(git diff --quiet HEAD -- . ':!results' 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) × $cpu, $mem, $(uname -sr); $(rustc --version)"
  echo "- $(oha --version); the mock is this commit's standalone mock-server; client, oha and mock share the $(nproc) cores"
  echo "- command: \`bash scripts/bench-client.sh\` (ROUNDS=$ROUNDS, DURATION=$DURATION)"
  echo
  echo "## Throughput: zero latency, c=64, \`-z $DURATION\`, $ROUNDS alternating rounds"
  echo
  echo "Figures are successful answers per second (oha: its requests/s; asyncbench: goodput), then"
  echo "each process's CPU per request (\`/usr/bin/time\`, user + system ÷ requests; asyncbench's includes its"
  echo "start-up, pre-flight request, report and charts, and its resource sampler), then the client CPU"
  echo "asyncbench reports itself (the sampler's thread left out)."
  echo
  echo "| round | oha | asyncbench async | asyncbench async-single | bare hyper-util (floor_client) | bare reqwest (floor_client) |"
  echo "|---|---|---|---|---|---|"
  printf '%s' "$rounds"
  echo "| **median** | **$o_med** ($o_cmed µs) | **$a_med** ($(ratio "$a_med" "$o_med") × oha; $a_cmed µs, $(ratio "$a_cmed" "$o_cmed") × oha's CPU) | **$s_med** ($(ratio "$s_med" "$o_med") × oha; $s_cmed µs, $(ratio "$s_cmed" "$o_cmed") ×) | **$h_med** ($(ratio "$h_med" "$o_med") × oha; $h_cmed µs, $(ratio "$h_cmed" "$o_cmed") ×) | **$q_med** ($(ratio "$q_med" "$o_med") × oha; $q_cmed µs, $(ratio "$q_cmed" "$o_cmed") ×) |"
  echo
  echo "CPU per request, median: reqwest's layers (bare reqwest − bare hyper-util) $(python3 -c "print(f'{$q_cmed - $h_cmed:.1f}')") µs; the harness's own work (async − bare reqwest) $(python3 -c "print(f'{$a_cmed - $q_cmed:.1f}')") µs."
  echo
  echo "Goal: async ≥ 1.0 × oha, async-single ≥ 0.9 × oha."
  echo
  echo "## 10 000 in flight: mock --latency 1s, 20 000 requests, -c 10000"
  echo
  echo "| tool | wall (s) | requests/s | p99 (ms) | ok | peak RSS (MB, /usr/bin/time -v) | peak anon / file-backed (MB, /proc every 0.05 s) |"
  echo "|---|---|---|---|---|---|---|"
  echo "| oha | $o10_wall | $o10_rps | $o10_p99 | $o10_ok/$o10_total | $o10_rss |"
  printf '%s' "$ab10k"
  printf '%s' "$floor10k"
  echo
  echo "asyncbench's wall is its measured phase; the process's includes start-up, the pre-flight check and writing the report and charts. The floors' wall is the process's."
  echo "The last column splits the resident memory: anonymous (what the process allocated) and file-backed (its binary's and libraries' pages in use, which the kernel can drop and read back; asyncbench's binary holds the mock, the charts and the reports besides the client). Each is its own peak, sampled, so the two need not add up to the first."
  echo
  echo "## Efficiency: C=100, --latency 100ms, 1000 requests (ideal wall 1.0 s)"
  echo
  echo "Efficiency = successes/s ÷ (C ÷ delay) = ideal wall ÷ wall: oha 1.0 s ÷ its total, asyncbench goodput × 0.1 s ÷ 100 (its measured phase)."
  echo
  echo "| round | oha | asyncbench async | asyncbench threadpool |"
  echo "|---|---|---|---|"
  printf '%s' "$eff_rows"
  echo
  echo "Goal: async ≥ 0.99, threadpool ≥ 0.97."
} >"$out/client.md"
cat "$out/client.md"
