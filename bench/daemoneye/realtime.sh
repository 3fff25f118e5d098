#!/usr/bin/env bash
# DaemonEye real-time process events (issue 11), the run docs/BENCHMARKS.md
# "DaemonEye real-time events (issue 11)" records: builds the release
# binaries, prints the date, commit and load, then runs
# build/release/bench/daemoneye_realtime_bench for each event tier (one JSON
# line per measurement on stdout, the summary table on stderr at the end).
# Root only (the eBPF and proc connector tiers need it).
#
# Usage: sudo bench/daemoneye/realtime.sh [coverage] [latency] [cost]   (default: all three)
# Env:   TIERS (poll,proc_connector,ebpf)  LATENCY_TIERS (proc_connector,ebpf)
#        PROCESSES (1000)  MARKERS (300)  SPACING_MS (20)  RATE (2000)  WINDOW (10 s)
#        GENERATORS (1)  IDLE_SECONDS (5)
#
# Every process the benchmark starts (the agent and its procmond, load
# generators, marker processes) is ended by daemoneye_realtime_bench by pid,
# also on SIGINT/SIGTERM; this script forwards SIGTERM to it on any exit and
# removes its temp dir.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $(id -u) -ne 0 ]]; then
  echo "realtime.sh: run it as root (the eBPF and proc connector tiers need it)" >&2
  exit 2
fi
bin=build/release
work=$(mktemp -d /tmp/daemoneye-rt-bench-run.XXXXXX)
build_pid="" bench_pid=""
cleanup() {
  # The build runs in a session of its own (it may wait minutes for the
  # shared build lock): end it, its flock and ninja together.
  if [[ -n $build_pid ]]; then kill -TERM -- "-$build_pid" 2>/dev/null || true; wait "$build_pid" 2>/dev/null || true; fi
  if [[ -n $bench_pid ]]; then kill -TERM "$bench_pid" 2>/dev/null || true; wait "$bench_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

setsid scripts/build release daemoneye_realtime_bench procmond daemoneye-agent >"$work/build.log" 2>&1 &
build_pid=$!
if ! wait "$build_pid"; then
  build_pid=""
  cat "$work/build.log" >&2
  exit 1
fi
build_pid=""

dirty=""
git diff --quiet HEAD -- daemoneye osl bus bench 2>/dev/null || dirty="+uncommitted"
echo "# $(date -u '+%Y-%m-%d %H:%M UTC')  commit $(git rev-parse --short HEAD)$dirty  load $(cut -d' ' -f1-3 /proc/loadavg)" \
     " cores $(nproc)  processes $(ls /proc | grep -c '^[0-9]')  kernel $(uname -r)" >&2

TMPDIR=$work "$bin/bench/daemoneye_realtime_bench" --agent "$bin/daemoneye/daemoneye-agent" \
  --tiers "${TIERS:-poll,proc_connector,ebpf}" --latency-tiers "${LATENCY_TIERS:-proc_connector,ebpf}" \
  --processes "${PROCESSES:-1000}" --markers "${MARKERS:-300}" --spacing-ms "${SPACING_MS:-20}" \
  --rate "${RATE:-2000}" --seconds "${WINDOW:-10}" --generators "${GENERATORS:-1}" --idle-seconds "${IDLE_SECONDS:-5}" \
  "$@" &
bench_pid=$!
rc=0
wait "$bench_pid" || rc=$?
bench_pid=""
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)" >&2
exit "$rc"
