#!/usr/bin/env bash
# Is an io_uring transport worth building? The socket path alone, on both
# transports, beside the real server, in the same run:
#
#   probe-asio   bench/transport_probe on Boost.Asio's epoll reactor, one
#                thread, canned answers (no database)
#   probe-uring  the same on io_uring: multishot receives into provided
#                buffers, sends batched per loop iteration
#   parendb      the real server, --threads 1 (like the probes), point reads
#
# Each cell is parendb_load's read workload (five statements, one request
# and one answer write per transaction) at 16 and 64 connections; rows
# carry the server's CPU per transaction from /proc. The difference between
# the two probes' CPU is the most an io_uring transport could take off each
# of ParenDB's requests; docs/performance.md has the verdict.
#
#   bench/transport_compare.sh [SECONDS] [ROUNDS]   (defaults 3 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-3}
CONNS=${CONNS:-16 64}
scripts/build build RelWithDebInfo >/dev/null
WORK=$(mktemp -d /tmp/parendb-transport-XXXXXX)
source bench/lib/servers.sh
source bench/lib/server_cpu.sh

declare -A PORT PID
start() {  # name port command...
  local name=$1 port=$2
  shift 2
  "$@" > "$WORK/$name.log" 2>&1 &
  PID[$name]=$!
  PORT[$name]=$port
  PIDS+=($!)
  wait_port "$port"
}
start probe-asio 18611 build/bench/transport_probe --transport asio --port 18611
start probe-uring 18612 build/bench/transport_probe --transport uring --port 18612
start parendb 18613 build/parendb serve --data "$WORK/data" --port 18613 --threads 1 --log-level warn
NAMES=(probe-asio probe-uring parendb)

RESULTS="$WORK/results.txt"
: > "$RESULTS"
cell() {  # name conns
  local name=$1 c=$2 before out tps p50 p99
  before=$(server_ticks "${PID[$name]}")
  out=$(build/bench/parendb_load --port "${PORT[$name]}" --seconds "$SECONDS_PER" --accounts 10000 --workloads read \
    --connections "$c" | awk 'NR>1 {print $3, $4, $5}')
  read -r tps p50 p99 <<< "$out"
  printf '%-12s %5s %10s %9s %9s %11s\n' "$name" "$c" "$tps" "$p50" "$p99" \
    "$(cpu_per_txn "$before" "$(server_ticks "${PID[$name]}")" "$((tps * SECONDS_PER))")" | tee -a "$RESULTS"
}
printf '%-12s %5s %10s %9s %9s %11s\n' server conns txn/s p50-ms p99-ms cpu-us/txn
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for c in $CONNS; do
    # who goes first rotates from round to round
    for k in 0 1 2; do cell "${NAMES[$(((k + round) % 3))]}" "$c"; done
  done
done
echo "== medians over $ROUNDS rounds"
awk '
  { key = $1 " " $2; n[key]++; tps[key, n[key]] = $3; cpu[key, n[key]] = $6; keys[key] = 1 }
  function median(arr, key, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[key, i] + 0
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((cnt + 1) / 2)]
  }
  END { for (key in keys) { split(key, k, " "); printf "%-12s %5s  median %8d txn/s  %6.1f us CPU/txn\n", k[1], k[2], median(tps, key, n[key]), median(cpu, key, n[key]) } }
' "$RESULTS" | sort -k2,2n -k1,1
