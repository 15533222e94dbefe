#!/usr/bin/env bash
# One process vs 4 shards merged, the same workload against one standalone mock: closed loop
# (C = 64) and open loop (200 requests/s, Poisson). The four shards run as separate processes on
# this machine, told to start together (--start-at), and are merged with `asyncbench merge`.
#
#   bash scripts/shards.sh [OUT_DIR]        (default: results/<date>-<hostname>/shards)
#
# Takes about a minute; not run by CI (tests/shards.rs checks the same exactly, smaller).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/shards}
mkdir -p "$out"
cargo build --release -q --workspace --bins
bin=target/release
work=$(mktemp -d)
mock_pid=
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
start_server "$work/mock.out" "$bin/mock-server" --port 0 --latency lognormal:100ms,400ms --rate-500 0.02 --seed 11
mock_pid=$server_pid
url="$server_url/v1"

case_() { # name, then the workload's flags
  local name=$1; shift
  # One round each way: a shard runs one, and compare's default is three.
  local flags=(-q --rounds 1 --strategies async --target "$url" "$@")
  echo "== $name, one process: asyncbench compare ${flags[*]}" | tee "$out/$name.txt"
  "$bin/asyncbench" compare "${flags[@]}" --out "$out/$name-one" | tee -a "$out/$name.txt"
  local at=$(($(date +%s) + 2)) pids=()
  echo "== $name, 4 shards: the same with --shard K/4 --start-at $at, then asyncbench merge" | tee -a "$out/$name.txt"
  for k in 0 1 2 3; do
    "$bin/asyncbench" compare "${flags[@]}" --shard "$k/4" --start-at "$at" --out "$out/$name-shard-$k" >"$work/$name-$k.txt" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p"; done
  "$bin/asyncbench" merge "$out"/"$name"-shard-? --out "$out/$name-merged" 2>&1 | tee -a "$out/$name.txt"
}
case_ closed -n 4000 -c 64 --retry openai
case_ open -n 3000 --rate 200 --arrival poisson -c 400 --retry openai

python3 - "$out" >"$out/README.md" <<'PY'
import json, sys
out = sys.argv[1]
print("# 1 process vs 4 shards merged\n")
print("Made by `bash scripts/shards.sh`: the same workload against one standalone mock "
      "(`--latency lognormal:100ms,400ms --rate-500 0.02 --seed 11`), once in one process and "
      "once as four shard processes on the same machine started together with `--start-at`, "
      "merged by `asyncbench merge`. `closed`: `-n 4000 -c 64 --retry openai`; `open`: "
      "`-n 3000 --rate 200 --arrival poisson -c 400 --retry openai`.\n")
rows = [("accounted", lambda s: s["accounted"]), ("ok", lambda s: s["outcomes"]["ok"]),
        ("5xx", lambda s: s["outcomes"]["server_error"]), ("attempts", lambda s: s["attempts"]),
        ("wall s", lambda s: f'{s["wall_s"]:.2f}'), ("good/s", lambda s: f'{s["goodput_rps"]:.1f}'),
        ("p50 ms", lambda s: f'{s["latency_ms"]["p50"]:.1f}'), ("p90 ms", lambda s: f'{s["latency_ms"]["p90"]:.1f}'),
        ("p99 ms", lambda s: f'{s["latency_ms"]["p99"]:.1f}'), ("max ms", lambda s: f'{s["latency_ms"]["max"]:.1f}'),
        ("start spread s", lambda s: f'{s.get("start_spread_s", 0):.3f}' if "start_spread_s" in s else "-")]
for case in ("closed", "open"):
    one = json.load(open(f"{out}/{case}-one/report.json"))["strategies"][0]
    merged = json.load(open(f"{out}/{case}-merged/report.json"))["strategies"][0]
    print(f"## {case}\n\n| | one process | 4 shards merged |\n|---|---|---|")
    for name, f in rows:
        print(f"| {name} | {f(one)} | {f(merged)} |")
    print(f"\nEvery command and table: [{case}.txt]({case}.txt).\n")
PY
cat "$out/README.md"
