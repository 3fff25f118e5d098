#!/usr/bin/env bash
# A fork bomb inside a cgroup with a pids limit, beside daemoneye-agent with
# procmond on eBPF (issue 11, "bounded under floods"): reports procmond's and
# the agent's peak RSS and CPU, the events published, dropped and lost, and
# whether the agent kept storing scans. Root only; cgroup v1 pids + freezer
# controllers (this machine's hybrid layout) or pure v2.
#
#   bench/daemoneye/forkbomb.sh [SECONDS=5] [PIDS_MAX=200]
#
# Builds the release agent; ends everything it started (the bomb by freezing
# and killing its cgroup, the agent by pid).
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
pids_max=${2:-200}
[[ $(id -u) -eq 0 ]] || { echo "forkbomb.sh: needs root (eBPF, cgroups)" >&2; exit 2; }
scripts/build release daemoneye-agent procmond daemoneye-cli >/dev/null
bin=build/release/daemoneye

work=$(mktemp -d /tmp/de-forkbomb-XXXXXX)
name=$(basename "$work")
if [[ -d /sys/fs/cgroup/pids && -d /sys/fs/cgroup/freezer ]]; then
  pids_cg=/sys/fs/cgroup/pids/$name freeze_cg=/sys/fs/cgroup/freezer/$name v2=0
else
  pids_cg=/sys/fs/cgroup/$name freeze_cg=$pids_cg v2=1
fi
agent=
cleanup() {
  if [[ -d $freeze_cg ]]; then
    if [[ $v2 == 1 ]]; then echo 1 > "$freeze_cg/cgroup.kill" 2>/dev/null || true
    else
      echo FROZEN > "$freeze_cg/freezer.state"
      for _ in $(seq 50); do
        procs=$(cat "$freeze_cg/cgroup.procs")
        [[ -z $procs ]] && break
        kill -9 $procs 2>/dev/null || true
        echo THAWED > "$freeze_cg/freezer.state"; sleep 0.05; echo FROZEN > "$freeze_cg/freezer.state"
      done
      echo THAWED > "$freeze_cg/freezer.state"
    fi
    for _ in $(seq 100); do [[ -z $(cat "$freeze_cg/cgroup.procs" 2>/dev/null) ]] && break; sleep 0.05; done
    rmdir "$freeze_cg" 2>/dev/null || true
  fi
  [[ -d $pids_cg ]] && rmdir "$pids_cg" 2>/dev/null || true
  [[ -n $agent ]] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/rules"
printf 'database: { path: %s/var/daemoneye.db }\nscan: { interval: 1s }\nrules: { dir: %s/rules }\n' \
  "$work" "$work" > "$work/config.yaml"
"$bin/daemoneye-agent" --config "$work/config.yaml" > "$work/agent.log" 2>&1 &
agent=$!
for _ in $(seq 100); do [[ -f $work/var/status.json ]] && grep -q '"tier": *"ebpf"' "$work/var/status.json" && break; sleep 0.2; done
procmond=$(awk -v a="$agent" '$4==a && $2=="(procmond)" {print $1}' /proc/[0-9]*/stat 2>/dev/null | head -1)
[[ -n $procmond ]] || { echo "procmond did not start"; cat "$work/agent.log"; exit 1; }

ticks=$(getconf CLK_TCK)
cpu_of() { awk '{print $14+$15}' "/proc/$1/stat"; }
rss_of() { awk '/VmHWM/ {print $2}' "/proc/$1/status"; }
scans() { tr -d "\n" < "$work/var/status.json" | sed -n 's/.*"scans": *{ *"done": *\([0-9]*\).*/\1/p'; }

mkdir "$pids_cg"
[[ $v2 == 1 ]] || mkdir "$freeze_cg"
echo "$pids_max" > "$pids_cg/pids.max"
scans_before=$(scans); p0=$(cpu_of "$procmond"); a0=$(cpu_of "$agent"); t0=$(date +%s.%N)
# The bomb: a shell that joins the cgroups, then forks copies of itself without end.
bash -c "echo \$\$ > $pids_cg/cgroup.procs; [[ $v2 == 1 ]] || echo \$\$ > $freeze_cg/cgroup.procs;
         exec bash -c 'b() { b | b & }; b' " 2>/dev/null &
sleep "$seconds"
in_cgroup=$(wc -l < "$pids_cg/cgroup.procs")
t1=$(date +%s.%N); p1=$(cpu_of "$procmond"); a1=$(cpu_of "$agent")
sleep 2  # let the agent catch up, then read its status
scans_after=$(scans)
status=$("$bin/daemoneye-cli" --config "$work/config.yaml" status)
echo "fork bomb: ${seconds} s in a cgroup with pids.max=${pids_max} (${in_cgroup} processes in it at the end)"
awk -v p0="$p0" -v p1="$p1" -v a0="$a0" -v a1="$a1" -v t0="$t0" -v t1="$t1" -v hz="$ticks" \
  'BEGIN { w=t1-t0; printf "procmond CPU %.1f%% of a core, agent CPU %.1f%% of a core over %.1f s\n", 100*(p1-p0)/hz/w, 100*(a1-a0)/hz/w, w }'
echo "peak RSS: procmond $(rss_of "$procmond") kB, agent $(rss_of "$agent") kB"
echo "scans stored during the bomb: $((scans_after - scans_before))"
echo "$status" | sed -n '/^events:/,/report/p'
