#!/usr/bin/env bash
# Builds asyncbench's image for real on this machine, with no registry (deploy/Containerfile.scratch:
# FROM scratch and a root file system assembled here), then runs the Indexed Job's shards as
# containers on this one host: the mock in one container, SHARDS containers each running the
# Job manifest's own command with its ConfigMap's values and JOB_COMPLETION_INDEX, their logs
# (`podman logs`: stdout and stderr together, as `kubectl logs` gives them) merged by
# `asyncbench merge`, and checked: every request counted once, the mock's count equal to the
# merged attempts, every request's line in the merged requests.jsonl once. Then one shard killed mid-run, and the rest merged with --allow-partial.
#
#   bash scripts/container-rehearsal.sh [OUT_DIR]     (default: a temporary folder)
#
# Needs podman (Debian: apt-get install podman runc busybox-static) and root or a rootless setup.
# Not run by CI. Kills only the containers it started.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in podman python3 ldd; do
  command -v "$tool" >/dev/null || { echo "container-rehearsal: $tool is missing (apt-get install podman runc busybox-static)" >&2; exit 2; }
done
busybox=$(command -v busybox || true)
if [ -z "$busybox" ] || ldd "$busybox" >/dev/null 2>&1; then
  echo "container-rehearsal: a static busybox is needed for /bin/sh (apt-get install busybox-static)" >&2
  exit 2
fi
out=${1:-$(mktemp -d)}
mkdir -p "$out"
work=$(mktemp -d)
containers=()
# Every container this run starts carries this label, so that one that failed to start (and
# so returned no id) is removed too.
label=asyncbench-rehearsal=$$
cleanup() {
  for c in "${containers[@]:-}"; do [ -n "$c" ] && podman rm -f "$c" >/dev/null 2>&1 || true; done
  podman ps -aq --filter "label=$label" | xargs -r podman rm -f >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q --workspace --bins
bin=${CARGO_TARGET_DIR:-target}/release
root=$work/ctx/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/bin" "$root/tmp"
chmod 1777 "$root/tmp"
cp "$bin/asyncbench" "$bin/mock-server" "$root/usr/local/bin/"
# The shared libraries the binaries load, at the paths they are loaded from, and the NSS
# modules name lookups need (a Kubernetes Service name is resolved through them).
libs=$( (ldd "$bin/asyncbench"; ldd "$bin/mock-server") | grep -o '/[^ ]*' | sort -u)
for l in $libs /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 \
  /lib/x86_64-linux-gnu/libresolv.so.2; do
  [ -e "$l" ] || continue
  mkdir -p "$root$(dirname "$l")"
  cp -L "$l" "$root$l"
done
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
cp -L /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
cp "$busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
cp deploy/Containerfile.scratch "$work/ctx/Containerfile"
commit=$(git rev-parse --short HEAD)
image=localhost/asyncbench:$commit
podman build -q -t "$image" "$work/ctx" >/dev/null
# runc where it is installed (crun refuses hybrid cgroup hierarchies, as this machine has), and
# limits no higher than this shell's own (a sandbox may not let a container raise them).
run=(podman)
command -v runc >/dev/null && run+=(--runtime runc)
run+=(run -d --label "$label" --network host --ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
size=$(podman image inspect "$image" --format '{{.Size}}')
echo "container-rehearsal: built $image ($((size / 1048576)) MiB, FROM scratch)" | tee "$out/summary.txt"

# The Job's command and values, as validate-deploy.sh reads them.
python3 - deploy/k8s/asyncbench-job.yaml deploy/k8s/asyncbench-run.yaml "$work" <<'PY'
import shlex, sys, re
job, run, work = sys.argv[1:4]
text = open(job).read()
cmd = re.search(r"args:\n\s*- >-\n((?:\s{14}.*\n)+)", text).group(1)
open(f"{work}/command", "w").write(" ".join(l.strip() for l in cmd.splitlines()))
data = re.search(r"^data:\n((?:  .*\n)+)", open(run).read(), re.M).group(1)
with open(f"{work}/env", "w") as f:
    for l in data.splitlines():
        m = re.match(r'\s{2}([A-Z_]+): "(.*)"$', l)
        if m:
            f.write(f"{m.group(1)}={m.group(2)}\n")
PY

# The mock, in a container of its own, on the host's network.
mock=$("${run[@]}" --entrypoint /usr/local/bin/mock-server "$image" \
  --port 0 --latency 2ms --rate-500 0.05 --seed 7)
containers+=("$mock")
for _ in $(seq 200); do podman logs "$mock" 2>/dev/null | grep -q '^listening on ' && break; sleep 0.05; done
base=$(podman logs "$mock" 2>/dev/null | sed -n 's/^listening on //p')
shards=$(sed -n 's/^SHARDS=//p' "$work/env")
workload=$(sed -n 's/^WORKLOAD=//p' "$work/env")
model=$(sed -n 's/^MODEL=//p' "$work/env")

run_shards() {
  local tag=$1 start=$2
  local ids=()
  for ((k = 0; k < shards; k++)); do
    id=$("${run[@]}" --entrypoint /bin/sh \
      -e JOB_COMPLETION_INDEX=$k -e SHARDS="$shards" -e TARGET="$base/v1" -e MODEL="$model" \
      -e WORKLOAD="$workload" -e START_AT="$start" "$image" -c "$(cat "$work/command")")
    containers+=("$id")
    ids+=("$id")
  done
  echo "${ids[@]}"
}

echo "container-rehearsal: $shards shard containers: $workload" | tee -a "$out/summary.txt"
read -r -a ids <<<"$(run_shards whole "$(($(date +%s) + 3))")"
for k in "${!ids[@]}"; do
  podman wait "${ids[$k]}" >/dev/null
  podman logs "${ids[$k]}" >"$out/shard-$k.log" 2>&1
done
"$bin/asyncbench" merge "$out"/shard-*.log --out "$out/merged" --force >"$out/merge.txt"
received=$(python3 -c "import json,sys,urllib.request; print(json.load(urllib.request.urlopen(sys.argv[1]))['requests_received'])" "$base/stats")
python3 - "$out/merged/report.json" "$received" "$shards" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
received, shards = int(sys.argv[2]), int(sys.argv[3])
assert r["complete"], r.get("incomplete_reason")
assert len(r["merged_from"]) == shards
attempts = 0
for s in r["strategies"]:
    total, issued = map(int, s["accounted"].split("/"))
    assert total == issued == r["config"]["requests"], s["accounted"]
    attempts += s["attempts"]
assert attempts == received, (attempts, received)
lines = [json.loads(l) for l in open(sys.argv[1].replace("report.json", "requests.jsonl"))]
keys = sorted((l["strategy"], l["index"]) for l in lines)
assert keys == sorted((s["id"], i) for s in r["strategies"] for i in range(r["config"]["requests"])), len(keys)
assert all(l["shard"] == f"{l['index'] % shards}/{shards}" for l in lines)
print("container-rehearsal: merged " + ", ".join(f"{s['id']} {s['accounted']} ok {s['outcomes']['ok']}" for s in r["strategies"])
      + f"; the mock received {received} = the merged attempts; requests.jsonl {len(lines)} lines from the logs, each once; hosts: "
      + "; ".join(m["machine"].rsplit(" on ", 1)[-1] for m in r["merged_from"]))
PY

# A shard killed mid-run: its log has no report; the rest merge, marked incomplete (exit 6).
echo "container-rehearsal: one shard killed mid-run" | tee -a "$out/summary.txt"
read -r -a ids <<<"$(run_shards killed "$(($(date +%s) + 3))")"
sleep 1
podman kill "${ids[$((shards - 1))]}" >/dev/null
mkdir -p "$out/killed"
for k in "${!ids[@]}"; do
  podman wait "${ids[$k]}" >/dev/null || true
  podman logs "${ids[$k]}" >"$out/killed/shard-$k.log" 2>&1 || true
done
reports=()
for f in "$out"/killed/shard-*.log; do grep -q '"strategies":' "$f" && reports+=("$f"); done
rc=0
"$bin/asyncbench" merge --allow-partial "${reports[@]}" --out "$out/killed/merged" --force >/dev/null 2>"$out/killed/merge.err" || rc=$?
python3 - "$out/killed/merged/report.json" "$rc" "${#reports[@]}" <<'PY' | tee -a "$out/summary.txt"
import json, sys
r = json.load(open(sys.argv[1]))
assert int(sys.argv[2]) == 6, f"merge exited {sys.argv[2]}"
assert not r["complete"]
print(f"container-rehearsal: {sys.argv[3]} reports merged, exit 6: {r['incomplete_reason']}")
PY
echo "container-rehearsal: ok (files in $out)" >&2
