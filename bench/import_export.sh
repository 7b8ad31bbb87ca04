#!/usr/bin/env bash
# Bulk load and dump: `parendb import` into a server with --sync full against
# PostgreSQL's COPY of the same JSON Lines into a jsonb table (bigserial
# primary key, synchronous_commit=on, fsync=on), and `parendb export`
# against COPY (SELECT doc … ORDER BY id) TO a file. Same machine, loopback,
# both clients reading or writing a file. Rounds alternate which system goes
# first; each row has the wall time, the rate and the server's CPU per
# document (bench/lib/server_cpu.sh).
#
#   bench/import_export.sh [DOCUMENTS] [ROUNDS]   (defaults 1000000 and 3; root for apt and runuser)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
ROUNDS=${2:-3}
WORK=$(mktemp -d /tmp/parendb-ie-XXXXXX)
chmod 777 "$WORK"
PPORT=17440 PGPORT=17442
trap 'cleanup' EXIT
cleanup() {
  [ -n "${PPID_SERVER:-}" ] && kill -TERM "$PPID_SERVER" 2>/dev/null && wait "$PPID_SERVER" 2>/dev/null || true
  [ -d "$WORK/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || {
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends postgresql >/dev/null
}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
scripts/build build RelWithDebInfo >/dev/null
source bench/lib/server_cpu.sh

python3 bench/lib/documents.py "$N" > "$WORK/docs.jsonl"  # ~200 bytes each
BYTES=$(stat -c %s "$WORK/docs.jsonl")
echo "documents: $N, $((BYTES / N)) bytes each on average ($((BYTES >> 20)) MiB)"

build/parendb serve --data "$WORK/paren" --port $PPORT --sync full --log-level warn &
PPID_SERVER=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$PPORT) 2>/dev/null && break; sleep 0.1; done
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c shared_buffers=256MB -c max_wal_size=4GB" start >/dev/null
PGPM=$(head -1 "$WORK/pg/postmaster.pid")
PSQL=(psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE TABLE docs(id bigserial PRIMARY KEY, doc jsonb NOT NULL)"

now() { date +%s.%N; }
row() {  # system task seconds cpu-ticks-before cpu-ticks-after
  awk -v sys="$1" -v task="$2" -v s="$3" -v n="$N" -v a="$4" -v b="$5" -v tick="$TICK" \
    'BEGIN { printf "%-9s %-7s %8.2f s %10.0f docs/s %8.2f us server CPU/doc\n", sys, task, s, n / s, (b - a) / tick / n * 1e6 }' |
    tee -a "$WORK/results.txt"
}
: > "$WORK/results.txt"
paren_import() {
  build/parendb console --connect 127.0.0.1:$PPORT <<< "(rmcoll docs)" >/dev/null
  local b t; b=$(server_ticks $PPID_SERVER); t=$(now)
  build/parendb import --coll docs --create --connect 127.0.0.1:$PPORT "$WORK/docs.jsonl" 2>/dev/null
  row parendb import "$(echo "$(now) - $t" | bc)" "$b" "$(server_ticks $PPID_SERVER)"
}
pg_import() {
  "${PSQL[@]}" -c "TRUNCATE docs" >/dev/null
  local b t; b=$(server_ticks $PGPM); t=$(now)
  # CSV with quote and delimiter characters JSON never holds unescaped: each line is one value, as is.
  "${PSQL[@]}" -c "\\copy docs(doc) FROM '$WORK/docs.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
  row postgres import "$(echo "$(now) - $t" | bc)" "$b" "$(server_ticks $PGPM)"
}
paren_export() {
  local b t; b=$(server_ticks $PPID_SERVER); t=$(now)
  build/parendb export --coll docs --connect 127.0.0.1:$PPORT --out "$WORK/out.jsonl" 2>/dev/null
  row parendb export "$(echo "$(now) - $t" | bc)" "$b" "$(server_ticks $PPID_SERVER)"
  [ "$(wc -l < "$WORK/out.jsonl")" = "$N" ] || { echo "parendb exported $(wc -l < "$WORK/out.jsonl") lines, not $N"; exit 1; }
}
pg_export() {
  local b t; b=$(server_ticks $PGPM); t=$(now)
  "${PSQL[@]}" -c "\\copy (SELECT doc FROM docs ORDER BY id) TO '$WORK/out.pg' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
  row postgres export "$(echo "$(now) - $t" | bc)" "$b" "$(server_ticks $PGPM)"
  [ "$(wc -l < "$WORK/out.pg")" = "$N" ] || { echo "postgres exported $(wc -l < "$WORK/out.pg") lines, not $N"; exit 1; }
}
for r in $(seq "$ROUNDS"); do
  if [ $((r % 2)) = 1 ]; then paren_import; pg_import; paren_export; pg_export
  else pg_import; paren_import; pg_export; paren_export; fi
done
echo
echo "medians of $ROUNDS rounds:"
for sys in parendb postgres; do
  for task in import export; do
    grep "^$sys *$task " "$WORK/results.txt" | sort -k3 -n | awk -v r="$ROUNDS" 'NR == int((r + 1) / 2)'
  done
done
