#!/usr/bin/env bash
# The live view's cost to the run it watches (not run by CI: it wants a quiet machine).
#
#   bash scripts/live-overhead.sh [OUT_DIR]
#
# The same `compare` (zero latency, -c 64, N requests, the embedded mock) run ROUNDS times in
# each of three ways, alternating the order every round: with the live panel drawn on a real
# pseudo-terminal (`script`), with progress lines (`--no-tui`, stdout a file, a line every
# second) and with `-q` (no view, and the runners tick no counters). For each strategy and run:
# the client's CPU per request (`cpu_s` ÷ issued, from report.json: the process but the embedded
# mock's threads and the view's own thread, so what the view adds to it is the runners' counter
# ticks) and goodput; for each run, the whole process's CPU per request (`/usr/bin/time`: mock,
# client and view together). Every round is shown, then the medians and each view over `-q`. Writes OUT_DIR/live-overhead.md (default:
# results/<date>-<hostname>/live/). Run it from a clean checkout so the report names its commit.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/live}
mkdir -p "$out"
ROUNDS=${ROUNDS:-5}
N=${N:-100000}
STRATEGIES=${STRATEGIES:-async,threadpool,async-single}
command -v script >/dev/null || { echo "live-overhead: needs script(1) (util-linux)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "live-overhead: needs /usr/bin/time (apt-get install time)" >&2; exit 2; }

cargo build --release -q --bin asyncbench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp target/release/asyncbench "$work/"
ab="$work/asyncbench"
common=(compare -n "$N" -c 64 --latency 0ms --strategies "$STRATEGIES" --rounds 1)

run() { # mode round
  local dir="$work/$1-$2" t="/usr/bin/time -o $work/$1-$2.time -f %U,%S"
  case $1 in
    panel) TERM=xterm-256color script -qec "$t $ab ${common[*]} --out $dir" /dev/null >/dev/null ;;
    lines) $t "$ab" "${common[@]}" --no-tui --progress-every 1s --out "$dir" >/dev/null 2>"$dir.err" ;;
    quiet) $t "$ab" "${common[@]}" -q --out "$dir" >/dev/null ;;
  esac
}

modes=(panel lines quiet)
for r in $(seq 1 "$ROUNDS"); do
  if (( r % 2 )); then order=("${modes[@]}"); else order=(quiet lines panel); fi
  for m in "${order[@]}"; do run "$m" "$r"; echo "round $r $m done" >&2; done
done

python3 - "$work" "$ROUNDS" "$out/live-overhead.md" "$N" "$STRATEGIES" <<'EOF'
import json, statistics, subprocess, sys
work, rounds, dest, n, strategies = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
modes = ["panel", "lines", "quiet"]
rows, cpu, whole = [], {}, {}
for r in range(1, rounds + 1):
    for m in modes:
        rep = json.load(open(f"{work}/{m}-{r}/report.json"))
        user, system = map(float, open(f"{work}/{m}-{r}.time").read().strip().splitlines()[-1].split(","))
        issued = sum(s["issued"] for s in rep["strategies"])
        whole.setdefault(m, []).append((user + system) * 1e6 / issued)
        for s in rep["strategies"]:
            us = s["cpu_s"] * 1e6 / s["issued"]
            cpu.setdefault((s["id"], m), []).append(us)
            rows.append(f"| {r} | {m} | {s['id']} | {s['issued']} | {us:.2f} | {s['goodput_rps']:.0f} |")
        rows.append(f"| {r} | {m} | whole process | {issued} | {whole[m][-1]:.2f} | |")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
m = rep["machine"]
machine = f"{m['cpus']} × {m['cpu_model']}, {m['memory_bytes'] >> 30} GiB, linux {m['kernel']}, {m['rustc']}"
lines = [
    "# The live view's cost to the measured run",
    "",
    f"Command: `bash scripts/live-overhead.sh` (ROUNDS={rounds}, N={n}, strategies {strategies}), "
    f"commit {commit}{' (dirty tree)' if dirty else ''}, machine: {machine}, client and mock on the same cores.",
    "",
    "Each round runs `asyncbench compare -n N -c 64 --latency 0ms --rounds 1` three ways, in alternating order: "
    "`panel` (the live panel on a pseudo-terminal made by `script`), `lines` (`--no-tui --progress-every 1s`, stdout a file), "
    "`quiet` (`-q`: no view, no counters ticked). `cpu µs/req` is the client's CPU (`cpu_s` of report.json: the process, "
    "the embedded mock's threads excluded, the view's thread included) ÷ requests issued.",
    "",
    "| round | mode | strategy | requests | cpu µs/req | good/s |",
    "|---|---|---|---|---|---|",
    *rows,
    "",
    "Medians over the rounds, and each view against `-q` in the same round (paired: the median of the "
    "rounds' ratios, and their range):",
    "",
    "| strategy | panel µs/req | lines µs/req | quiet µs/req | panel vs quiet | lines vs quiet |",
    "|---|---|---|---|---|---|",
]
def paired(xs, qs):
    r = [100 * (a / b - 1) for a, b in zip(xs, qs)]
    return f"{statistics.median(r):+.1f} % [{min(r):+.1f}, {max(r):+.1f}]"
for s in dict.fromkeys(k[0] for k in cpu):
    p, l, q = (statistics.median(cpu[(s, m)]) for m in modes)
    lines.append(f"| {s} | {p:.2f} | {l:.2f} | {q:.2f} | {paired(cpu[(s, 'panel')], cpu[(s, 'quiet')])} "
                 f"| {paired(cpu[(s, 'lines')], cpu[(s, 'quiet')])} |")
p, l, q = (statistics.median(whole[m]) for m in modes)
lines.append(f"| whole process (mock, client, view) | {p:.2f} | {l:.2f} | {q:.2f} | "
             f"{paired(whole['panel'], whole['quiet'])} | {paired(whole['lines'], whole['quiet'])} |")
open(dest, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
