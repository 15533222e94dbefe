#!/usr/bin/env bash
# The test suite with every core kept busy by other processes, N times in a row (default 3):
# tests must assert counts and lower bounds that hold on a loaded machine, not on luck.
#
#   bash scripts/test-under-load.sh [N]
#
# The busy loops are plain shell loops, one per core, each bounded by `timeout`, and killed by
# PID when the runs end. Not run by CI (it takes N times the suite's time, or more).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
cores=$(nproc)
cargo test --workspace --no-run -q 2>/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
for _ in $(seq "$cores"); do
  timeout 3h sh -c 'while :; do :; done' &
  pids+=($!)
done
echo "== $cores busy loops (pids ${pids[*]}); the suite $runs times"
for i in $(seq "$runs"); do
  start=$(date +%s)
  if cargo test --workspace -q >"target/under-load-$i.log" 2>&1; then
    echo "run $i: green in $(( $(date +%s) - start )) s ($(grep -c '^test result: ok' "target/under-load-$i.log") test binaries)"
  else
    echo "run $i: FAILED after $(( $(date +%s) - start )) s; see target/under-load-$i.log"
    grep -E '^(test .* FAILED|---- |thread .* panicked)' "target/under-load-$i.log" | head -20
    exit 1
  fi
done
