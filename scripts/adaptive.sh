#!/usr/bin/env bash
# The reference runs of "concurrency that tunes itself" and "CPU work per response":
#   limit: against the mock's 1200 requests/min limiter (one second of burst, lognormal latency
#          400 ms median, 1.5 s p99), 2000 requests: a sweep of fixed concurrency 1…128 (each point
#          stops at 2000 requests or 100 s), then --concurrency auto, then --concurrency auto with
#          the limit dropping to 300/min from 20 s to 40 s; a summary of goodput and 429 shares.
#   tpm:   --concurrency auto under a 40 000 tokens/min limit, alone and with 1200 requests/min.
#   cpu:   a sweep of --cpu-work 0,1ms,2ms,5ms,10ms over threadpool, async, async-single and
#          async-offload (2000 requests per point, C=50, 100 ms mock).
#
#   bash scripts/adaptive.sh [OUT_DIR] [limit|sweep|auto|tpm|cpu|all]
#     (default: results/<date>-<hostname>/adaptive, all; limit = sweep + auto; auto reuses the
#     folder's sweep for its summary)
#
# The limit part takes about 20 minutes and uses little CPU; the cpu part takes a few minutes and
# wants the machine to itself. Not run by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/adaptive}
part=${2:-all}
mkdir -p "$out"
cargo build --release -q
# A copy, so that a rebuild during the runs does not change the binary under them.
bin=$(mktemp -d)/asyncbench
cp target/release/asyncbench "$bin"
mock=(--latency lognormal:400ms,1500ms --limit-window 1s --seed 7)
n=2000

say() { echo "== $1" | tee "$out/$2.txt"; }

if [[ $part == limit || $part == all || $part == sweep ]]; then
  say "sweep: asyncbench sweep -n $n --duration 100s ${mock[*]} --rpm 1200 --strategies async -c 1,2,4,8,16,32,64,128 --retry openai" sweep-fixed
  "$bin" sweep -q -n "$n" --duration 100s "${mock[@]}" --rpm 1200 --strategies async \
    -c 1,2,4,8,16,32,64,128 --retry openai --out "$out/sweep-fixed" --force | tee -a "$out/sweep-fixed.txt"
fi

if [[ $part == limit || $part == all || $part == auto ]]; then
  say "auto: asyncbench compare -n $n ${mock[*]} --rpm 1200 --strategies async --concurrency auto --retry openai" auto
  "$bin" compare -q -n "$n" "${mock[@]}" --rpm 1200 --strategies async --concurrency auto --retry openai \
    --out "$out/auto" --force | tee -a "$out/auto.txt"
  say "drop: asyncbench compare -n $n ${mock[*]} --rpm-schedule 0s:1200,20s:300,40s:1200 --strategies async --concurrency auto --retry openai" drop
  "$bin" compare -q -n "$n" "${mock[@]}" --rpm-schedule 0s:1200,20s:300,40s:1200 --strategies async \
    --concurrency auto --retry openai --out "$out/drop" --force | tee -a "$out/drop.txt"
  python3 - "$out" <<'PY' | tee "$out/summary.txt"
import json, sys
out = sys.argv[1]
sweep = json.load(open(f"{out}/sweep-fixed/sweep.json"))
fixed = [(p["setting"], r) for p in sweep["points"] for r in p["results"]]
best_c, best = max(fixed, key=lambda x: x[1]["goodput_rps"])
whole_c, whole = max(((c, r) for c, r in fixed if r["failed"] == 0), key=lambda x: x[1]["goodput_rps"])
print(f"fixed concurrency (sweep): best goodput {best['goodput_rps']:.2f} ok/s at C={best_c:g} "
      f"({best['failed']} requests failed, 429 share {100 * best['share_429']:.2f} %); "
      f"best with every request ok {whole['goodput_rps']:.2f} ok/s at C={whole_c:g}")
for c, r in fixed:
    print(f"  C={c:<4g} {r['goodput_rps']:6.2f} ok/s  failed {r['failed']:4d}  429 share {100 * r['share_429']:5.2f} %  p99 {r['p99_ms'] or 0:7.1f} ms")
for name in ("auto", "drop"):
    s = json.load(open(f"{out}/{name}/report.json"))["strategies"][0]
    a = s["adaptive"]
    print(f"{name}: {s['goodput_rps']:.2f} ok/s = {s['goodput_rps'] / best['goodput_rps']:.3f} x the best fixed, "
          f"{s['goodput_rps'] / whole['goodput_rps']:.3f} x the best fixed with every request ok; "
          f"429 share {100 * s['attempt_outcomes']['rate_limited'] / s['attempts']:.2f} % of {s['attempts']} answers "
          f"(the last round's controller: {100 * a['share_429']:.2f} %); settled at {a['converged']:.1f}, "
          f"{a['cuts']} cuts; accounted {s['accounted']}")
    if name == "drop":
        tl = a["timeline"]
        per = 4  # 250 ms ticks per second
        secs = [tl[i:i + per] for i in range(0, len(tl), per)]
        def share(rows):
            att = sum(t["attempts"] for t in rows)
            return (sum(t["rate_limited"] for t in rows) / att if att else 0.0), att
        print("  the last round's controller, by seconds of the mock's clock:")
        for lo, hi in ((15, 20), (20, 25), (25, 30), (30, 40), (40, 45)):
            sh, att = share([t for s_ in secs[lo:hi] for t in s_])
            lim = [t["limit"] for s_ in secs[lo:hi] for t in s_]
            print(f"  {lo:>2}-{hi:<2} s: 429 share {100 * sh:5.2f} % of {att} answers, limit {min(lim):.1f}..{max(lim):.1f}")
        # The first second after the drop from which every 1 s window stays under 1 % 429s.
        after = next((k for k in range(20, len(secs))
                      if all(share(secs[j])[0] < 0.01 for j in range(k, min(k + 20, len(secs))))), None)
        print(f"  429 share under 1 % in every second from {after} s on (the drop is at 20 s of the mock's clock)")
PY
fi

if [[ $part == tpm || $part == all ]]; then
  # A tokens-per-minute limit alone, then with a requests-per-minute one: the pacer charges
  # each attempt sent since the last headers its tokens (prompt estimate + max_tokens).
  for limits in "--tpm 40000" "--rpm 1200 --tpm 40000"; do
    name=tpm$([[ $limits == *rpm* ]] && echo -rpm || true)
    say "$name: asyncbench compare -n $n ${mock[*]} $limits --strategies async --concurrency auto --retry openai" "$name"
    # shellcheck disable=SC2086
    "$bin" compare -q -n "$n" "${mock[@]}" $limits --strategies async --concurrency auto --retry openai \
      --out "$out/$name" --force | tee -a "$out/$name.txt"
  done
  python3 - "$out" <<'PY' | tee "$out/summary-tpm.txt"
import json, sys
out = sys.argv[1]
for name in ("tpm", "tpm-rpm"):
    s = json.load(open(f"{out}/{name}/report.json"))["strategies"][0]
    a = s["adaptive"]
    tokens = s["input_tokens_per_request"]["p50"] + s["output_tokens_per_request"]["p50"]
    print(f"{name}: {s['goodput_rps']:.2f} ok/s, {s['outcomes'].get('ok', 0)}/{s['issued']} ok, "
          f"429 share {100 * s['attempt_outcomes']['rate_limited'] / s['attempts']:.2f} % of {s['attempts']} answers "
          f"(the last round's controller: {100 * a['share_429']:.2f} %), settled at {a['converged']:.1f}, "
          f"about {tokens:.0f} tokens a request; accounted {s['accounted']}")
PY
fi

if [[ $part == cpu || $part == all ]]; then
  say "cpu: asyncbench sweep -n $n --cpu-work 0,1ms,2ms,5ms,10ms --strategies threadpool,async,async-single,async-offload" cpu-sweep
  "$bin" sweep -q -n "$n" --cpu-work 0,1ms,2ms,5ms,10ms --strategies threadpool,async,async-single,async-offload \
    --out "$out/cpu-sweep" --force | tee -a "$out/cpu-sweep.txt"
fi
