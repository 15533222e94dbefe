#!/usr/bin/env bash
# Named standalone mocks for the scripts that run several at once (distortion.sh, ab-stamps.sh),
# sourced by each: started in the background, their CPU read from the kernel. Each needs
# $work (a directory of its own) and a `mocks` array its EXIT trap kills. Not run on its own.

# start_named_mock NAME BINARY FLAGS...: BINARY (a mock-server) on a free port with FLAGS; its
# origin in $work/NAME.url, its PID in $work/NAME.pid and in $mocks. Exits naming the mock and
# its output when it does not start.
start_named_mock() {
  local name=$1 bin=$2
  shift 2
  "$bin" --port 0 "$@" >"$work/$name.out" 2>&1 &
  mocks+=($!)
  echo $! >"$work/$name.pid"
  for _ in $(seq 200); do grep -q '^listening on ' "$work/$name.out" 2>/dev/null && break; sleep 0.05; done
  sed -n 's/^listening on //p' "$work/$name.out" | head -1 >"$work/$name.url"
  [ -s "$work/$name.url" ] || { echo "mock $name did not start: $(cat "$work/$name.out")" >&2; exit 1; }
}

# mock_cpu NAME: the CPU seconds so far of the mock started as NAME, every thread it ever ran
# (those that ended too), from the kernel's process CPU clock for its PID (clock_getcpuclockid's
# id, `(~pid << 3) | 2`): nanoseconds, where /proc/PID/stat's ticks are 10 ms (too coarse for a
# few percent), and where a sum over /proc/PID/task/*/schedstat lost a thread's time when the
# thread ended mid-run (one run's figure came out negative).
mock_cpu() {
  python3 -c "import time; pid = $(cat "$work/$1.pid"); print('%.6f' % time.clock_gettime(((~pid) << 3) | 2))"
}
