#!/usr/bin/env bash
# The tuning comparison of the README: against the mock's requests/min limiter (20 requests/s,
# one second of burst), the article's fixed batches with a pause, a sliding window that retries
# its 429s, and a client-side throttle pacing at the limit; then a sweep over the throttle rate.
#
#   bash scripts/tuning.sh [OUT_DIR]        (default: results/<date>-<hostname>/tuning)
#
# Takes a few minutes; not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/tuning}
mkdir -p "$out"
cargo build --release -q
bin=target/release/asyncbench
mock=(--latency lognormal:400ms,1500ms --rpm 1200 --limit-window 1s --seed 7)
n=120

run() { # name, then compare flags
  local name=$1; shift
  echo "== $name: asyncbench compare -n $n ${mock[*]} $*" | tee "$out/$name.txt"
  "$bin" compare -q -n "$n" "${mock[@]}" "$@" --out "$out/$name" | tee -a "$out/$name.txt"
}

run article-batches --strategies batched --batch-size 5 --pause 1s --retry openai
run tuned-batches --strategies batched --batch-size 20 --pause 1s --retry openai
run window --strategies async -c 32 --retry openai
run throttle --strategies async -c 32 --rate 20 --retry openai
"$bin" plot "$out" --combine "$out/article-batches,$out/tuned-batches,$out/window,$out/throttle"

echo "== sweep: asyncbench sweep --strategies async -c 64 --rate 10,15,20,25,30 --retry openai --slo-p99 3s" | tee "$out/sweep.txt"
"$bin" sweep -q -n "$n" "${mock[@]}" --strategies async -c 64 --rate 10,15,20,25,30 --retry openai \
  --slo-p99 3s --max-429 0.01 --out "$out/sweep" | tee -a "$out/sweep.txt"
