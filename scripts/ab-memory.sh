#!/usr/bin/env bash
# Memory at C requests in flight, before and after a change, in one run: a strategy of
# asyncbench built at each COMMIT beside bare reqwest (examples/floor_client.rs, built as
# asyncbench builds its client), rounds alternating. Not run by CI.
#
#   ROUNDS=5 bash scripts/ab-memory.sh OUT_DIR COMMIT...
#   STRATEGY=threadpool C=1000 ROUNDS=3 bash scripts/ab-memory.sh OUT_DIR COMMIT...
#
# Each round runs, in turn, `floor_client reqwest` (C tasks, one request after another) and
# `asyncbench compare --strategies STRATEGY -c C -n N --tokenizer words` of each commit
# (STRATEGY `async`, C 10 000 and N 2·C unless set; without o200k_base's vocabulary in
# memory: bench-client.sh shows what it adds), each against a fresh standalone mock at 1 s
# latency, as bench-client.sh runs them (no run meets a mock still closing the last run's
# connections).
# Figures: peak RSS (`/usr/bin/time -v`), and the peaks of anonymous (allocated) and
# file-backed (the binary's and libraries' pages) resident memory from /proc every 0.05 s;
# for asyncbench, the connections the mock counted (one opened beyond C holds buffers of its
# own). Writes OUT_DIR/memory.md: every round, the medians, and each commit's median over
# bare reqwest. The floor and the mock are built from the checkout this runs in.
set -euo pipefail
cd "$(dirname "$0")/.."
ab_commit_args=$(($# - 1))
# shellcheck source=lib/ab.sh
. scripts/lib/ab.sh
# shellcheck source=lib/mem.sh
. scripts/lib/mem.sh
ab_setup ab-memory.sh "${1:-}"
shift
ROUNDS=${ROUNDS:-5}
STRATEGY=${STRATEGY:-async}
C=${C:-10000}
N=${N:-$((2 * C))}
ulimit -n 65536 2>/dev/null || ulimit -n 20000
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 2; }
cargo build --release -q --workspace --bins --example floor_client
cp target/release/mock-server target/release/examples/floor_client "$work/"
ab_build_commits "$@"

echo '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}' >"$work/body.json"

cols=("bare reqwest")
for c in "${commits[@]}"; do cols+=("$STRATEGY at \`$c\`"); done
# cell K FILE: "rss (anon / file)" of run FILE; the three figures also go to $work/{rss,anon,file}K.
cell() {
  local k=$1 f=$2 rss anon file
  rss=$(peak "$f.time")
  read -r anon _ file <"$f.split"
  echo "$rss" >>"$work/rss$k"; echo "$anon" >>"$work/anon$k"; echo "$file" >>"$work/file$k"
  printf '%s (%s / %s)' "$rss" "$anon" "$file"
}
rows=""
for r in $(seq "$ROUNDS"); do
  row="| $r |"
  ab_start_mock --latency 1s
  timed_split "$work/floor" "$work/floor_client" reqwest "$url/v1/chat/completions" "$work/body.json" "$C" "$N" >"$work/floor.out"
  read -r _ _ _ ok _ <"$work/floor.out"
  [ "$ok" = "$N" ] || { echo "bare reqwest: $ok of $N ok" >&2; exit 1; }
  ab_stop_mock
  row+=" $(cell 0 "$work/floor") |"
  k=1
  for c in "${commits[@]}"; do
    rm -rf "$work/ab"
    ab_start_mock --latency 1s
    timed_split "$work/ab" "$work/asyncbench-$c" compare -q --rounds 1 --target "$url/v1" --body-file "$work/body.json" \
      --strategies "$STRATEGY" -c "$C" -n "$N" --tokenizer words --out "$work/ab" >"$work/ab.txt" 2>&1 || {
      echo "asyncbench at $c failed:" >&2; cat "$work/ab.txt" >&2; exit 1; }
    read -r ok conns < <(python3 -c "import json; s = json.load(open('$work/ab/report.json'))['strategies'][0]; print(s['outcomes']['ok'], (s.get('server') or {}).get('connections', '-'))")
    ab_stop_mock
    [ "$ok" = "$N" ] || { echo "asyncbench at $c: $ok of $N ok" >&2; exit 1; }
    row+=" $(cell "$k" "$work/ab"); $conns conns |"
    k=$((k + 1))
  done
  rows+="$row"$'\n'
  echo "round $r: $row" >&2
done
med="| **median** |"
over=""
for k in $(seq 0 $((${#cols[@]} - 1))); do
  med+=" **$(ab_median "$work/rss$k")** ($(ab_median "$work/anon$k") / $(ab_median "$work/file$k")) |"
  if [ "$k" -gt 0 ]; then
    over+="- ${cols[$k]}: $(python3 -c "
r, a, f = $(ab_median "$work/rss$k"), $(ab_median "$work/anon$k"), $(ab_median "$work/file$k")
r0, a0, f0 = $(ab_median "$work/rss0"), $(ab_median "$work/anon0"), $(ab_median "$work/file0")
print(f'peak RSS {r - r0:+.1f} MB ({(r / r0 - 1) * 100:+.1f} %) over bare reqwest; anonymous {a - a0:+.1f} MB ({(a / a0 - 1) * 100:+.1f} %), file-backed {f - f0:+.1f} MB')")"$'\n'
  fi
done
{
  echo "# Memory at $C requests in flight: asyncbench \`$STRATEGY\` beside bare reqwest"
  echo
  ab_head "STRATEGY=$STRATEGY C=$C N=$N ROUNDS=$ROUNDS bash scripts/ab-memory.sh OUT_DIR $*"
  echo
  echo "Mock at 1 s latency, $C in flight, $N requests a run, a fresh standalone mock for each run,"
  echo "on the same 2 cores. MB: peak RSS (\`/usr/bin/time -v\`), in brackets the peaks of anonymous"
  echo "(allocated) / file-backed (binary and libraries) resident memory (/proc every 0.05 s; each"
  echo "its own peak, so the two need not add up to the first). asyncbench runs with"
  echo "\`--tokenizer words\`. Rounds alternate the tools."
  echo
  ab_table
} >"$out/memory.md"
cat "$out/memory.md"
