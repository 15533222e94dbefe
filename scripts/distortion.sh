#!/usr/bin/env bash
# The measurement's own error at load (issue 29's goals), against standalone mocks on this host
# that stamp their writes (--stamps), every round shown:
#   A. 256 streams, TTFT 50 ms, ITL 5 ms, 32 tokens, 20 000 requests after a warm-up of 512,
#      the slots opened over one request's 205 ms (--ramp): share of the ideal rate
#      (256 ÷ 205 ms), TTFT p99, ITL p99, and the three sides of the distortion.
#   B. 1000 connections at a fixed 100 ms, 30 000 requests after a warm-up of 2 000, the slots
#      opened over 100 ms: p99 and the distortion.
#   A and B warm the connections and ramp the starts: opened in the same millisecond and
#   started together, 1 000 connections' requests stay in bursts that the request side shows
#   (results/2026-12-06-epyc-2c/tails/).
#   C. 10 000 in flight at 1 s (20 000 requests): the harness's own lateness.
#   D. What stamps cost: at zero latency, -c 64, D_N requests a round (default 200 000), whole
#      answers and streams of 32 events; and streams at A's point (PACED_N requests, default
#      20 000); each round a stamping mock and a plain one in alternating order; the client's
#      and the mock's CPU per request, every round, the median of the rounds' differences and
#      the pooled ratio (all the stamped rounds' CPU over all the plain rounds').
# `async` is the client throughout (the strategy the goals name). PARTS picks the parts
# (default "A B C D"). Not run by CI.
#
#   ROUNDS=5 bash scripts/distortion.sh [OUT_FILE]
#   ROUNDS=15 PARTS=D bash scripts/distortion.sh results/.../stamps-cost.md
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
parts=${PARTS:-A B C D}
d_n=${D_N:-200000}
paced_n=${PACED_N:-20000}
part() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/distortion/distortion.md}
mkdir -p "$(dirname "$out")"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -q --workspace --bins
work=$(mktemp -d)
cp target/release/asyncbench target/release/mock-server "$work/"
mocks=()
trap 'for p in "${mocks[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
# shellcheck source=lib/mocks.sh
. scripts/lib/mocks.sh
# start_mock NAME FLAGS...: a standalone mock of this checkout (see lib/mocks.sh).
start_mock() {
  local name=$1
  shift
  start_named_mock "$name" "$work/mock-server" "$@"
}

# run NAME MOCK FLAGS...: one async run against MOCK, its report in $work/NAME/report.json.
run() {
  local name=$1 mock=$2
  shift 2
  "$work/asyncbench" compare -q --rounds 1 --strategies async --target "$(cat "$work/$mock.url")/v1" \
    --out "$work/$name" "$@" >/dev/null 2>"$work/$name.err" || {
    echo "run $name failed:" >&2
    cat "$work/$name.err" >&2
    exit 1
  }
}

# fig NAME EXPR: a figure of run NAME's strategy `s` (a Python expression).
fig() {
  python3 -c "import json,sys; s=json.load(open('$work/$1/report.json'))['strategies'][0]; d=s.get('distortion') or {}; print($2)"
}
side='lambda k: "-" if not d.get(k) else "%.3f / %.3f / %.3f" % (d[k]["p50"], d[k]["p99"], d[k]["max"])'

if part A; then start_mock streams --stamps --ttft 50ms --itl 5ms; fi
if part B; then start_mock fixed --stamps --latency 100ms; fi
if part C; then start_mock slow --stamps --latency 1s; fi
if part D; then
  start_mock zero --stamps
  start_mock zero-plain
  start_mock paced --stamps --ttft 50ms --itl 5ms
  start_mock paced-plain --ttft 50ms --itl 5ms
fi

# stamps_cost KIND MOCK N FLAGS...: part D's table for one kind of answer, ROUNDS rounds of N
# requests against MOCK (stamping) and MOCK-plain.
stamps_cost() {
  local kind=$1 mock=$2 n=$3
  shift 3
  echo "| round | order | client stamped | client plain | client Δ | mock stamped | mock plain | mock Δ |"
  echo "|---|---|---|---|---|---|---|---|"
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) = 1 ]; then order="$mock $mock-plain"; else order="$mock-plain $mock"; fi
    for m in $order; do
      before=$(mock_cpu "$m")
      run "d$kind$r-$m" "$m" -n "$n" "$@"
      after=$(mock_cpu "$m")
      python3 -c "print($after - $before)" >"$work/d$kind$r-$m.mock"
    done
  done
  python3 - "$work" "$kind" "$rounds" "$n" "$mock" <<'EOF'
import json, statistics, sys
work, kind, rounds, n, stamping = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
plain = stamping + "-plain"
cpu = lambda r, m: json.load(open(f"{work}/d{kind}{r}-{m}/report.json"))["strategies"][0]["cpu_s"]
mock = lambda r, m: float(open(f"{work}/d{kind}{r}-{m}.mock").read())
us = lambda s: s / n * 1e6
rows = []
for r in range(1, rounds + 1):
    cs, cp, ms, mp = cpu(r, stamping), cpu(r, plain), mock(r, stamping), mock(r, plain)
    rows.append((cs, cp, ms, mp))
    first = "stamped first" if r % 2 == 1 else "plain first"
    print(f"| {r} | {first} | {us(cs):.2f} | {us(cp):.2f} | {100 * (cs - cp) / cp:+.1f} % | {us(ms):.2f} | {us(mp):.2f} | {100 * (ms - mp) / mp:+.1f} % |")
pooled = lambda i, j: 100 * (sum(x[i] for x in rows) / sum(x[j] for x in rows) - 1)
median = lambda i, j: statistics.median(100 * (x[i] - x[j]) / x[j] for x in rows)
print()
print(f"Pooled over the {rounds} rounds (all stamped CPU ÷ all plain CPU − 1): client {pooled(0, 1):+.2f} %, mock {pooled(2, 3):+.2f} %; median of the rounds: client {median(0, 1):+.1f} %, mock {median(2, 3):+.1f} %.")
EOF
}

{
  echo "# The measurement's own error at load"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!results' 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) × $(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo), $(uname -sr); $(rustc --version)"
  echo "- command: \`ROUNDS=$rounds PARTS='$parts' D_N=$d_n PACED_N=$paced_n bash scripts/distortion.sh\`; client \`async\` (release), each mock a standalone \`mock-server --stamps\` on the same two cores"
  echo "- distortion columns: p50 / p99 / max in ms; request = client send → mock handler, mock late = written − intended, transit = client read − mock write, harness = last byte read → counted"
  echo
  if part A; then
  echo "## A. 256 streams, TTFT 50 ms, ITL 5 ms, 32 tokens (\`-n 20000 --warmup 512 --ramp 205ms\`; ideal 256 ÷ 205 ms = 1248.8/s)"
  echo
  echo "| round | good/s | share of ideal | TTFT p99 (ms) | ITL p99 (ms) | request | mock late | transit | harness |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for r in $(seq "$rounds"); do
    run "a$r" streams --stream --max-tokens 32 -c 256 -n 20000 --warmup 512 --ramp 205ms
    fig "a$r" "'| $r | %.1f | %.3f | %.1f | %.2f | %s | %s | %s | %s |' % (s['goodput_rps'], s['goodput_rps'] / (256 / 0.205), s['ttft_ms']['p99'], s['itl_ms']['p99'], ($side)('request_ms'), ($side)('mock_late_ms'), ($side)('transit_ms'), ($side)('harness_ms'))"
  done
  echo
  fi
  if part B; then
  echo "## B. 1000 connections at a fixed 100 ms (\`-n 30000 --warmup 2000 --ramp 100ms\`)"
  echo
  echo "| round | good/s | p50 (ms) | p99 (ms) | request | mock late | transit | harness |"
  echo "|---|---|---|---|---|---|---|---|"
  for r in $(seq "$rounds"); do
    run "b$r" fixed -c 1000 -n 30000 --warmup 2000 --ramp 100ms
    fig "b$r" "'| $r | %.1f | %.1f | %.1f | %s | %s | %s | %s |' % (s['goodput_rps'], s['latency_ms']['p50'], s['latency_ms']['p99'], ($side)('request_ms'), ($side)('mock_late_ms'), ($side)('transit_ms'), ($side)('harness_ms'))"
  done
  echo
  fi
  if part C; then
  echo "## C. 10 000 in flight at 1 s (20 000 requests)"
  echo
  echo "| round | good/s | p99 (ms) | request | mock late | transit | harness |"
  echo "|---|---|---|---|---|---|---|"
  for r in $(seq "$rounds"); do
    run "c$r" slow -c 10000 -n 20000
    fig "c$r" "'| $r | %.1f | %.1f | %s | %s | %s | %s |' % (s['goodput_rps'], s['latency_ms']['p99'], ($side)('request_ms'), ($side)('mock_late_ms'), ($side)('transit_ms'), ($side)('harness_ms'))"
  done
  echo
  fi
  if part D; then
  echo "## D. What stamps cost: a stamping mock and a plain one alternating"
  echo
  echo "CPU per request in µs: the client's (\`cpu_s\` ÷ requests) and the mock's (its process CPU clock over the run, every thread's)."
  echo
  echo "### Whole answers, zero latency, \`-c 64 -n $d_n\`"
  echo
  stamps_cost whole zero "$d_n" -c 64
  echo
  echo "### Streams of 32 events, zero latency, \`-c 64 -n $d_n --stream --max-tokens 32\` (a stamp comment on each event)"
  echo
  stamps_cost stream zero "$d_n" -c 64 --stream --max-tokens 32
  echo
  echo "### Streams at part A's point: TTFT 50 ms, ITL 5 ms, 32 tokens, \`-c 256 -n $paced_n --stream --max-tokens 32\` (no warm-up: the mock's CPU is counted over the whole run)"
  echo
  stamps_cost paced paced "$paced_n" -c 256 --stream --max-tokens 32
  fi
} | tee "$out"
