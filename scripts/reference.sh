#!/usr/bin/env bash
# The reference runs of results/: the default comparison, the article, streaming, the wire
# (HTTP/1.1 and HTTP/2, plain and TLS), an open-loop run with its per-request log and HTML page
# (and a screenshot of the page from headless Chromium when it is installed), and 1 process vs
# 4 shards (scripts/shards.sh). Each run's printed table is kept beside its files.
#
#   bash scripts/reference.sh OUT_DIR
#
# Takes about five minutes; not run by CI. Run it from a clean checkout of a commit, so every
# report names that commit (a dirty tree is marked -dirty).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/reference.sh OUT_DIR}
mkdir -p "$out"
cargo build --release -q --workspace --bins
bin=target/release/asyncbench

run() { # name, then asyncbench arguments
  local name=$1; shift
  echo "== asyncbench $* --out $name" | tee "$out/$name.txt"
  local rc=0
  "$bin" "$@" --out "$out/$name" >>"$out/$name.txt" 2>&1 || rc=$?
  echo "(exit $rc)" >>"$out/$name.txt"
  cat "$out/$name.txt"
}

run compare compare -q
run reproduce reproduce -q
run streaming compare -q -n 40 -c 20 --stream --ttft 200ms --itl 20ms --latency 0ms --max-tokens 64 \
  --strategies sequential,threadpool,async,async-single
for proto in h1 h2; do
  for sec in plain tls; do
    flags=()
    [ "$proto" = h2 ] && flags+=(--http2)
    [ "$sec" = tls ] && flags+=(--tls)
    run "wire-$proto-$sec" compare -q -n 400 -c 50 --latency 20ms --strategies threadpool,async,async-single "${flags[@]}"
  done
done
run open-loop compare -q -n 600 --rate 40 --arrival poisson -c 200 --stream --ttft lognormal:150ms,600ms \
  --itl 15ms --latency 0ms --max-tokens 32,16 --rate-429 0.03 --retry openai --slo ttft=500ms,e2e=1500ms \
  --strategies threadpool,async --warmup 20
for browser in chromium-headless-shell chromium; do
  if command -v "$browser" >/dev/null; then
    "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2400 \
      --screenshot="$out/open-loop/report.png" "file://$(cd "$out/open-loop" && pwd)/report.html" 2>/dev/null
    break
  fi
done
bash scripts/shards.sh "$out/shards" >/dev/null
echo "reference: wrote $out" >&2
