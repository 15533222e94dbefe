#!/usr/bin/env bash
# "Rust twin vs the Python original": every Rust strategy beside the Python client it stands for,
# on the embedded mock, at C = 50, 500 and 5 000 in flight and latency 0 and 100 ms; then the
# questions people ask about their Python clients, each measured:
#   - how far AsyncOpenAI gets past 100 in flight (a sweep of C at 200 ms, the issue's setup);
#   - what a blocking call inside async costs (py-blocking-in-async vs py-aiohttp);
#   - asyncio.gather with no semaphore at 5 000 requests (-c 0).
# Each run's table is kept beside its files; summary.md gathers the pairs from their summary.csv.
#
#   bash scripts/python-vs-rust.sh OUT_DIR
#
# Needs clients/python/.venv (see clients/python/requirements.txt). Each run is `compare`'s
# default of three rounds (ASYNCBENCH_ROUNDS=1 for one): about three times the 20 minutes the
# script took with one (its C = 5 000 run alone passed 11 minutes at three); not run by CI. Run
# it from a clean checkout so every report names its commit.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/python-vs-rust.sh OUT_DIR}
mkdir -p "$out"
cargo build --release -q --workspace --bins
bin=target/release/asyncbench

run() { # name, then asyncbench arguments
  local name=$1; shift
  echo "== asyncbench $* --out $name" | tee "$out/$name.txt"
  local rc=0
  "$bin" "$@" --out "$out/$name" --force >>"$out/$name.txt" 2>&1 || rc=$?
  echo "(exit $rc)" >>"$out/$name.txt"
  tail -n +2 "$out/$name.txt" | head -14
}

parallel=threadpool,py-threadpool,py-to-thread,async,py-aiohttp,py-httpx,py-openai
for lat in 0ms 100ms; do
  for c in 50 500 5000; do
    case $c in 50) n=2000 ;; 500) n=5000 ;; 5000) n=5000 ;; esac
    run "c$c-$lat" compare -q -n "$n" -c "$c" --latency "$lat" --strategies "$parallel"
  done
  # One request at a time whatever C says: the sync loop, and a blocking call inside async.
  case $lat in 0ms) n=2000 ;; *) n=100 ;; esac
  run "serial-$lat" compare -q -n "$n" -c 50 --latency "$lat" \
    --strategies sequential,py-sequential,async-single,py-blocking-in-async
done
# asyncio.gather over 5 000 requests with no semaphore (-c 0: every request at once).
run gather-5000 compare -q -n 5000 -c 0 --latency 100ms --strategies async,py-aiohttp,py-httpx,py-openai
# AsyncOpenAI past 100 in flight: the issue's 200 ms, 1 200 requests.
echo "== asyncbench sweep -c 50,100,200,300,500 ..." | tee "$out/openai-sweep.txt"
"$bin" sweep -q -n 1200 -c 50,100,200,300,500 --latency 200ms --strategies async,py-aiohttp,py-openai \
  --out "$out/openai-sweep" --force >>"$out/openai-sweep.txt" 2>&1 || echo "(exit $?)" >>"$out/openai-sweep.txt"
cat "$out/openai-sweep.txt"

# summary.md: one row per strategy and setting, from each run's summary.csv.
{
  echo "| run | strategy | C | ok/s | p99 ms | client CPU µs/request | peak RSS MB | threads | accounted |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
  for f in "$out"/*/summary.csv; do
    name=$(basename "$(dirname "$f")")
    [ "$name" = openai-sweep ] && continue
    awk -F, -v run="$name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
      { printf "| %s | %s | %s | %.1f | %.1f | %.0f | %.1f | %s | %s |\n", run, $col["strategy"],
          $col["concurrency"], $col["goodput_rps"], $col["p99_ms"],
          $col["cpu_s"] * 1e6 / $col["issued"], $col["peak_rss_mb"], $col["threads"], $col["accounted"] }' "$f"
  done
} >"$out/summary.md"
cat "$out/summary.md"
