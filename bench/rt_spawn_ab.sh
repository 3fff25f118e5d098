#!/usr/bin/env bash
# Alternates two rt_bench binaries run by run on the spawn scenario and
# prints every run and a summary per binary (median, range, runs below
# 1 M actors/s, median cpu_ms). Alternating in the same minutes is the only
# fair comparison on a busy machine.
# Usage: bench/rt_spawn_ab.sh PAIRS OLD NEW
# Env:   CHURN=1  before each run, write and free 1 GiB (dd with a 1 GiB
#                 buffer), then wait 2.5 s: the VM hands freed blocks back
#                 to its host, and the next run's fresh memory must be
#                 faulted in again (docs/BENCHMARKS.md, airssys-rt).
#        Any other variable (N, WORKERS) is passed to both binaries.
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 PAIRS OLD NEW" >&2; exit 2; }
pairs=$1 old=$2 new=$3
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "$0: PAIRS must be a positive number, not '$pairs'" >&2; exit 2; }
for b in "$old" "$new"; do [[ -x $b ]] || { echo "$0: $b is not an executable" >&2; exit 2; }; done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" <<<"$2"; }
for ((i = 0; i < pairs; i++)); do
  for which in old new; do
    bin=$old
    [[ $which == new ]] && bin=$new
    if [[ ${CHURN:-0} == 1 ]]; then
      dd if=/dev/zero of=/dev/null bs=1G count=1 status=none
      sleep 2.5
    fi
    l=$("$bin" spawn)
    echo "$which $(field ops_per_s "$l") $(field loop_cpu_ms "$l") $(field cpu_ms "$l") $(field peak_rss_kb "$l")"
  done
done | tee "$out" | sed 's/^/run: /'
echo "# columns: binary ops_per_s loop_cpu_ms cpu_ms peak_rss_kb"
for which in old new; do
  awk -v b="$which" '$1 == b { print $2, $4 }' "$out" | sort -n | awk -v b="$which" '
    { v[NR] = $1; c[NR] = $2; if ($1 < 1000000) low++ }
    END {
      n = NR; if (n == 0) exit
      # cpu_ms sorted on its own for its median
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (c[j] < c[i]) { t = c[i]; c[i] = c[j]; c[j] = t }
      printf "%s: runs %d median %.2f M/s (%.2f-%.2f), below 1 M: %d, cpu_ms median %.1f\n",
        b, n, v[int((n + 1) / 2)] / 1e6, v[1] / 1e6, v[n] / 1e6, low + 0, c[int((n + 1) / 2)]
    }'
done
