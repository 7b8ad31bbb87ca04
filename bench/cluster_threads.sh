#!/usr/bin/env bash
# Where a durable commit's CPU goes, thread by thread: a single node, then a
# three-node cluster's leader and one follower, under the same load, each
# thread's CPU (by its name: parendb-io, parendb-wal, parendb-raft, …,
# docs/operating.md) in µs per transaction, user and system.
#
#   bench/cluster_threads.sh [SECONDS] [CONNS] [WORKLOAD]   (defaults 5, 16, transfer)
#
# parendb_load, 10,000 accounts, after a 2 s warm-up; CPU from
# /proc/PID/task/*/stat before and after. NODE_FLAGS adds serve flags to
# every node. docs/replication.md has a run.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-5}
CONNS=${2:-16}
WORKLOAD=${3:-transfer}
NODE_FLAGS=${NODE_FLAGS:-}
scripts/build build RelWithDebInfo >/dev/null
WORK=$(mktemp -d /tmp/parendb-threads-bench-XXXXXX)
source bench/lib/servers.sh
source bench/lib/cluster.sh
TICK=$(getconf CLK_TCK)

# Per thread name: ticks of user and system time, summed over its threads.
threads() {
  for t in /proc/"$1"/task/*; do
    echo "$(cat "$t/comm") $(awk '{print $14, $15}' "$t/stat")"
  done | awk '{u[$1] += $2; s[$1] += $3} END {for (k in u) print k, u[k], s[k]}' | sort
}
report() {  # label, before, after, transactions
  join <(echo "$2") <(echo "$3") | awk -v n="$4" -v w="$1" -v tick="$TICK" '
    { u = ($4 - $2) / tick / n * 1e6; s = ($5 - $3) / tick / n * 1e6
      if (u + s > 0.05) printf "%-16s %-16s user %6.1f  system %6.1f us/txn\n", w, $1, u, s
      tu += u; ts += s }
    END { printf "%-16s %-16s user %6.1f  system %6.1f us/txn\n", w, "(process)", tu, ts }'
}
load() {  # port seconds
  build/bench/parendb_load --port "$1" --seconds "$2" --accounts 10000 --workloads "$WORKLOAD" --connections "$CONNS"
}
measure() {  # label port pid...
  local label=$1 port=$2 i=0 out n
  shift 2
  load "$port" 2 >/dev/null
  local before=()
  for pid in "$@"; do before+=("$(threads "$pid")"); done
  out=$(load "$port" "$SECONDS_PER" | tail -1)
  n=$(echo "$out" | awk -v s="$SECONDS_PER" '{print $3 * s}')
  echo "== $label: $out"
  for pid in "$@"; do
    report "$label$([ $# -gt 1 ] && { [ $i = 0 ] && echo -leader || echo -follower; })" "${before[$i]}" "$(threads "$pid")" "$n"
    i=$((i + 1))
  done
}

# shellcheck disable=SC2086
build/parendb serve --data "$WORK/single" --port 18460 --log-level warn $NODE_FLAGS &
SINGLE_PID=$!
PIDS+=("$SINGLE_PID")
wait_port 18460
measure single 18460 "$SINGLE_PID"

start_cluster 18460 18560
LEADER=$(cluster_leader_port 18460)
L=$((LEADER - 18461))
F=$(((L + 1) % 3))
measure cluster "$LEADER" "${CLUSTER_PIDS[$L]}" "${CLUSTER_PIDS[$F]}"
