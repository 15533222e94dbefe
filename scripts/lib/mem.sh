#!/usr/bin/env bash
# Peak memory of a command, sourced by scripts/bench-client.sh and scripts/ab-memory.sh: its
# peak RSS from `/usr/bin/time -v`, and the peaks of its anonymous and file-backed resident
# memory read from /proc while it runs. Not run on its own.

# peak TIME_FILE: the peak RSS (MB) a `/usr/bin/time -v` output file gives.
peak() { awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2/1024}' "$1"; }

# split_peaks PID FILE: while PID (a /usr/bin/time) runs, reads its child's /proc/PID/status
# every 0.05 s and writes the peaks of its anonymous and its file-backed resident memory (MB,
# "anon / file") to FILE: what the process allocated apart from its binary's and libraries'
# pages (shared, clean, read back from the file if the kernel drops them).
split_peaks() {
  local t=$1 out=$2 child a f pa=0 pf=0
  while kill -0 "$t" 2>/dev/null; do
    child=$(pgrep -P "$t" | head -1 || true)
    if [ -n "$child" ] && read -r a f < <(awk '/^RssAnon/ {a=$2} /^RssFile/ {f=$2} END {print a+0, f+0}' "/proc/$child/status" 2>/dev/null); then
      [ "$a" -gt "$pa" ] && pa=$a
      [ "$f" -gt "$pf" ] && pf=$f
    fi
    sleep 0.05
  done
  awk -v a="$pa" -v f="$pf" 'BEGIN {printf "%.1f / %.1f", a/1024, f/1024}' >"$out"
}

# timed_split FILE CMD...: CMD under `/usr/bin/time -v -o FILE.time`, its split peaks in FILE.split.
timed_split() {
  local f=$1; shift
  /usr/bin/time -v -o "$f.time" "$@" &
  local t=$!
  split_peaks "$t" "$f.split"
  wait "$t"
}
