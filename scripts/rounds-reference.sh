#!/bin/bash
# Usage: bash scripts/rounds-reference.sh (after cargo build --release; set B to the binary).
# Reference runs for issue 28, from the committed binary.
set -u
B=${B:-target/release/asyncbench}; B=$(realpath "$B")
R=${R:-$(pwd)/results/rounds}
rm -rf $R; mkdir -p $R
cd $R
echo "== asyncbench compare --out compare (default: 3 rounds)" > compare.txt
$B compare -q --out compare >> compare.txt 2>&1; echo "(exit $?)" >> compare.txt
echo "== asyncbench compare --out again (the same build again)" > again.txt
$B compare -q --out again >> again.txt 2>&1; echo "(exit $?)" >> again.txt
echo "== asyncbench diff compare again" > diff-same.txt
$B diff compare again >> diff-same.txt 2>&1; echo "(exit $?)" >> diff-same.txt
for lat in 100ms 105ms; do
  echo "== asyncbench compare --strategies async,threadpool -c 50 -n 500 --latency $lat --rounds 5 --out slow-$lat" > slow-$lat.txt
  $B compare -q --strategies async,threadpool -c 50 -n 500 --latency $lat --rounds 5 --out slow-$lat >> slow-$lat.txt 2>&1; echo "(exit $?)" >> slow-$lat.txt
done
echo "== asyncbench diff slow-100ms slow-105ms --allow-config-change --fail-if 'goodput<-2%,p50>+2%'" > diff-slower.txt
$B diff slow-100ms slow-105ms --allow-config-change --fail-if 'goodput<-2%,p50>+2%' >> diff-slower.txt 2>&1; echo "(exit $?)" >> diff-slower.txt
# What --rounds costs beyond the rounds: the process's wall time against the sum of the rounds'.
for k in 1 3; do
  s=$(date +%s.%N)
  $B compare -q --strategies threadpool,async,async-single,batched -n 2000 --rounds $k --format json > overhead-$k.json 2>/dev/null
  e=$(date +%s.%N)
  python3 - "$k" "$s" "$e" >> overhead.txt <<'PY'
import json,sys
k,s,e=int(sys.argv[1]),float(sys.argv[2]),float(sys.argv[3])
r=json.load(open(f"overhead-{k}.json"))
rounds=sum(x['wall_s'] for st in r['strategies'] for x in st['rounds'])
wall=e-s
print(f"--rounds {k}: process wall {wall:.3f} s, rounds' wall {rounds:.3f} s, outside the rounds {wall-rounds:.3f} s ({100*(wall-rounds)/rounds:.1f} % of the rounds)")
PY
done
rm -f overhead-*.json
git -C "$(dirname "$B")/../.." rev-parse --short HEAD > commit.txt
