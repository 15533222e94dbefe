#!/usr/bin/env bash
# What the mock's stamps (`--stamps`) cost, before and after a change, in one run: asyncbench's
# `async` and the mock built at each COMMIT; each commit's client against its stamping mock and
# its plain mock in alternating order, every round, the commits in turn. Not run by CI.
#
#   ROUNDS=15 N=30000 bash scripts/ab-stamps.sh OUT_DIR COMMIT...
#
# The load is the stamps' worst case: zero latency, 64 in flight, streams of 32 events, a stamp
# line on each (ARGS overrides the load's flags; `ARGS="-c 64"` gives whole answers, one stamp
# header each; MOCK_ARGS gives both mocks latency flags: `MOCK_ARGS="--ttft 50ms --itl 5ms"
# ARGS="-c 256 --stream --max-tokens 32" N=5000` is issue 29's paced point). Figures: the client's
# CPU a request in its measured phase (`cpu_s` ÷ requests) and the mock's (its process CPU clock
# over the run, every thread's), stamped and plain, and for each commit the median of the rounds'
# differences and the pooled one (all its stamped rounds' CPU ÷ all its plain rounds' − 1). Writes
# OUT_DIR/stamps.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ab_commit_args=$(($# - 1))
# shellcheck source=lib/ab.sh
. scripts/lib/ab.sh
ab_setup ab-stamps.sh "${1:-}"
shift
ROUNDS=${ROUNDS:-15}
N=${N:-30000}
read -r -a load <<<"${ARGS:--c 64 --stream --max-tokens 32}"
read -r -a mock_args <<<"${MOCK_ARGS:-}"
AB_BINS="asyncbench mock-server" ab_build_commits "$@"
ab_from_checkout="" # each commit's own client and mock
ulimit -n 65536 2>/dev/null || true

# Two standalone mocks a commit, each its own binary: $work/<commit>-stamped and -plain.
mocks=()
trap 'for p in "${mocks[@]}"; do kill "$p" 2>/dev/null || true; done; ab_cleanup' EXIT
# shellcheck source=lib/mocks.sh
. scripts/lib/mocks.sh
for c in "${commits[@]}"; do
  start_named_mock "$c-stamped" "$work/mock-server-$c" --stamps "${mock_args[@]}"
  start_named_mock "$c-plain" "$work/mock-server-$c" "${mock_args[@]}"
done

# One row a round and commit: client stamped, client plain, mock stamped, mock plain (seconds).
for r in $(seq "$ROUNDS"); do
  for c in "${commits[@]}"; do
    if [ $((r % 2)) = 1 ]; then order="stamped plain"; else order="plain stamped"; fi
    for kind in $order; do
      m="$c-$kind"
      before=$(mock_cpu "$m")
      rm -rf "$work/run"
      "$work/asyncbench-$c" compare -q --rounds 1 --strategies async --target "$(cat "$work/$m.url")/v1" \
        -n "$N" "${load[@]}" --out "$work/run" >/dev/null 2>"$work/run.err" || {
        echo "round $r, $m failed: $(cat "$work/run.err")" >&2
        exit 1
      }
      after=$(mock_cpu "$m")
      python3 -c "import json; s = json.load(open('$work/run/report.json'))['strategies'][0]; assert s['accounted_ok'] and s['issued'] == $N, s['accounted']; print(s['cpu_s'], $after - $before)" \
        >"$work/$r-$m.cpu"
    done
    echo "round $r, $c done" >&2
  done
done

{
  echo "# What the stamps cost: each commit's client against its stamping mock and its plain one"
  echo
  ab_head "ROUNDS=$ROUNDS N=$N$([ -n "${ARGS:-}" ] && echo " ARGS=\"$ARGS\"")$([ -n "${MOCK_ARGS:-}" ] && echo " MOCK_ARGS=\"$MOCK_ARGS\"") bash scripts/ab-stamps.sh OUT_DIR $*"
  echo
  echo "Load: \`-n $N ${load[*]}\`, the mocks at $([ -n "${MOCK_ARGS:-}" ] && echo "\`${MOCK_ARGS}\`" || echo "zero latency"), the client (\`async\`) and the mock on the same"
  echo "2 cores. µs of CPU a request: the client's measured phase (\`cpu_s\` ÷ requests) and the"
  echo "mock's process over the run. Each round runs the commits in turn, each commit's two mocks in"
  echo "alternating order (odd rounds stamped first)."
  echo
  python3 - "$work" "$ROUNDS" "$N" "${commits[@]}" <<'EOF'
import statistics, sys
work, rounds, n, commits = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
def cpu(r, c, kind):
    client, mock = open(f"{work}/{r}-{c}-{kind}.cpu").read().split()
    return float(client), float(mock)
us = lambda s: s / n * 1e6
pct = lambda a, b: 100 * (a - b) / b
print("| round | commit | client stamped | client plain | client Δ | mock stamped | mock plain | mock Δ |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
rows = {c: [] for c in commits}
for r in range(1, rounds + 1):
    for c in commits:
        (cs, ms), (cp, mp) = cpu(r, c, "stamped"), cpu(r, c, "plain")
        rows[c].append((cs, cp, ms, mp))
        print(f"| {r} | `{c}` | {us(cs):.2f} | {us(cp):.2f} | {pct(cs, cp):+.1f} % | {us(ms):.2f} | {us(mp):.2f} | {pct(ms, mp):+.1f} % |")
print()
for c in commits:
    x = rows[c]
    pooled = lambda i, j: pct(sum(v[i] for v in x), sum(v[j] for v in x))
    median = lambda i, j: statistics.median(pct(v[i], v[j]) for v in x)
    delta = lambda i, j: statistics.median(us(v[i] - v[j]) for v in x)
    print(f"- `{c}`: client {pooled(0, 1):+.2f} % pooled, {median(0, 1):+.1f} % the rounds' median ({delta(0, 1):+.2f} µs a request); "
          f"mock {pooled(2, 3):+.2f} % pooled, {median(2, 3):+.1f} % the rounds' median ({delta(2, 3):+.2f} µs)")
EOF
} | tee "$out/stamps.md"
