#!/usr/bin/env bash
# Runs airssys-bus and nats-server side by side in one run, on the scenarios of
# ../shared/peers/nats/natsbench.c beside the repository (16-byte payloads): publish-only,
# 1 publisher -> 1 subscriber, 1 -> 5 (aggregate delivered), request/reply
# (p50/p99; NATS with its responder in SendAsap mode, the fair comparison;
# airssys-bus's line also gives its ratio to twice a raw socketpair round
# trip measured in the same run, issue 12's goal <= 1.5x; since 2026-12-05
# `airssys-bus bench` interleaves the raw trips and the requests in blocks
# of 200 so both see the same machine state (before: all raw trips first,
# then all requests; docs/bus.md "Benchmarks"), and also against a forked
# relay process between two socketpairs (a request's shape, no broker work),
# and since session 11 against that relay waiting in epoll_wait() as a
# multiplexing broker must).
# Both brokers run as their own process: `airssys-bus serve` on a Unix socket
# in a fresh 0700 directory, `nats-server` on 127.0.0.1 with a random port.
# Usage: bench/peers/nats.sh [pub 1to1 1to5 rr ...]   (default: all)
# Env:   MSGS     messages per throughput scenario (default 5000000, natsbench's default)
#        RR_MSGS  timed requests (default 20000, after 1000 warm-up on both sides)
#        RUNS     runs per scenario and side (default 1; every run is printed)
#        PEERS    directory of natsbench.c (default ../shared/peers/nats beside the repository)
#        NO_BUILD 1: do not (re)build build/release/bus/airssys-bus first
#        BUSY_POLL_US  `airssys-bus serve --busy-poll-us N` (default: serve's own, 0 =
#                 the broker always sleeps), to compare polling windows in one session
set -euo pipefail
cd "$(dirname "$0")/../.."
# The shared peers sit beside the repository (../shared), wherever it is cloned.
peers=${PEERS:-$PWD/../shared/peers/nats}
msgs=${MSGS:-5000000}
rr_msgs=${RR_MSGS:-20000}
runs=${RUNS:-1}
scenarios=("$@")
[[ ${#scenarios[@]} -gt 0 ]] || scenarios=(pub 1to1 1to5 rr)

[[ -f $peers/natsbench.c ]] || {
  echo "nats.sh: the NATS peer source is not at $peers/natsbench.c (it sits in ../shared/peers/nats beside the clone; PEERS=DIR points elsewhere)" >&2
  exit 2
}
for p in nats-server libnats-dev; do
  dpkg -s "$p" >/dev/null 2>&1 || { echo "nats.sh: $p missing (run scripts/bootstrap)" >&2; exit 1; }
done
out=build/nats-peers
mkdir -p "$out"
[[ "$out/natsbench" -nt "$peers/natsbench.c" ]] ||
  gcc -O2 -Wall -o "$out/natsbench" "$peers/natsbench.c" -lnats -lpthread
# NO_BUILD=1 runs the release binary as it is (e.g. while others hold the build lock).
[[ ${NO_BUILD:-0} == 1 ]] || scripts/build release airssys-bus >/dev/null
bus=build/release/bus/airssys-bus

work=$(mktemp -d /tmp/airssys-nats-peer.XXXXXX)
chmod 0700 "$work"
nats_pid="" bus_pid=""
cleanup() {
  # Only the two servers this script started, by pid. (Each step may fail
  # without ending the cleanup: a server killed by SIGTERM waits non-zero.)
  if [[ -n $nats_pid ]]; then kill "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; fi
  if [[ -n $bus_pid ]]; then kill "$bus_pid" 2>/dev/null || true; wait "$bus_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

nats-server -a 127.0.0.1 -p -1 >"$work/nats.log" 2>&1 &
nats_pid=$!
serve_args=(serve --socket "$work/bus/bus.sock")
[[ -z ${BUSY_POLL_US:-} ]] || serve_args+=(--busy-poll-us "$BUSY_POLL_US")
"$bus" "${serve_args[@]}" >"$work/bus.log" 2>&1 &
bus_pid=$!
port=""
for _ in $(seq 100); do
  port=$(sed -n 's/.*Listening for client connections on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/nats.log")
  [[ -n $port && -S $work/bus/bus.sock ]] && break
  sleep 0.05
done
[[ -n $port ]] || { echo "nats.sh: nats-server did not start:" >&2; cat "$work/nats.log" >&2; exit 1; }
[[ -S $work/bus/bus.sock ]] || { echo "nats.sh: airssys-bus serve did not start:" >&2; cat "$work/bus.log" >&2; exit 1; }
url="nats://127.0.0.1:$port"

field() { sed -n "s/.*[\" ]$1[=\":]*\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }'; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(nats-server --version), msgs=$msgs rr_msgs=$rr_msgs busy_poll_us=${BUSY_POLL_US:-default}"
for s in "${scenarios[@]}"; do
  for ((r = 1; r <= runs; r++)); do
    case $s in
      pub) nats_line=$("$out/natsbench" pub "$msgs" 1 "$url") ;;
      1to1) nats_line=$("$out/natsbench" fan "$msgs" 1 "$url") ;;
      1to5) nats_line=$("$out/natsbench" fan "$msgs" 5 "$url") ;;
      rr) nats_line=$("$out/natsbench" rrasap "$rr_msgs" 1 "$url") ;;
      *) echo "nats.sh: unknown scenario $s (pub, 1to1, 1to5, rr)" >&2; exit 2 ;;
    esac
    bus_out=$("$bus" bench --socket "$work/bus/bus.sock" --scenario "$s" --msgs "$msgs" --rr-msgs "$rr_msgs")
    # rr prints the raw socketpair round trip, the relay round trip, the
    # epoll relay's, then req_reply (all measured interleaved; the ratios are
    # in the req_reply line).
    bus_line=$(tail -1 <<<"$bus_out")
    echo "nats:        $nats_line"
    while IFS= read -r l; do echo "airssys-bus: $l"; done <<<"$bus_out"
    case $s in
      pub)
        a=$(field msgs_per_s "$bus_line"); n=$(field msgs_per_s "$nats_line")
        printf '%-5s msgs/s  airssys-bus %.0f  nats %.0f  bus/nats %s\n' "$s" "$a" "$n" "$(ratio "$a" "$n")" ;;
      1to1 | 1to5)
        a=$(field msgs_per_s "$bus_line"); n=$(field agg_deliv_per_s "$nats_line")
        la=$(field lost "$bus_line"); ln=$(field lost "$nats_line")
        printf '%-5s delivered msgs/s  airssys-bus %.0f  nats %.0f  bus/nats %s   lost  airssys-bus %s  nats %s\n' \
          "$s" "$a" "$n" "$(ratio "$a" "$n")" "$la" "$ln" ;;
      rr)
        a50=$(field p50_us "$bus_line"); n50=$(field p50_us "$nats_line")
        a99=$(field p99_us "$bus_line"); n99=$(field p99_us "$nats_line")
        r50=$(field p50_vs_2raw "$bus_line"); r99=$(field p99_vs_2raw "$bus_line")
        l50=$(field p50_vs_relay "$bus_line"); l99=$(field p99_vs_relay "$bus_line")
        e50=$(field p50_vs_epoll_relay "$bus_line"); e99=$(field p99_vs_epoll_relay "$bus_line")
        printf '%-5s latency us  p50 airssys-bus %s nats %s (nats/bus %s)   p99 airssys-bus %s nats %s (nats/bus %s)   bus vs 2x raw socketpair: p50 %sx p99 %sx   vs the forked relay: p50 %sx p99 %sx   vs the epoll relay: p50 %sx p99 %sx\n' \
          "$s" "$a50" "$n50" "$(ratio "$n50" "$a50")" "$a99" "$n99" "$(ratio "$n99" "$a99")" "$r50" "$r99" "$l50" "$l99" "$e50" "$e99" ;;
    esac
  done
done
