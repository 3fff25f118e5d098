#!/usr/bin/env bash
# DaemonEye's benchmarks, the run docs/BENCHMARKS.md "DaemonEye" records:
# builds the release binaries, prints the date, commit and load, then runs
# build/release/bench/daemoneye_bench (one JSON line per measurement).
#
# Usage: bench/daemoneye/run.sh [collect] [store] [rules] [footprint] [latency]
#        (default: all five; collect/store/rules share 10,000 sleepers)
# Env:   SLEEPERS (10000)  RUNS (10)  RULE_RUNS (30)  WINDOW (120 s)  WARMUP (30 s)
#        PROCESSES (1000)  MARKERS (20)
#
# Every process the benchmark starts (sleepers, markers, the agent and its
# procmond) is ended by daemoneye_bench itself, also on SIGINT/SIGTERM; this
# script forwards SIGTERM to it on any exit and removes its temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! build_log=$(scripts/build release daemoneye_bench procmond daemoneye-agent 2>&1); then
  echo "$build_log" >&2
  exit 1
fi
bin=build/release
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(collect store rules footprint latency)

work=$(mktemp -d /tmp/daemoneye-bench-run.XXXXXX)
bench_pid=""
cleanup() {
  if [[ -n $bench_pid ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

dirty=""
git diff --quiet HEAD -- daemoneye osl bus bench 2>/dev/null || dirty="+uncommitted"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git rev-parse --short HEAD)$dirty  load $(cut -d' ' -f1-3 /proc/loadavg)" \
     " cores $(nproc)  processes $(ls /proc | grep -c '^[0-9]')  ulimit -u $(ulimit -u)  ulimit -n $(ulimit -n)/$(ulimit -Hn)  pid_max $(cat /proc/sys/kernel/pid_max)" >&2

TMPDIR=$work "$bin/bench/daemoneye_bench" \
  --agent "$bin/daemoneye/daemoneye-agent" --rules daemoneye/rules \
  --sleepers "${SLEEPERS:-10000}" --runs "${RUNS:-10}" --rule-runs "${RULE_RUNS:-30}" \
  --seconds "${WINDOW:-120}" --warmup "${WARMUP:-30}" --processes "${PROCESSES:-1000}" --markers "${MARKERS:-20}" \
  "${scenarios[@]}" &
bench_pid=$!
rc=0
wait "$bench_pid" || rc=$?
bench_pid=""
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$rc"
