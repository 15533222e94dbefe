#!/usr/bin/env bash
# Peak RSS of the `async` client against the requests it holds in flight: C = 1, 1000, 5000 and
# 10 000 (2·C requests each, 1 s latency, one standalone mock), from `/usr/bin/time -v`; the
# slope is the cost of one request in flight. Not run by CI.
#
#   bash scripts/rss-scaling.sh [OUT_FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/client/rss-scaling.md}
mkdir -p "$(dirname "$out")"
ulimit -n 65536 2>/dev/null || ulimit -n 20000
cargo build --release -q --workspace --bins
work=$(mktemp -d)
cp target/release/asyncbench target/release/mock-server "$work/"
pids=()
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
trap cleanup_servers EXIT
start_server "$work/mock.out" "$work/mock-server" --port 0 --latency 1s
mock=$server_url
echo '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}' >"$work/body.json"
rows=""
for c in 1 1000 5000 10000; do
  /usr/bin/time -v -o "$work/time.txt" "$work/asyncbench" compare -q --rounds 1 --target "$mock/v1" --body-file "$work/body.json" \
    --strategies async -c "$c" -n $((2 * c)) --out "$work/run-$c" >/dev/null 2>&1
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2/1024}' "$work/time.txt")
  acc=$(python3 -c "import json; print(json.load(open('$work/run-$c/report.json'))['strategies'][0]['accounted'])")
  rows+="| $c | $((2 * c)) | $acc | $rss |"$'\n'
done
{
  echo "# Peak RSS against requests in flight (async, 1 s latency)"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ); commit: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!results' 2>/dev/null || echo ' (dirty)')"
  echo "- machine: $(nproc) × $(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo), $(uname -sr); $(rustc --version)"
  echo "- command: \`bash scripts/rss-scaling.sh\` (peak RSS of the whole process from /usr/bin/time -v)"
  echo
  echo "| in flight (C) | requests | accounted | peak RSS (MB) |"
  echo "|---|---|---|---|"
  printf '%s' "$rows"
} >"$out"
cat "$out"
