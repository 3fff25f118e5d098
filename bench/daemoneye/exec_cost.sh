#!/usr/bin/env bash
# What procmond's eBPF exec program costs an exec, two procmond builds side
# by side (docs/BENCHMARKS.md "DaemonEye: the exec program's image identity
# and host path"): 2,000 x TARGET (default /usr/bin/true) from a bash loop
# (fork + exec + wait each) with no procmond, with BEFORE's and with AFTER's
# procmond on the ebpf tier (publishing to a broker of its own), ROUNDS
# rounds interleaved so that the machine's load hits every mode alike. Per
# mode: the wall time and execs/s, and the exec program's own run_time_ns /
# run_cnt (kernel.bpf_stats_enabled on for the run, put back after) over the
# procmon_exec* programs that appeared after procmond started (another
# procmond started meanwhile, e.g. a test's, is counted too: prog_runs then
# exceeds the 2,000).
#
# Usage: sudo bench/daemoneye/exec_cost.sh BEFORE_PROCMOND AFTER_PROCMOND [ROUNDS]
#        (TARGET=/path/to/a/deep/copy/of/true for a long image path)
# Ends the broker and each procmond it started by pid.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ $(id -u) -ne 0 ]]; then
  echo "exec_cost.sh: run it as root (eBPF)" >&2
  exit 2
fi
before=${1:?usage: exec_cost.sh BEFORE_PROCMOND AFTER_PROCMOND [ROUNDS]}
after=${2:?usage: exec_cost.sh BEFORE_PROCMOND AFTER_PROCMOND [ROUNDS]}
rounds=${3:-3} target=${TARGET:-/usr/bin/true}
bus=build/release/bus/airssys-bus
work=$(mktemp -d /tmp/daemoneye-exec-cost.XXXXXX)
prev=$(sysctl -n kernel.bpf_stats_enabled)
broker="" pm=""
cleanup() {
  [[ -n $pm ]] && kill "$pm" 2>/dev/null
  [[ -n $broker ]] && kill "$broker" 2>/dev/null
  wait 2>/dev/null || true
  sysctl -qw kernel.bpf_stats_enabled="$prev"
  rm -rf "$work"
}
trap cleanup EXIT
"$bus" serve --socket "$work/bus.sock" 2>/dev/null & broker=$!
sysctl -qw kernel.bpf_stats_enabled=1
sleep 1
echo "date=$(date -u +%FT%TZ) commit=$(git rev-parse --short HEAD) target=$target"
loop() {
  local s e
  s=$(date +%s.%N)
  for ((i = 0; i < 2000; i++)); do "$target"; done
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
exec_ids() {
  bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p.get("name", "").startswith("procmon_exec")))'
}
prog_stats() {  # run_time_ns run_cnt of the procmon_exec* programs whose ids are not in $1
  bpftool -j prog show 2>/dev/null | python3 -c '
import json, sys
old = set(sys.argv[1].split())
t = c = 0
for p in json.load(sys.stdin):
    if p.get("name", "").startswith("procmon_exec") and str(p["id"]) not in old:
        t += p.get("run_time_ns", 0); c += p.get("run_cnt", 0)
print(t, c)' "$1"
}
for ((r = 1; r <= rounds; r++)); do
  for mode in none before after; do
    extra=""
    if [[ $mode != none ]]; then
      bin=$before
      [[ $mode == after ]] && bin=$after
      others=$(exec_ids)
      "$bin" --bus "$work/bus.sock" --interval 30s --events ebpf 2>"$work/err" >/dev/null & pm=$!
      for ((w = 0; w < 100; w++)); do grep -q "event source" "$work/err" && break; sleep 0.1; done
      sleep 1
      read -r t0 c0 < <(prog_stats "$others")
    fi
    load=$(cut -d' ' -f1 /proc/loadavg)
    secs=$(loop)
    if [[ $mode != none ]]; then
      read -r t1 c1 < <(prog_stats "$others")
      extra=$(python3 -c 'import sys; t0, c0, t1, c1 = map(int, sys.argv[1:]); n = c1 - c0; print(f"prog_runs={n} prog_ns_per_run={(t1 - t0) / n if n else 0:.0f}")' "$t0" "$c0" "$t1" "$c1")
      kill "$pm"
      wait "$pm" 2>/dev/null || true
      pm=""
    fi
    echo "round=$r mode=$mode load=$load seconds=$secs execs_per_s=$(echo "2000 / $secs" | bc) $extra"
  done
done
