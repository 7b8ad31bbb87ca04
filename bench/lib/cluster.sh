# shellcheck shell=bash
# Sourced after servers.sh by the benchmarks that run a three-node cluster.
#
# start_cluster CLIENT_BASE RAFT_BASE: nodes 1-3 serve clients on
# CLIENT_BASE+1..3 and Raft on RAFT_BASE+1..3, with data in $WORK/n1..n3 and
# $NODE_FLAGS added; their PIDs go into CLUSTER_PIDS (and PIDS, which stops
# them at exit). Returns once every client port accepts.
# cluster_leader_port CLIENT_BASE: the leader's client port, once one is
# elected (10 s at most).
CLUSTER_PIDS=()
start_cluster() {
  local spec i
  spec=1=127.0.0.1:$(($2 + 1)),2=127.0.0.1:$(($2 + 2)),3=127.0.0.1:$(($2 + 3))
  for i in 1 2 3; do
    # shellcheck disable=SC2086
    build/parendb serve --data "$WORK/n$i" --port $(($1 + i)) --node-id $i --cluster "$spec" --log-level warn ${NODE_FLAGS:-} &
    CLUSTER_PIDS+=($!)
    PIDS+=($!)
  done
  for i in 1 2 3; do wait_port $(($1 + i)); done
}
cluster_leader_port() {
  local l
  for _ in $(seq 100); do
    l=$(build/parendb cluster status --connect 127.0.0.1:$(($1 + 1)) 2>/dev/null | grep -o '"leader":"[^"]*' | cut -d: -f3 || true)
    [ -n "$l" ] && { echo "$l"; return; }
    sleep 0.1
  done
  echo "no leader elected" >&2
  exit 1
}
