#!/usr/bin/env bash
# list_floor.sh [RUNS] — what `task-watchdog list` costs beside a program
# that does nothing else. Builds list_floor.cpp (the registry read whole with
# Registry::load, as `list` did before it read one task at a time, and the
# table; nothing else) against the release preset's libraries, linked fully
# static as task-watchdog is, then runs /bin/true, that program and
# `task-watchdog list` on the same 100-task registry under `perf stat` (page
# faults, task-clock) and /usr/bin/time (peak RSS). Needs: scripts/build
# release task-watchdog (first), perf, python3. Takes the build lock while it
# links.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-50}
rel=build/release
bin=$rel/watchdog/task-watchdog
[[ -x $bin ]] || { echo "build it first: scripts/build release task-watchdog" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 - "$work/r100.json" <<'PY'
import json, sys
tasks = {}
for i in range(100):
    tid = "task-%04d" % i
    tasks[tid] = {"id": tid, "argv": ["make", "-j2", "target%d" % i], "cwd": "/home/dev/project", "env": ["CC=gcc"],
                  "created_ms": 1795000000000 + i, "timeout_ms": 900000, "idle_timeout_ms": None, "grace_ms": 10000,
                  "deadline_ms": 1795000900000 + i, "state": "exited", "pid": 4242 + i, "pid_start_time": 579264 + i,
                  "monitor_pid": 4241 + i, "monitor_start_time": 579263 + i, "foreground": False,
                  "containment": {"kind": "cgroup2", "cgroup": "/sys/fs/cgroup/unified/task-watchdog/%s-4241" % tid, "note": ""},
                  "stdout_log": "/home/dev/project/.task-watchdog/logs/%s.stdout.log" % tid,
                  "stderr_log": "/home/dev/project/.task-watchdog/logs/%s.stderr.log" % tid,
                  "exit_code": 0, "exit_signal": None, "ended_ms": 1795000100000 + i, "error": "", "leftover_processes": 0}
json.dump({"schema_version": 1, "tasks": tasks}, open(sys.argv[1], "w"), indent=1)
PY
(
  flock 9
  g++ -std=c++23 -O2 -DNDEBUG -flto=auto -Iwatchdog/include -Iosl/include watchdog/bench/list_floor.cpp \
    watchdog/tools/static_fmt.cpp -o "$work/list_floor" -static -Wl,--eh-frame-hdr \
    $rel/watchdog/libairssys_watchdog.a $rel/osl/libairssys_osl.a /usr/lib/x86_64-linux-gnu/libyaml-cpp.a \
    $rel/ledger/libairssys_ledger_osl.a $rel/osl/libairssys_osl.a $rel/ledger/libairssys_ledger.a -ldl
) 9>/tmp/airssys-build.lock
uptime
labels=("/bin/true" "list_floor (whole registry, nothing else)" "task-watchdog list")
cmds=("/bin/true" "$work/list_floor $work/r100.json" "$bin list --registry $work/r100.json")
for i in 0 1 2; do
  cmd=${cmds[$i]}
  # shellcheck disable=SC2086 # the command lines are split on purpose
  rss=$(/usr/bin/time -f %M $cmd 2>&1 >/dev/null | tail -1)
  # shellcheck disable=SC2086
  perf stat -r "$runs" -e page-faults,task-clock $cmd 2>&1 >/dev/null |
    awk -v c="${labels[$i]}" -v rss="$rss" '/page-faults/ {pf=$1} /task-clock/ {tc=$1} /elapsed/ {el=$1*1000}
      END {printf "%-40s %4d page faults  %6.2f ms task-clock  %6.2f ms elapsed  %5d KB peak RSS\n", c, pf, tc, el, rss}'
done
