#!/usr/bin/env bash
# The knee on three shapes, each a sweep whose charts mark it (a cross on the goodput chart):
#   rate-limit/  async under a limit of 200 requests/s at 100 ms a request (knee: 20 in flight);
#   cpu-bound/   async-single with 2 ms of CPU work a response at 20 ms a request (its one
#                thread is the ceiling: 1 ÷ 2.1 ms of CPU a request ≈ 475/s);
#   slots/       async against a server of 8 slots at 100 ms (--capacity 8: 80/s from 8 in
#                flight, latency climbing past it).
# Writes OUT_DIR/<shape>/ (sweep.json, charts, page) and OUT_DIR/summary.txt.
#
#   bash scripts/knee-reference.sh [OUT_DIR]      (B=path/to/asyncbench to use another build)
set -euo pipefail
out=${1:-results/knees}
b=${B:-target/release/asyncbench}
mkdir -p "$out"
"$b" sweep -q -n 200 --strategies async --latency 100ms --rpm 12000 --limit-window 100ms \
  --concurrency 4,8,12,16,20,24,28,32,40,48,64 --out "$out/rate-limit" --force >"$out/rate-limit.txt"
"$b" sweep -q -n 1000 --strategies async-single --latency 20ms --cpu-work 2ms \
  --concurrency 1,2,4,8,16,32,64,128,256,512 --out "$out/cpu-bound" --force >"$out/cpu-bound.txt"
"$b" sweep -q -n 200 --strategies async --latency 100ms --capacity 8 --slo-p99 10s \
  --concurrency 2,4,6,8,10,12,16,24,32 --out "$out/slots" --force >"$out/slots.txt"
python3 - "$out" <<'PY' | tee "$out/summary.txt"
import json, sys
out = sys.argv[1]
for shape, expect in [("rate-limit", "20 (200/s × 100 ms)"), ("cpu-bound", "the first point within 5 % of the ceiling (1 ÷ CPU per request ≈ 475/s)"), ("slots", "8 (the slots)")]:
    r = json.load(open(f"{out}/{shape}/sweep.json"))
    knees = ", ".join(f"{k['strategy']} {k['setting']:g} ({k['why']})" for k in r.get("knees", [])) or "none"
    print(f"{shape}: knee {knees}; expected {expect}; commit {r['git_commit'][:7]}")
PY
