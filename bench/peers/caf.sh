#!/usr/bin/env bash
# Builds the CAF 0.17 comparison programs (../shared/peers/caf beside the
# repository; Debian's libcaf-dev) and runs them and rt_bench side by side in one run, printing
# both figures and the ratio per scenario.
# Usage: bench/peers/caf.sh [pingpong|fanin|spawn|idle ...]   (default: all)
# Env:   WORKERS  worker threads for both runtimes (default: nproc)
#        PEERS    directory of the CAF sources (default: ../shared/peers/caf beside the repository)
#        RUNS     runs per scenario and runtime (default: 1; every run is printed)
#        NO_BUILD 1: run build/release/bench/rt_bench as it is (e.g. while
#                 another build holds the build lock)
set -euo pipefail
cd "$(dirname "$0")/../.."
# The shared peers sit beside the repository (../shared), wherever it is cloned.
peers=${PEERS:-$PWD/../shared/peers/caf}
out=build/caf-peers
threads=${WORKERS:-$(nproc)}
runs=${RUNS:-1}
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(pingpong fanin spawn idle)

[[ -f $peers/spawn.cpp ]] || {
  echo "caf.sh: the CAF peer sources are not at $peers (they sit in ../shared/peers/caf beside the clone; PEERS=DIR points elsewhere)" >&2
  exit 2
}
dpkg -s libcaf-dev >/dev/null 2>&1 || { echo "caf.sh: libcaf-dev missing (scripts/bootstrap)" >&2; exit 1; }
mkdir -p "$out"
for p in pingpong fanin spawn; do
  [[ "$out/$p" -nt "$peers/$p.cpp" ]] ||
    g++ -O2 -std=c++17 -I"$peers" -o "$out/$p" "$peers/$p.cpp" -lcaf_core -lcaf_io -pthread
done
[[ ${NO_BUILD:-0} == 1 ]] || scripts/build release rt_bench >/dev/null
rt=build/release/bench/rt_bench

field() { sed -n "s/.*$1[=\":]*\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), workers=$threads"
for s in "${scenarios[@]}"; do
  for ((r = 1; r <= runs; r++)); do
    case $s in
      pingpong) caf_cmd=("$out/pingpong"); caf_key=rt_per_s ;;
      fanin) caf_cmd=("$out/fanin"); caf_key=msgs_per_s ;;
      spawn) caf_cmd=("$out/spawn"); caf_key=actors_per_s ;;
      idle) caf_cmd=(env MODE=idle "$out/spawn"); caf_key=bytes_per_actor ;;
      *) echo "caf.sh: unknown scenario $s" >&2; exit 2 ;;
    esac
    caf_line=$(/usr/bin/time -f %M -o "$tmp" "${caf_cmd[@]}" --scheduler.max-threads="$threads")
    caf_rss=$(tail -1 "$tmp")
    caf_val=$(field "$caf_key" "$caf_line")
    rt_line=$(WORKERS=$threads "$rt" "$s")
    echo "caf:        $caf_line | peak_rss_kb=$caf_rss"
    echo "airssys-rt: $rt_line"
    if [[ $s == idle ]]; then
      rt_val=$(field bytes_per_actor "$rt_line")
      awk -v s="$s" -v a="$rt_val" -v c="$caf_val" \
        'BEGIN { printf "%-9s bytes/actor  airssys-rt %d  caf %d  caf/rt %.2fx\n", s, a, c, c / a }'
    else
      rt_val=$(field ops_per_s "$rt_line")
      rt_rss=$(field peak_rss_kb "$rt_line")
      awk -v s="$s" -v a="$rt_val" -v c="$caf_val" -v ra="$rt_rss" -v rc="$caf_rss" \
        'BEGIN { printf "%-9s ops/s  airssys-rt %.0f  caf %.0f  rt/caf %.2fx   peak RSS kB  airssys-rt %d  caf %d\n", s, a, c, a / c, ra, rc }'
    fi
  done
done
