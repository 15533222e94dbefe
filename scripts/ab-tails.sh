#!/usr/bin/env bash
# The tails a change moves, in one run: asyncbench's `async` built at each COMMIT against fresh
# standalone stamping mocks on the same cores, rounds alternating. Not run by CI.
#
#   ROUNDS=5 [CONNS_N=10000] [STREAMS_N=2000] [CONNS_FLAGS=...] [STREAMS_FLAGS=...] \
#     bash scripts/ab-tails.sh OUT_DIR COMMIT...
#
# Two of issue 29's load points, each round running every commit in turn on a fresh mock:
#   1 000 connections at a fixed 100 ms (CONNS_N requests): good/s, p99, the request's way-in p99,
#     requests in flight by Little's law (good/s × mean latency);
#   256 streams, TTFT 50 ms, ITL 5 ms, 32 tokens (STREAMS_N requests): share of the ideal rate
#     (256 ÷ 205 ms), TTFT p99, ITL p99, the request's way-in p99.
# CONNS_FLAGS and STREAMS_FLAGS are added to each load point's run (e.g. `--warmup 2000 --ramp
# 100ms`).
# Writes OUT_DIR/ab-tails.md with every round and each commit's medians. The mock is built from
# the checkout this runs in.
set -euo pipefail
cd "$(dirname "$0")/.."
ab_commit_args=$(($# - 1))
# shellcheck source=lib/ab.sh
. scripts/lib/ab.sh
ab_setup ab-tails.sh "${1:-}"
shift
ROUNDS=${ROUNDS:-5}
CONNS_N=${CONNS_N:-10000}
STREAMS_N=${STREAMS_N:-2000}
CONNS_FLAGS=${CONNS_FLAGS:-}
STREAMS_FLAGS=${STREAMS_FLAGS:-}
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release -q -p mock-server
cp target/release/mock-server "$work/"
ab_build_commits "$@"

# one KIND COMMIT ROUND: a fresh mock, one run, one line of figures into $work/KIND-COMMIT.
one() {
  local kind=$1 c=$2 r=$3 mock_flags run_flags
  if [ "$kind" = conns ]; then
    mock_flags=(--latency 100ms)
    # shellcheck disable=SC2206
    run_flags=(-c 1000 -n "$CONNS_N" $CONNS_FLAGS)
  else
    mock_flags=(--ttft 50ms --itl 5ms)
    # shellcheck disable=SC2206
    run_flags=(--stream --max-tokens 32 -c 256 -n "$STREAMS_N" $STREAMS_FLAGS)
  fi
  ab_start_mock --stamps "${mock_flags[@]}"
  rm -rf "$work/ab"
  "$work/asyncbench-$c" compare -q --rounds 1 --target "$url/v1" --strategies async "${run_flags[@]}" \
    --out "$work/ab" >/dev/null 2>&1
  ab_stop_mock
  python3 - "$work/ab/report.json" "$kind" "$r" >>"$work/$kind-$c" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["strategies"][0]
kind, r = sys.argv[2], sys.argv[3]
inflight = s["goodput_rps"] * s["latency_ms"]["mean"] / 1000
req = s["distortion"]["request_ms"]["p99"]
if kind == "conns":
    print(f"{r}\t{s['goodput_rps']:.0f}\t{s['latency_ms']['p99']:.1f}\t{req:.1f}\t{inflight:.0f}")
else:
    print(f"{r}\t{s['goodput_rps'] / (256 / 0.205):.3f}\t{s['ttft_ms']['p99']:.1f}\t{s['itl_ms']['p99']:.2f}\t{req:.1f}\t{inflight:.1f}")
PY
}
for r in $(seq "$ROUNDS"); do
  for kind in conns streams; do
    for c in "${commits[@]}"; do one "$kind" "$c" "$r"; done
  done
  echo "round $r done" >&2
done
python3 - "$work" "$out/ab-tails.md" "$ROUNDS" "$*" "-n $CONNS_N $CONNS_FLAGS" "-n $STREAMS_N $STREAMS_FLAGS" "$(git rev-parse --short HEAD)" "${commits[@]}" <<'PY'
import statistics, subprocess, sys, datetime
work, path, rounds, args, conns_flags, streams_flags, head, commits = *sys.argv[1:8], sys.argv[8:]
def rows(kind, c):
    return [l.rstrip("\n").split("\t") for l in open(f"{work}/{kind}-{c}")]
machine = subprocess.run("lscpu | sed -n 's/^Model name: *//p' | head -1", shell=True, capture_output=True, text=True).stdout.strip()
out = [
    "# Tails at load, before and after: asyncbench `async` at each commit",
    "",
    f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%MZ}",
    f"- commits: {' '.join(commits)} (the mock from {head})",
    f"- machine: {machine}, Linux {subprocess.run(['uname', '-r'], capture_output=True, text=True).stdout.strip()}; client and mock on the same cores",
    "- command: `ROUNDS=" + rounds + " " + " ".join(f"{k}_N={v.split()[1]}" + (f" {k}_FLAGS='{' '.join(v.split()[2:])}'" if len(v.split()) > 2 else "") for k, v in [("CONNS", conns_flags), ("STREAMS", streams_flags)]) + f" bash scripts/ab-tails.sh OUT_DIR {args}`",
    "",
    "Each round runs every commit in turn, each against a fresh standalone `mock-server --stamps`.",
    "In flight: good/s × mean latency (Little's law).",
    "",
]
for kind, title, cols in [
    ("conns", f"1 000 connections at a fixed 100 ms (`-c 1000 {conns_flags}`)", ["good/s", "p99 (ms)", "request way-in p99 (ms)", "in flight"]),
    ("streams", f"256 streams, TTFT 50 ms, ITL 5 ms, 32 tokens (`--stream --max-tokens 32 -c 256 {streams_flags}`)", ["share of ideal", "TTFT p99 (ms)", "ITL p99 (ms)", "request way-in p99 (ms)", "in flight"]),
]:
    out += [f"## {title}", "", "| round | commit | " + " | ".join(cols) + " |", "|---|---|" + "---:|" * len(cols)]
    for r in range(int(rounds)):
        for c in commits:
            row = rows(kind, c)[r]
            out.append(f"| {row[0]} | `{c}` | " + " | ".join(row[1:]) + " |")
    for c in commits:
        vals = list(zip(*[row[1:] for row in rows(kind, c)]))
        out.append(f"| **median** | `{c}` | " + " | ".join(f"**{statistics.median(float(v) for v in col):g}**" for col in vals) + " |")
    out.append("")
open(path, "w").write("\n".join(out))
print("\n".join(out))
PY
