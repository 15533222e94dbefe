#!/usr/bin/env bash
# The harness's own CPU a request, before and after a change, in one run: asyncbench's `async`
# built at each COMMIT beside bare reqwest (examples/floor_client.rs, built as asyncbench builds
# its client), against one standalone mock at zero latency, rounds alternating. Not run by CI.
#
#   ROUNDS=7 N=150000 bash scripts/ab-client.sh OUT_DIR COMMIT...
#
# Each round runs, in turn: `floor_client reqwest` (64 tasks, one request after another),
# `floor_client reqwest+spawn` (a task per request under a semaphore of 64), then `asyncbench
# compare --strategies async -c 64 -n N` of each commit. Figures: CPU per request, user + system
# of the whole process ÷ requests (`/usr/bin/time`; asyncbench's includes its start-up and
# report), and for asyncbench also the CPU it reports for its measured phase (`cpu_s ÷ issued`).
# Writes OUT_DIR/ab.md: every round, the medians, and each commit's median over bare reqwest.
# The floors and the mock are built from the checkout this runs in. ALSO='FLAGS' runs each
# commit a second time in each round with FLAGS added, in a column of its own (ALSO=
# --no-request-log: what the request log costs).
set -euo pipefail
cd "$(dirname "$0")/.."
ab_commit_args=$(($# - 1))
# shellcheck source=lib/ab.sh
. scripts/lib/ab.sh
ab_setup ab-client.sh "${1:-}"
shift
ROUNDS=${ROUNDS:-7}
N=${N:-150000}
cargo build --release -q --workspace --bins --example floor_client
cp target/release/mock-server target/release/examples/floor_client "$work/"
ab_build_commits "$@"

body='{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}'
echo "$body" >"$work/body.json"
ab_start_mock --latency 0ms

per_req() { awk -v n="$2" '{printf "%.2f", ($1 + $2) * 1e6 / n}' "$1"; }
ALSO=${ALSO:-}
cols=("bare reqwest" "bare reqwest, a task per request")
runs=()
for c in "${commits[@]}"; do
  runs+=("$c|")
  cols+=("async at \`$c\`")
  if [ -n "$ALSO" ]; then
    runs+=("$c|$ALSO")
    cols+=("async at \`$c\`, \`$ALSO\`")
  fi
done
rows=""
for r in $(seq "$ROUNDS"); do
  row="| $r |"
  k=0
  for kind in reqwest reqwest+spawn; do
    /usr/bin/time -f "%U %S" -o "$work/t" "$work/floor_client" "$kind" "$url/v1/chat/completions" "$work/body.json" 64 "$N" >"$work/o"
    v=$(per_req "$work/t" "$N")
    echo "$v" >>"$work/col$k"
    row+=" $v |"
    k=$((k + 1))
  done
  for run in "${runs[@]}"; do
    c=${run%%|*}
    read -r -a extra <<<"${run#*|}"
    rm -rf "$work/ab"
    /usr/bin/time -f "%U %S" -o "$work/t" "$work/asyncbench-$c" compare -q --rounds 1 --target "$url/v1" \
      --body-file "$work/body.json" --strategies async -c 64 -n "$N" --out "$work/ab" "${extra[@]}" >/dev/null 2>&1
    v=$(per_req "$work/t" "$N")
    m=$(python3 -c "import json; s = json.load(open('$work/ab/report.json'))['strategies'][0]; print(f\"{s['cpu_s'] / s['issued'] * 1e6:.2f}\")")
    echo "$v" >>"$work/col$k"
    echo "$m" >>"$work/phase$k"
    row+=" $v ($m) |"
    k=$((k + 1))
  done
  rows+="$row"$'\n'
  echo "round $r: $row" >&2
done
base=$(ab_median "$work/col0")
med="| **median** |"
over=""
for k in $(seq 0 $((${#cols[@]} - 1))); do
  m=$(ab_median "$work/col$k")
  if [ -f "$work/phase$k" ]; then
    p=$(ab_median "$work/phase$k")
    med+=" **$m** ($p) |"
    over+="- ${cols[$k]}: $(python3 -c "print(f'{$m - $base:+.2f}')") µs a request over bare reqwest (process), $(python3 -c "print(f'{$p - $base:+.2f}')") µs (measured phase)"$'\n'
  else
    med+=" **$m** |"
  fi
done
{
  echo "# The harness's own CPU a request: asyncbench \`async\` beside bare reqwest"
  echo
  ab_head "${ALSO:+ALSO='$ALSO' }ROUNDS=$ROUNDS N=$N bash scripts/ab-client.sh OUT_DIR $*"
  echo
  echo "Zero latency, 64 in flight, $N requests a run, one standalone mock for the whole run, on the"
  echo "same 2 cores. µs of CPU a request: the whole process (user + system ÷ requests); in brackets,"
  echo "asyncbench's own figure for its measured phase. Rounds alternate the tools, so a slow"
  echo "stretch of the machine falls on all of them."
  echo
  ab_table
} >"$out/ab.md"
cat "$out/ab.md"
