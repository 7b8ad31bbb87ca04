#!/usr/bin/env bash
# Loopback TCP against a Unix-domain socket, the same server, same load:
# parendb_load's point reads and durable transfers over each in turn
# (ROUNDS interleaved rounds), with the server's CPU per transaction (its
# user + system time over the run, from /proc) beside the throughput.
#
#   bench/socket_compare.sh [SECONDS] [ROUNDS]     (defaults 3 and 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-3}
CONNS=${CONNS:-16,64}
WORK=$(mktemp -d /tmp/parendb-socket-XXXXXX)
PORT=17640
scripts/build build RelWithDebInfo >/dev/null
build/parendb serve --data "$WORK/data" --port $PORT --socket "$WORK/parendb.sock" --log-level warn &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do [ -S "$WORK/parendb.sock" ] && break; sleep 0.1; done
build/bench/parendb_load --port $PORT --seconds 0.2 --workloads read --connections 1 >/dev/null  # loads the accounts
cpu() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }  # clock ticks
TICK=$(getconf CLK_TCK)
printf '%-6s %-9s %5s %10s %16s\n' via workload conns "txn/s" "server us/txn"
for round in $(seq "$ROUNDS"); do
  for via in tcp unix; do
    [ $(( round % 2 )) -eq 0 ] && via=$([ $via = tcp ] && echo unix || echo tcp)  # alternate who goes first
    if [ $via = tcp ]; then target=(--port $PORT); else target=(--socket "$WORK/parendb.sock"); fi
    for w in read transfer; do
      for c in ${CONNS//,/ }; do
        before=$(cpu)
        line=$(build/bench/parendb_load "${target[@]}" --seconds "$SECONDS_PER" --workloads $w --connections "$c" | awk 'NR > 1')
        after=$(cpu)
        echo "$line" | awk -v via=$via -v t=$(( after - before )) -v tick="$TICK" -v s="$SECONDS_PER" \
          '{ n = $3 * s; printf "%-6s %-9s %5s %10s %16.1f\n", via, $1, $2, $3, (n > 0 ? t / tick / n * 1e6 : 0) }'
      done
    done
  done
done
