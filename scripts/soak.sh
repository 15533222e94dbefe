#!/usr/bin/env bash
# Soak: the harness (async, 64 in flight) against the standalone mock at zero delay, for
# DURATION seconds (default 600) at the top rate this machine reaches; the resident memory of
# both processes is sampled every 10 s. After a 60 s warm-up both should stay within 10 %.
#
#   bash scripts/soak.sh [OUT_DIR]        (default: results/<date>-<hostname>)
#
# Not run by CI. Writes OUT_DIR/soak.md and OUT_DIR/soak.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)}
DURATION=${DURATION:-600}
WARMUP=${WARMUP:-60}
mkdir -p "$out"
cargo build --release -q --workspace
work=$(mktemp -d)
pids=()
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
trap cleanup_servers EXIT

start_server "$work/mock.out" target/release/mock-server --port 0 --latency 0ms
mock_pid=$server_pid
url="$server_url/v1"

# Calibrate: the rate this machine sustains, so the soak lasts about DURATION seconds.
target/release/asyncbench compare -q --rounds 1 -n 200000 --strategies async -c 64 --target "$url" --out "$work/calib" >/dev/null
# By the column's name: the 15th, read by number, had become another column (`cancelled`, 0).
rate=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "throughput_rps") c = i} NR == 2 && c {print $c}' "$work/calib/summary.csv")
python3 -c "import sys; sys.exit(0 if float('${rate:-0}') > 0 else 1)" || { echo "soak: no throughput in the calibration run's summary.csv" >&2; exit 1; }
n=$(python3 -c "print(int($rate * $DURATION))")
echo "calibrated at $rate requests/s: $n requests for ~${DURATION}s" >&2

rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
target/release/asyncbench compare -q --rounds 1 -n "$n" --strategies async -c 64 --target "$url" --out "$work/soak" >"$work/soak.txt" &
harness_pid=$!
pids+=("$harness_pid")
echo "t_s,harness_rss_kb,mock_rss_kb" >"$out/soak.csv"
t=0
while kill -0 "$harness_pid" 2>/dev/null; do
  echo "$t,$(rss "$harness_pid"),$(rss "$mock_pid")" >>"$out/soak.csv"
  sleep 10
  t=$((t + 10))
done
wait "$harness_pid"
stats=$(curl -s "${url%/v1}/stats")

python3 - "$out/soak.csv" "$WARMUP" >"$work/verdict.txt" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if int(r["t_s"]) >= int(sys.argv[2])]
for who in ("harness", "mock"):
    v = [int(r[f"{who}_rss_kb"]) for r in rows if int(r[f"{who}_rss_kb"]) > 0]
    if not v:
        print(f"| {who} | - | - | - | no samples after warm-up |"); continue
    lo, hi = min(v), max(v)
    spread = (hi - lo) / lo * 100
    print(f"| {who} | {lo/1024:.1f} | {hi/1024:.1f} | {spread:.1f} % | {'within 10 %' if spread <= 10 else 'OVER 10 %'} |")
PY

cpu=$(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo)
{
  echo "# Soak: ${DURATION} s at the top rate"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!results' 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) × $cpu, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr); $(rustc --version)"
  echo "- command: \`DURATION=$DURATION bash scripts/soak.sh\`: \`mock-server --latency 0ms\` as its own process, \`asyncbench compare --strategies async -c 64 -n $n --target …\` (calibrated at $rate requests/s)"
  echo
  echo "Resident memory after the ${WARMUP} s warm-up, sampled every 10 s ([soak.csv](soak.csv)):"
  echo
  echo "| process | min MiB | max MiB | spread | verdict |"
  echo "|---|---|---|---|---|"
  cat "$work/verdict.txt"
  echo
  echo "The run:"
  echo
  echo '```'
  grep -v '^wrote' "$work/soak.txt"
  echo '```'
  echo
  echo "The mock's counters at the end (they include the 200 000 calibration requests): \`$stats\`"
} >"$out/soak.md"
cat "$out/soak.md"
