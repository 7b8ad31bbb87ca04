#!/usr/bin/env bash
# A three-node cluster on this one machine against a single node, in the same
# run: the three nodes share its cores and its disk, so this is the cost of
# replication with nothing gained from more machines.
#
#   bench/cluster.sh [SECONDS] [ROUNDS]     (defaults 5 and 3)
#
# Cells (parendb_load, 10,000 accounts, durable: every commit on disk —
# on a majority of the three in the cluster):
#   single   transfer / read at 16 and 64 connections on a standalone server
#   leader   the same on the cluster's leader
#   follower read on a follower (strictly serializable: a read index from
#            the leader per batch of reads, docs/replication.md)
#   fol-stale  read on a follower with (acquire q (stale STALE_MS)),
#            default 100: bounded staleness, no read index per batch
# Each row has the servers' CPU per transaction (all three nodes summed for
# the cluster). The summary gives each cell's median over the rounds, and
# the cluster's throughput as a fraction of the single node's.
# bench/cluster_failover.py measures failover time and catch-up.
# CONNS, WORKLOADS (transfer read) and NODE_FLAGS (e.g. "--threads 1")
# choose what runs.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-5}
ROUNDS=${2:-3}
CONNS=${CONNS:-16 64}
WORKLOADS=${WORKLOADS:-transfer read}
NODE_FLAGS=${NODE_FLAGS:-}  # extra serve flags for every node (the single one too)
STALE_MS=${STALE_MS:-100}
scripts/build build RelWithDebInfo >/dev/null
WORK=$(mktemp -d /tmp/parendb-cluster-bench-XXXXXX)
source bench/lib/servers.sh
source bench/lib/server_cpu.sh
source bench/lib/cluster.sh

SINGLE=18420
# shellcheck disable=SC2086
build/parendb serve --data "$WORK/single" --port $SINGLE --log-level warn $NODE_FLAGS &
SINGLE_PID=$!
PIDS+=("$SINGLE_PID")
wait_port $SINGLE
start_cluster 18430 18520
LEADER=$(cluster_leader_port 18430)
FOLLOWER=18431; [ "$LEADER" = 18431 ] && FOLLOWER=18432
echo "single node :$SINGLE; cluster leader :$LEADER, follower :$FOLLOWER ($(nproc) cores shared by all, one disk)"

RESULTS="$WORK/results.txt"
: > "$RESULTS"
ticks_of() { local t=0 p; for p in "$@"; do t=$((t + $(server_ticks "$p"))); done; echo "$t"; }
cell() {  # label port workload conns pids...
  local label=$1 port=$2 w=$3 c=$4
  shift 4
  local before out tps p50 p99 flags=()
  [ "$label" = fol-stale ] && flags=(--stale "$STALE_MS")
  before=$(ticks_of "$@")
  out=$(build/bench/parendb_load --port "$port" --seconds "$SECONDS_PER" --accounts 10000 --workloads "$w" --connections "$c" "${flags[@]}" |
    awk 'NR>1 {print $3, $4, $5}')
  read -r tps p50 p99 <<< "$out"
  printf '%-9s %-9s %5s %10s %9s %9s %11s\n' "$label" "$w" "$c" "$tps" "$p50" "$p99" \
    "$(cpu_per_txn "$before" "$(ticks_of "$@")" "$((tps * SECONDS_PER))")" | tee -a "$RESULTS"
}
printf '%-9s %-9s %5s %10s %9s %9s %11s\n' where workload conns txn/s p50-ms p99-ms cpu-us/txn
for round in $(seq "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  for w in $WORKLOADS; do
    for c in $CONNS; do
      if (( round % 2 )); then
        cell single "$SINGLE" "$w" "$c" "$SINGLE_PID"
        cell leader "$LEADER" "$w" "$c" "${CLUSTER_PIDS[@]}"
      else
        cell leader "$LEADER" "$w" "$c" "${CLUSTER_PIDS[@]}"
        cell single "$SINGLE" "$w" "$c" "$SINGLE_PID"
      fi
      if [ "$w" = read ]; then
        cell follower "$FOLLOWER" "$w" "$c" "${CLUSTER_PIDS[@]}"
        cell fol-stale "$FOLLOWER" "$w" "$c" "${CLUSTER_PIDS[@]}"
      fi
    done
  done
done

echo "== medians over $ROUNDS rounds (cluster/single: the cluster's median throughput as a fraction of the single node's,"
echo "   to three places so a goal's line is not rounded over; then each round's own ratio, lowest to highest)"
awk '
  { key = $1 " " $2 " " $3; n[key]++; tps[key, n[key]] = $4; cpu[key, n[key]] = $7; keys[key] = 1 }
  function median(arr, key, cnt,   i, j, t, v) {
    for (i = 1; i <= cnt; i++) v[i] = arr[key, i] + 0
    for (i = 1; i <= cnt; i++) for (j = i + 1; j <= cnt; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((cnt + 1) / 2)]
  }
  END {
    for (key in keys) { mt[key] = median(tps, key, n[key]); mc[key] = median(cpu, key, n[key]) }
    for (key in keys) {
      split(key, k, " ")
      ratio = ""
      single = "single " k[2] " " k[3]
      if (k[1] != "single" && (single in mt)) {
        ratio = sprintf("cluster/single %.3f  rounds", mt[key] / mt[single])
        # Round i of this cell beside round i of the single node.
        for (i = 1; i <= n[key] && i <= n[single]; i++) r[key, i] = tps[key, i] / tps[single, i]
        m = (n[key] < n[single]) ? n[key] : n[single]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[key, j] < r[key, i]) { t = r[key, i]; r[key, i] = r[key, j]; r[key, j] = t }
        for (i = 1; i <= m; i++) ratio = ratio sprintf(" %.2f", r[key, i])
      }
      printf "%-9s %-9s %5s  median %8d txn/s  %7.1f us CPU/txn  %s\n", k[1], k[2], k[3], mt[key], mc[key], ratio
    }
  }' "$RESULTS" | sort -k2,2 -k3,3n -k1,1
