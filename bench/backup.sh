#!/usr/bin/env bash
# What an online backup costs the server while it runs: the transfer
# workload (parendb_load, 16 connections, --sync full) alone, and again with
# `parendb backup` copying the database over and over for the whole window.
# The database holds DOCUMENTS documents of ~200 bytes beside the 10,000
# accounts, so each backup has real work to do. Rounds alternate which of
# the two goes first; each row has throughput and the server's CPU per
# transaction (bench/lib/server_cpu.sh), and the summary the ratio of the
# medians (the goal: at least 0.8).
#
#   bench/backup.sh [DOCUMENTS] [ROUNDS] [SECONDS]   (defaults 1000000, 3, 10)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
SECS=${3:-10}
CONNS=${CONNS:-16}
WORK=$(mktemp -d /tmp/parendb-backup-XXXXXX)
COPIES=${COPIES:-$WORK}          # where the backups go (another disk, ideally)
BACKUP_FLAGS=${BACKUP_FLAGS:-}   # e.g. "--max-rate 50"
PORT=17450
trap 'cleanup' EXIT
cleanup() {
  [ -n "${LOOP:-}" ] && kill "$LOOP" 2>/dev/null || true
  [ -n "${SERVER:-}" ] && kill -TERM "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true
  rm -rf "$WORK"
}
scripts/build build RelWithDebInfo >/dev/null
source bench/lib/server_cpu.sh

python3 bench/lib/documents.py "$N" > "$WORK/docs.jsonl"  # ~200 bytes each
build/parendb serve --data "$WORK/db" --port $PORT --sync full --log-level warn &
SERVER=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
build/parendb import --coll people --create --connect 127.0.0.1:$PORT "$WORK/docs.jsonl"
rm "$WORK/docs.jsonl"
LOAD=(build/bench/parendb_load --port $PORT --workloads transfer --connections "$CONNS")
"${LOAD[@]}" --seconds 1 >/dev/null  # loads the accounts

# Backs up into fresh directories until killed; one line per backup.
backup_loop() {
  local i=0
  while :; do
    i=$((i + 1))
    local start end
    start=$(date +%s.%N)
    build/parendb backup "$COPIES/copy$i" --connect 127.0.0.1:$PORT $BACKUP_FLAGS 2>/dev/null || exit 0
    end=$(date +%s.%N)
    du -sm "$COPIES/copy$i" | awk -v s="$start" -v e="$end" '{ printf "backup %.2f s %d MB\n", e - s, $1 }' >> "$WORK/backups.txt"
    rm -rf "$COPIES/copy$i"
  done
}

measure() {  # label
  local before after out tps
  before=$(server_ticks "$SERVER")
  out=$("${LOAD[@]}" --seconds "$SECS" | tail -1)
  after=$(server_ticks "$SERVER")
  tps=$(awk '{print $3}' <<<"$out")
  local txns=$(awk -v t="$tps" -v s="$SECS" 'BEGIN { printf "%d", t * s }')
  printf "%-14s %10.0f txn/s %8s us server CPU/txn\n" "$1" "$tps" "$(cpu_per_txn "$before" "$after" "$txns")" | tee -a "$WORK/rows.txt"
}

with_backup() {
  backup_loop &
  LOOP=$!
  measure "with-backup"
  kill "$LOOP" 2>/dev/null; wait "$LOOP" 2>/dev/null || true
  LOOP=
  pkill -f "parendb backup $COPIES/copy" 2>/dev/null || true
  rm -rf "$COPIES"/copy*
}

echo "transfers at $CONNS connections for $SECS s, $N documents beside the accounts, $ROUNDS rounds"
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) -eq 1 ]; then measure "without"; with_backup; else with_backup; measure "without"; fi
done
echo
awk '
  /^without/ { a[na++] = $2 }
  /^with-backup/ { b[nb++] = $2 }
  function median(x, n,   i, j, t) { for (i = 0; i < n; i++) for (j = i + 1; j < n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }; return x[int((n - 1) / 2)] }
  END { ma = median(a, na); mb = median(b, nb); printf "median without %.0f txn/s, with a backup running %.0f txn/s: %.2f of without\n", ma, mb, mb / ma }
' "$WORK/rows.txt"
awk '{ n++; s += $2; mb = $4 } END { if (n) printf "%d backups completed during the windows, %.2f s each on average, %d MB each\n", n, s / n, mb }' "$WORK/backups.txt" 2>/dev/null || true
