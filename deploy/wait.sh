#!/usr/bin/env bash
# Waits for an asyncbench Job to end, complete or failed, and says which; never longer than
# TIMEOUT seconds (default 7200). `kubectl wait --for=condition=complete` would wait its whole
# timeout for a Job with a failed index, which never completes.
#
#   deploy/wait.sh JOB [TIMEOUT_S]        JOB as `kubectl create -o name` prints it, or its name
#
# Exit 0: complete; 1: failed (merge what finished with collect.sh --allow-partial); 2: bad
# use or no such Job; 124: still running at the timeout.
set -euo pipefail
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 JOB [TIMEOUT_S]" >&2
  exit 2
fi
job=${1#job.batch/}
job=${job#job/}
timeout=${2:-7200}
if ! [[ "$timeout" =~ ^[0-9]+$ ]]; then
  echo "wait: TIMEOUT_S '$timeout' is not a whole number of seconds" >&2
  exit 2
fi
poll=${ASYNCBENCH_WAIT_POLL_S:-5}
deadline=$(($(date +%s) + timeout))
while :; do
  if ! state=$(kubectl get job "$job" -o jsonpath='{range .status.conditions[?(@.status=="True")]}{.type}{" "}{end}'); then
    echo "wait: cannot read job $job" >&2
    exit 2
  fi
  case " $state " in
    *" Complete "*) echo "wait: job $job complete" >&2; exit 0 ;;
    *" Failed "*)
      echo "wait: job $job failed (a shard failed): merge what finished with deploy/collect.sh --allow-partial" >&2
      exit 1 ;;
  esac
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "wait: job $job still running after ${timeout} s" >&2
    exit 124
  fi
  sleep "$poll"
done
