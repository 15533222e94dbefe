#!/usr/bin/env bash
# What scripts/ab-client.sh, ab-tails.sh, ab-memory.sh and ab-stamps.sh share, sourced by each: the work
# directory and its cleanup, asyncbench built at each commit, and a standalone mock started in the
# background. Not run on its own.

# shellcheck source=server.sh
. "$(dirname "${BASH_SOURCE[0]}")/server.sh"

# ab_setup NAME OUT_DIR: checks that commits were given (exit 2 naming the usage otherwise),
# makes OUT_DIR (its absolute path in $out) and a work directory ($work) removed on exit, with
# the mock started by ab_start_mock killed.
ab_setup() {
  local name=$1
  out=$2
  if [ -z "$out" ] || [ "$ab_commit_args" -lt 1 ]; then
    echo "usage: scripts/$name OUT_DIR COMMIT..." >&2
    exit 2
  fi
  mkdir -p "$out"
  out=$(cd "$out" && pwd)
  work=$(mktemp -d)
  mock_pid=""
  trap ab_cleanup EXIT
}

ab_cleanup() {
  [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
  rm -rf "$work"
}

# ab_build_commits COMMIT...: builds asyncbench (and the other binaries named in $AB_BINS) at
# each commit in a worktree of its own (one target dir for all, $AB_TARGET), copies each to
# $work/<binary>-<short commit>, and lists the short commits in $commits. The worktree is
# removed even when the build fails. A commit's binaries are kept in $AB_TARGET/by-commit and
# not built again (a commit's source does not change; the toolchain is the machine's one).
ab_build_commits() {
  local target=${AB_TARGET:-/tmp/asyncbench-ab-target} rev c src rc bin bins=() kept
  for bin in ${AB_BINS:-asyncbench}; do bins+=(--bin "$bin"); done
  kept=$target/by-commit
  mkdir -p "$kept"
  commits=()
  for rev in "$@"; do
    c=$(git rev-parse --short "$rev")
    commits+=("$c")
    rc=0
    for bin in ${AB_BINS:-asyncbench}; do [ -x "$kept/$bin-$c" ] || rc=1; done
    if [ "$rc" = 1 ]; then
      src=$(mktemp -d)
      git worktree add -q --detach "$src" "$c"
      rc=0
      (cd "$src" && CARGO_TARGET_DIR=$target cargo build --release -q --workspace "${bins[@]}") || rc=$?
      git worktree remove --force "$src"
      [ "$rc" = 0 ] || { echo "${AB_BINS:-asyncbench} does not build at $c" >&2; exit 1; }
      for bin in ${AB_BINS:-asyncbench}; do cp "$target/release/$bin" "$kept/$bin-$c"; done
    fi
    for bin in ${AB_BINS:-asyncbench}; do cp "$kept/$bin-$c" "$work/$bin-$c"; done
  done
}

# ab_start_mock FLAGS...: $work/mock-server on a free port with FLAGS; its origin in $url, its
# PID in $mock_pid.
ab_start_mock() {
  start_server "$work/mock.out" "$work/mock-server" --port 0 "$@"
  url=$server_url
  mock_pid=$server_pid
}

# ab_stop_mock: stops the mock ab_start_mock started.
ab_stop_mock() {
  stop_server "$mock_pid"
  mock_pid=""
}

# ab_median FILE: the median of the numbers in FILE, one a line.
ab_median() { sort -g "$1" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

# ab_head COMMAND: a report's first lines: date, the commits and what was built from the
# checkout this runs in ($ab_from_checkout, default the floors and the mock; set empty when
# nothing is), the machine, and COMMAND.
ab_head() {
  local here=${ab_from_checkout-floors and mock}
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- commits: ${commits[*]}${here:+ ($here from $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ', dirty'))}"
  echo "- machine: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, Linux $(uname -r); $(rustc --version)"
  echo "- command: \`$1\`"
}

# ab_table: a report's table, one column a tool ($cols), one row a round ($rows), then the
# medians' row ($med) and the lines after it ($over).
ab_table() {
  echo "| round | $(printf '%s | ' "${cols[@]}")"
  echo "|---|$(printf -- '---:|%.0s' "${cols[@]}")"
  printf '%s' "$rows"
  echo "$med"
  echo
  printf '%s' "$over"
}
