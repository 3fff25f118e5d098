#!/usr/bin/env bash
# kill_tree_compare.sh TASK_WATCHDOG_BIN [ROUNDS]
# The kill-tree scenario of issue 4, side by side: coreutils `timeout -k`
# and `task-watchdog start --wait` each run a 6-process tree (a leader, a
# setsid child, a double-forked child, a setsid + double-forked child, a
# child that ignores SIGTERM, a plain child) with a 2 s deadline and a 1 s
# grace period. Reported per tool: processes surviving 3 s after
# deadline+grace, and the time from the deadline until the last process of
# the tree was gone (polled every ~5 ms; "-" when some survived).
# Survivors are then killed by pid (they are ours).
set -euo pipefail
bin=${1:?usage: kill_tree_compare.sh TASK_WATCHDOG_BIN [ROUNDS]}
rounds=${2:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
tree='echo $$ > "$D/p.leader"
setsid sh -c '\''echo $$ > "$D/p.setsid"; exec sleep 1000'\'' &
sh -c '\''sleep 1000 & echo $! > "$D/p.dfork"'\'' &
setsid sh -c '\''sleep 1000 & echo $! > "$D/p.setsid_dfork"'\'' &
sh -c '\''trap "" TERM; echo $$ > "$D/p.ignores_term"; while :; do sleep 1; done'\'' &
sleep 1000 & echo $! > "$D/p.child"
wait'

now_ms() { date +%s%3N; }

one() {  # one TOOL ROUND
  local tool=$1 D="$work/$1.$2" start deadline pids=() left last=0 t
  mkdir -p "$D"
  export D
  start=$(now_ms)
  if [[ $tool == timeout ]]; then
    timeout -k 1s 2s sh -c "$tree" || true
  else
    "$bin" start --wait --registry "$D/reg.json" --id t --timeout 2s --grace 1s --env D="$D" -- sh -c "$tree" || true
  fi
  deadline=$((start + 2000))
  for f in "$D"/p.*; do pids+=("$(cat "$f")"); done
  # Wait up to 3 s for the last one to go.
  while :; do
    left=0
    for p in "${pids[@]}"; do
      if kill -0 "$p" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$p/stat" 2>/dev/null) != Z ]]; then left=$((left + 1)); fi
    done
    t=$(now_ms)
    if ((left == 0)); then last=$t; break; fi
    if ((t > deadline + 1000 + 3000)); then break; fi
    sleep 0.005
  done
  if ((left == 0)); then
    echo "$tool round $2: ${#pids[@]} processes, 0 survived, all gone $((last - deadline)) ms after the deadline"
  else
    echo "$tool round $2: ${#pids[@]} processes, $left survived"
  fi
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
}

for ((r = 1; r <= rounds; r++)); do
  one timeout "$r"
  one task-watchdog "$r"
done
