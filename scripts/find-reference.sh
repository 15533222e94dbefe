#!/usr/bin/env bash
# The reference for `sweep --find`: a search for the largest concurrency meeting a 429 cap under
# a limit of 200 requests/s at 100 ms a request (the true answer: 20 in flight), beside the fixed
# sweep as fine over the same range (every value from 4 to 64 at 5 % steps), for async and
# threadpool. Writes OUT_DIR/find/ and OUT_DIR/grid/ (sweep.json, charts, page) and a summary.
#
#   bash scripts/find-reference.sh [OUT_DIR]      (B=path/to/asyncbench to use another build)
set -euo pipefail
out=${1:-results/find}
b=${B:-target/release/asyncbench}
mkdir -p "$out"
flags=(-n 200 --strategies async,threadpool --latency 100ms --rpm 12000 --limit-window 100ms --max-429 0.01 -q)
grid=$(python3 -c '
v, xs = 4, [4]
while v < 64:
    v = max(v + 1, int(v * 1.05))
    xs.append(min(v, 64))
print(",".join(map(str, xs)))')
"$b" sweep --find concurrency=4..64 --resolution 5% "${flags[@]}" --out "$out/find" --force >"$out/find.txt"
"$b" sweep --concurrency "$grid" --all-points "${flags[@]}" --out "$out/grid" --force >"$out/grid.txt"
python3 - "$out" <<'PY' | tee "$out/summary.txt"
import json, sys
out = sys.argv[1]
f = json.load(open(f"{out}/find/sweep.json"))
g = json.load(open(f"{out}/grid/sweep.json"))
print(f"commit {f['git_commit']}; machine {f['machine']['cpu_model']} × {f['machine']['cpus']}")
grid_requests = sum(r.get("rounds") and 0 or 200 for p in g["points"] for r in p["results"])
for s in f["search"]:
    st = s["strategy"]
    rec = next(r for r in g["recommendations"] if r["strategy"] == st)
    print(f"{st}: search {s['end']} in {s['points']} points / {s['requests']} requests; "
          f"fixed sweep: {len([p for p in g['points'] if any(r['strategy'] == st for r in p['results'])])} points, "
          f"recommends {rec['setting']}")
print(f"fixed sweep requests (both strategies): {grid_requests}; search: {sum(s['requests'] for s in f['search'])}")
for k in g.get("knees", []):
    print(f"fixed sweep knee {k['strategy']}: {k['setting']} ({k['why']})")
for k in f.get("knees", []):
    print(f"search knee {k['strategy']}: {k['setting']} ({k['why']})")
PY
