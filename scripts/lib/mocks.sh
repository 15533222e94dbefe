#!/usr/bin/env bash
# Named standalone mocks for the scripts that run several at once (distortion.sh, ab-stamps.sh),
# sourced by each: started in the background, their CPU read from the kernel. Each needs
# $work (a directory of its own) and a `mocks` array its EXIT trap kills. Not run on its own.

# shellcheck source=server.sh
. "$(dirname "${BASH_SOURCE[0]}")/server.sh"

# start_named_mock NAME BINARY FLAGS...: BINARY (a mock-server) on a free port with FLAGS; its
# origin in $work/NAME.url, its PID in $work/NAME.pid and in $mocks. Exits naming the mock and
# its output when it does not start (see start_server).
start_named_mock() {
  local name=$1 bin=$2
  shift 2
  start_server "$work/$name.out" "$bin" --port 0 "$@"
  mocks+=("$server_pid")
  echo "$server_pid" >"$work/$name.pid"
  echo "$server_url" >"$work/$name.url"
}

# mock_cpu NAME: the CPU seconds so far of the mock started as NAME, every thread it ever ran
# (those that ended too), from the kernel's process CPU clock for its PID (clock_getcpuclockid's
# id, `(~pid << 3) | 2`): nanoseconds, where /proc/PID/stat's ticks are 10 ms (too coarse for a
# few percent), and where a sum over /proc/PID/task/*/schedstat lost a thread's time when the
# thread ended mid-run (one run's figure came out negative).
mock_cpu() {
  python3 -c "import time; pid = $(cat "$work/$1.pid"); print('%.6f' % time.clock_gettime(((~pid) << 3) | 2))"
}
