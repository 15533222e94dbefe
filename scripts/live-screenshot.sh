#!/usr/bin/env bash
# Screenshots of the live view in a real terminal (not run by CI): tmux runs asyncbench in a
# 120×40 pane, the pane is captured with its colours mid-run and after the end, and each capture
# is written as text (.txt), as HTML and as a PNG rendered by headless Chromium.
#
#   bash scripts/live-screenshot.sh [OUT_DIR]
#
# Two runs: `compare` (sequential, async, batched; 5 % 5xx and 5 % 429 injected; streaming) and
# a `sweep` over three concurrencies. Writes OUT_DIR/*.{txt,html,png} (default:
# results/<date>-<hostname>/live/).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-results/$(date +%Y-%m-%d)-$(hostname -s)/live}
mkdir -p "$out"
# Absolute: the browser is given file paths and URLs (an absolute OUT_DIR made them
# "$(pwd)//tmp/…", and the script stopped at the first screenshot without a word).
out=$(cd "$out" && pwd)
command -v tmux >/dev/null || { echo "live-screenshot: needs tmux" >&2; exit 2; }
browser=$(command -v chromium-headless-shell || command -v chromium || true)
cargo build --release -q --bin asyncbench
ab=$(pwd)/target/release/asyncbench
session=asyncbench-shot-$$
trap 'tmux kill-session -t "$session" 2>/dev/null || true' EXIT

# shot NAME: the pane now, as text with colours (ANSI), text, HTML and PNG.
shot() {
  tmux capture-pane -t "$session" -e -p > "$out/$1.ansi"
  tmux capture-pane -t "$session" -p > "$out/$1.txt"
  python3 - "$out/$1.ansi" "$out/$1.html" <<'EOF'
import html, re, sys
src, dest = sys.argv[1], sys.argv[2]
base = ["#000", "#c33", "#3a3", "#c90", "#36c", "#a3a", "#0aa", "#ccc",
        "#666", "#f55", "#5d5", "#fd5", "#59f", "#d5d", "#5dd", "#fff"]
def c256(n):
    if n < 16: return base[n]
    if n >= 232: v = 8 + (n - 232) * 10; return f"rgb({v},{v},{v})"
    n -= 16; f = lambda x: 0 if x == 0 else 55 + x * 40
    return f"rgb({f(n // 36)},{f(n // 6 % 6)},{f(n % 6)})"
out, state = [], {}
def style():
    s = []
    if "fg" in state: s.append(f"color:{state['fg']}")
    if "bg" in state: s.append(f"background:{state['bg']}")
    if state.get("bold"): s.append("font-weight:bold")
    if state.get("dim"): s.append("opacity:0.6")
    return ";".join(s)
text = open(src, encoding="utf-8").read()
for part in re.split(r"(\x1b\[[0-9;]*m)", text):
    m = re.fullmatch(r"\x1b\[([0-9;]*)m", part)
    if not m:
        if part:
            out.append(f'<span style="{style()}">{html.escape(part)}</span>')
        continue
    codes = [int(c) if c else 0 for c in m.group(1).split(";")]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0: state = {}
        elif c == 1: state["bold"] = True
        elif c == 2: state["dim"] = True
        elif c == 22: state.pop("bold", None); state.pop("dim", None)
        elif 30 <= c <= 37: state["fg"] = base[c - 30]
        elif 90 <= c <= 97: state["fg"] = base[c - 90 + 8]
        elif 40 <= c <= 47: state["bg"] = base[c - 40]
        elif c == 39: state.pop("fg", None)
        elif c == 49: state.pop("bg", None)
        elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
            state["fg" if c == 38 else "bg"] = c256(codes[i + 2]); i += 2
        i += 1
page = ('<!doctype html><meta charset="utf-8"><body style="margin:0;background:#111">'
        '<pre style="margin:0;padding:12px;color:#ddd;font:14px/1.25 DejaVu Sans Mono,monospace">'
        + "".join(out) + "</pre>")
open(dest, "w", encoding="utf-8").write(page)
EOF
  rm "$out/$1.ansi"
  if [ -n "$browser" ]; then
    # As tall as the pane's lines down to its last non-blank one.
    rows=$(awk 'NF { n = NR } END { print n + 0 }' "$out/$1.txt")
    "$browser" --headless --no-sandbox --hide-scrollbars --window-size=1100,$(( rows * 18 + 30 )) \
      --screenshot="$out/$1.png" "file://$out/$1.html" >"$out/.browser.log" 2>&1 ||
      { echo "live-screenshot: $browser failed on $1: $(tail -3 "$out/.browser.log")" >&2; exit 1; }
    rm -f "$out/.browser.log"
  fi
}

tmux new-session -d -s "$session" -x 120 -y 40
run() { tmux send-keys -t "$session" "clear; $ab $*" Enter; }
wait_for() { # text, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do
    tmux capture-pane -t "$session" -p | grep -q "$1" && return 0
    sleep 0.1
  done
  echo "live-screenshot: '$1' did not appear" >&2; return 1
}

run compare -n 300 -c 16 --rounds 2 --stream --ttft 40ms --itl 4ms --tokens 16 \
  --rate-500 0.05 --rate-429 0.05 --strategies sequential,async,batched
wait_for "▶ sequential" 20; sleep 6; shot compare-running
wait_for "▶ async" 120; sleep 1; shot compare-async
wait_for "^machine:" 300; shot compare-end

run sweep --concurrency 4,16,64 -n 300 --latency 50ms --strategies threadpool,async
wait_for "point 2 of 3" 60; sleep 1.5; shot sweep-running
wait_for "^machine:" 300; shot sweep-end
echo "live-screenshot: wrote $out"
