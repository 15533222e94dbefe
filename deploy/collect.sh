#!/usr/bin/env bash
# Collects the reports of an asyncbench Indexed Job from its pods' logs (one per completion
# index, the newest pod of each) and merges them with `asyncbench merge`.
#
#   deploy/collect.sh [--allow-partial] JOB OUT_DIR     JOB as `kubectl create -o name` prints it
#
# Needs kubectl (pointed at the cluster the Job ran in) and asyncbench on PATH (or $ASYNCBENCH).
# The logs are kept beside the merged report, in OUT_DIR/shards/; the request lines they carry
# (the Job's --print-requests) are merged into OUT_DIR/requests.jsonl, each with its shard. With --allow-partial, a pod
# whose log holds no report (it died before printing one) is left out and said to be, and the
# merge exits 6 (incomplete); without it, such a pod fails the collection.
set -euo pipefail
partial=()
if [ "${1:-}" = "--allow-partial" ]; then partial=(--allow-partial); shift; fi
if [ $# -ne 2 ]; then
  echo "usage: $0 [--allow-partial] JOB OUT_DIR" >&2
  exit 2
fi
job=${1#job.batch/}
job=${job#job/}
out=$2
asyncbench=${ASYNCBENCH:-asyncbench}
n=$(kubectl get job "$job" -o jsonpath='{.spec.completions}')
if ! [[ "$n" =~ ^[0-9]+$ ]] || [ "$n" -lt 1 ]; then
  echo "collect: job $job has no completion count ('$n'): is it an Indexed Job?" >&2
  exit 2
fi
logs=$(mktemp -d)
got=()
for ((k = 0; k < n; k++)); do
  # The newest pod of index k (a pod the Job replaced would be older).
  pod=$(kubectl get pods \
    -l "batch.kubernetes.io/job-name=$job,batch.kubernetes.io/job-completion-index=$k" \
    --sort-by=.metadata.creationTimestamp -o jsonpath='{.items[-1:].metadata.name}')
  if [ -z "$pod" ]; then
    echo "collect: no pod for shard $k/$n of job $job" >&2
    continue
  fi
  if ! kubectl logs "$pod" >"$logs/shard-$k.log"; then
    echo "collect: could not read the log of $pod (shard $k/$n)" >&2
    continue
  fi
  # A report line (`--format json-line`) or a pretty report (`--json`) both name "strategies".
  if [ ${#partial[@]} -gt 0 ] && ! grep -q '"strategies":' "$logs/shard-$k.log"; then
    echo "collect: the log of $pod (shard $k/$n) holds no report (the shard died before it printed one): left out" >&2
    continue
  fi
  got+=("$logs/shard-$k.log")
done
if [ ${#got[@]} -eq 0 ]; then
  echo "collect: no shard log read from job $job" >&2
  exit 1
fi
echo "collect: ${#got[@]} of $n shard logs read" >&2
rc=0
"$asyncbench" merge "${partial[@]}" "${got[@]}" --out "$out" || rc=$?
# 6: merged, but incomplete (--allow-partial): the files are written, and so are the logs.
if [ "$rc" -ne 0 ] && [ "$rc" -ne 6 ]; then
  echo "collect: merge failed (exit $rc); the shard logs are kept in $logs" >&2
  exit "$rc"
fi
mkdir -p "$out/shards"
cp "${got[@]}" "$out/shards/"
rm -rf "$logs"
exit "$rc"
