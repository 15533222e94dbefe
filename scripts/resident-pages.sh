#!/usr/bin/env bash
# Which of a binary's own pages are resident while it holds C requests in flight: asyncbench
# `async` of the checkout beside bare reqwest (examples/floor_client.rs), each against a fresh
# standalone mock at 1 s latency, rounds alternating. What ab-memory.sh calls the file-backed
# part of the peak RSS, split by the binary's ELF sections. Not run by CI; Linux only (reads
# /proc/PID/pagemap, which needs root for the present bits of another process's pages).
#
#   ROUNDS=3 bash scripts/resident-pages.sh OUT_DIR
#
# Each run is sampled once, AT seconds after its start (default 1.6: C requests in flight, where
# ab-memory.sh finds the peak), and the binary's present pages are counted by the section of
# the file they map (.text, .rodata, ...), in KB. Writes OUT_DIR/resident.md: every round, and
# the medians.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/resident-pages.sh OUT_DIR}
ROUNDS=${ROUNDS:-3}
C=${C:-10000}
N=${N:-$((2 * C))}
AT=${AT:-1.6}
[ -r /proc/self/pagemap ] || { echo "needs /proc/PID/pagemap (Linux)" >&2; exit 2; }
command -v readelf >/dev/null || { echo "needs readelf (apt-get install binutils)" >&2; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
mock_pid=""
run_pid=""
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
trap '[ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; [ -n "$run_pid" ] && kill "$run_pid" 2>/dev/null; rm -rf "$work"' EXIT
ulimit -n 65536 2>/dev/null || ulimit -n 20000
cargo build --release -q --workspace --bins --example floor_client
cp target/release/asyncbench target/release/mock-server target/release/examples/floor_client "$work/"
commit=$(git rev-parse --short HEAD)
echo '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Explain in one sentence why async helps I/O-bound code."}],"max_tokens":16}' >"$work/body.json"

# sections PID BINARY: "section KB" for each section of BINARY with present pages in PID.
sections() {
  python3 - "$1" "$2" <<'PY'
import collections, struct, subprocess, sys
pid, binary = int(sys.argv[1]), sys.argv[2]
secs = []
for line in subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True).stdout.splitlines():
    line = line.strip()
    if line.startswith("[") and "]" in line:
        f = line.split("]", 1)[1].split()
        try:
            secs.append((f[0], int(f[3], 16), int(f[4], 16)))
        except (IndexError, ValueError):
            pass
kb = collections.Counter()
with open(f"/proc/{pid}/pagemap", "rb") as pm:
    for line in open(f"/proc/{pid}/maps"):
        f = line.split()
        if len(f) < 6 or f[5] != binary:
            continue
        lo, hi = (int(x, 16) for x in f[0].split("-"))
        off, n = int(f[2], 16), (hi - lo) // 4096
        pm.seek(lo // 4096 * 8)
        data = pm.read(n * 8)
        for i in range(n):
            if struct.unpack_from("<Q", data, i * 8)[0] >> 63:
                o = off + i * 4096
                name = next((s for s, so, sz in secs if so <= o < so + sz or o <= so < o + 4096), "other")
                kb[name] += 4
for name, v in kb.most_common():
    print(name, v)
PY
}

# sample KIND: runs `floor_client reqwest` (floor) or asyncbench `async` (async) against a fresh
# mock, counts its binary's pages AT seconds in, waits for it; the counts go to $work/KIND.<round>.
sample() {
  local kind=$1 bin
  start_server "$work/mock.out" "$work/mock-server" --port 0 --latency 1s
  mock_pid=$server_pid
  url=$server_url
  if [ "$kind" = floor ]; then
    bin=$work/floor_client
    "$bin" reqwest "$url/v1/chat/completions" "$work/body.json" "$C" "$N" >"$work/run.out" 2>&1 &
  else
    bin=$work/asyncbench
    rm -rf "$work/ab"
    "$bin" compare -q --rounds 1 --target "$url/v1" --body-file "$work/body.json" --strategies async \
      -c "$C" -n "$N" --tokenizer words --out "$work/ab" >"$work/run.out" 2>&1 &
  fi
  run_pid=$!
  sleep "$AT"
  sections "$run_pid" "$bin" >"$work/$kind.$r"
  wait "$run_pid" || { echo "$kind failed: $(tail -3 "$work/run.out")" >&2; exit 1; }
  run_pid=""
  stop_server "$mock_pid"
  mock_pid=""
}

for r in $(seq "$ROUNDS"); do
  sample floor
  sample async
  echo "round $r done" >&2
done

# text_kb BINARY: the size of BINARY's .text, KB.
text_kb() {
  local h
  h=$(readelf -SW "$1" | awk '$2 == ".text" {print $6}')
  echo $((16#$h / 1024))
}
sizes="bare reqwest $(text_kb "$work/floor_client") KB, asyncbench $(text_kb "$work/asyncbench") KB"

# The table: a row per (round, binary), a column per section any run had; then the medians.
python3 - "$work" "$ROUNDS" "$C" "$commit" "$(nproc) × $(awk -F: '/model name/ {gsub(/^ +/,"",$2); print $2; exit}' /proc/cpuinfo), $(uname -sr)" "$(rustc --version)" "$out/resident.md" "$AT" "$sizes" <<'PY'
import collections, statistics, sys, datetime
work, rounds, c, commit, kernel, rustc, dest, at, sizes = sys.argv[1:10]
rounds = int(rounds)
runs = {}
for kind in ("floor", "async"):
    for r in range(1, rounds + 1):
        d = {}
        for line in open(f"{work}/{kind}.{r}"):
            name, kb = line.split()
            d[name] = int(kb)
        runs[(kind, r)] = d
order = [".text", ".rodata", ".rela.dyn", ".data.rel.ro", ".gcc_except_table", ".eh_frame"]
cols = [s for s in order if any(s in d for d in runs.values())] + ["other"]
def split(d):
    known = [d.get(s, 0) for s in cols[:-1]]
    return known + [sum(d.values()) - sum(known)], sum(d.values())
name = {"floor": "bare reqwest", "async": "asyncbench async"}
out = [f"# The binaries' own resident pages at {c} requests in flight", "",
       f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%dT%H:%MZ}; commit: {commit}",
       f"- machine: {kernel}; {rustc}",
       f"- command: `ROUNDS={rounds} C={c} bash scripts/resident-pages.sh OUT_DIR`", "",
       f"Each binary against a fresh standalone mock at 1 s latency, sampled {at} s after its start",
       f"({c} requests in flight); KB of the binary's file present in its page tables, by the ELF",
       "section the page maps (a page holding two sections counts for the first). Rounds alternate",
       f"the binaries. The whole `.text` of each: {sizes}.", "",
       "| round | binary | " + " | ".join(f"`{s}`" for s in cols) + " | total |",
       "|---|---|" + "---:|" * (len(cols) + 1)]
for r in range(1, rounds + 1):
    for kind in ("floor", "async"):
        parts, total = split(runs[(kind, r)])
        out.append(f"| {r} | {name[kind]} | " + " | ".join(str(v) for v in parts) + f" | {total} |")
for kind in ("floor", "async"):
    rows = [split(runs[(kind, r)]) for r in range(1, rounds + 1)]
    med = [statistics.median(p[0][i] for p in rows) for i in range(len(cols))]
    tot = statistics.median(p[1] for p in rows)
    out.append(f"| **median** | {name[kind]} | " + " | ".join(f"**{v:.0f}**" for v in med) + f" | **{tot:.0f}** |")
open(dest, "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
