#!/usr/bin/env bash
# ParenDB's client libraries against the standard clients of two ecosystems,
# doing the same logical work: durable transfers between two random accounts
# of 10,000 (checking the balance), 16 in flight from one client process.
#
#   Python (Debian's /usr/bin/python3): parendb (threads + ConnectionPool;
#     asyncio + AsyncConnectionPool), redis-py (threads; asyncio), psycopg2
#     (threads, a connection each)
#   Node.js: parendb (Pool of 16; one pipelined connection), ioredis (one
#     connection, as it is used), pg (Pool of 16)
#
# Servers: ParenDB with --sync full, Redis with appendonly + appendfsync
# always (the transfer is one Lua script, EVALSHA), PostgreSQL with
# synchronous_commit=on (the transfer is one PL/pgSQL function). Every
# commit is synced to disk before it is acknowledged, on every system.
#
#   bench/clients/run.sh [SECONDS] [ROUNDS]     (defaults 5 and 3; root, for apt and runuser)
#
# Each round runs every client once, in an order that rotates from round to
# round; the summary gives each client's median throughput with that run's
# client CPU per transaction (user + system time of the client process).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_PER=${1:-5}
ROUNDS=${2:-3}
WORK=$(mktemp -d /tmp/parendb-clients-XXXXXX)
chmod 777 "$WORK"
PPORT=17520 PGPORT=17532 RPORT=17579
trap 'cleanup' EXIT
cleanup() {
  [ -n "${PPID_SERVER:-}" ] && kill -TERM "$PPID_SERVER" 2>/dev/null && wait "$PPID_SERVER" 2>/dev/null || true
  [ -d "$WORK/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

need=()
command -v redis-server >/dev/null || need+=(redis-server redis-tools)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
/usr/bin/python3 -c 'import redis' 2>/dev/null || need+=(python3-redis)
/usr/bin/python3 -c 'import psycopg2' 2>/dev/null || need+=(python3-psycopg2)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
(cd bench/clients/node && npm install --no-audit --no-fund --silent >/dev/null)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
scripts/build build RelWithDebInfo >/dev/null

# ------------------------------------------------------------ the servers
build/parendb serve --data "$WORK/paren" --port $PPORT --log-level warn &
PPID_SERVER=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$PPORT) 2>/dev/null && break; sleep 0.1; done
/usr/bin/python3 - "$PPORT" <<'PY'
import sys
sys.path.insert(0, "clients/python")
import parendb
conn = parendb.connect("127.0.0.1", int(sys.argv[1]))
conn.mkcoll("acc")
tx = conn.transaction()
for i in range(1, 10001):
    tx.create("acc", {"_id": i, "owner": f"user{i}", "balance": 1000000})
tx.commit()
PY

mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=100" start >/dev/null
psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d postgres <<'SQL'
CREATE TABLE acc(id int PRIMARY KEY, doc jsonb NOT NULL);
INSERT INTO acc SELECT i, jsonb_build_object('owner', 'user' || i, 'balance', 1000000) FROM generate_series(1, 10000) i;
-- The transfer as one call: both rows locked in id order (no deadlocks, as
-- ParenDB's acquire takes both at once), the check, the two updates.
CREATE FUNCTION transfer(a int, b int, v bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE bal bigint;
BEGIN
  PERFORM 1 FROM acc WHERE id IN (a, b) ORDER BY id FOR UPDATE;
  SELECT (doc->>'balance')::bigint INTO bal FROM acc WHERE id = a;
  IF bal < v THEN RETURN 0; END IF;
  UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint - v)) WHERE id = a;
  UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint + v)) WHERE id = b;
  RETURN 1;
END $$;
SQL

mkdir -p "$WORK/redis"
redis-server --port $RPORT --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always --save "" \
  --daemonize yes --logfile "$WORK/redis.log"
for _ in $(seq 50); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-cli -p $RPORT EVAL "for i=1,10000 do redis.call('SET', 'acc:' .. i, cjson.encode({owner='user' .. i, balance=1000000})) end return 1" 0 >/dev/null

echo "servers: ParenDB $(build/parendb version | head -1) (--sync full), PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (synchronous_commit=on), Redis $(redis-server --version | awk '{print $3}' | cut -d= -f2) (appendfsync always)"
echo "clients: Python $(/usr/bin/python3 -c 'import sys, redis, psycopg2; print(sys.version.split()[0], "redis-py", redis.__version__, "psycopg2", psycopg2.__version__.split()[0])'), Node.js $(node --version) ioredis $(node -p 'require("./bench/clients/node/node_modules/ioredis/package.json").version') pg $(node -p 'require("./bench/clients/node/node_modules/pg/package.json").version')"

# --------------------------------------------------------------- the runs
CLIENTS=(
  "python parendb threads $PPORT" "python parendb asyncio $PPORT" "python redis threads $RPORT"
  "python redis asyncio $RPORT" "python postgres threads $PGPORT"
  "node parendb pool $PPORT" "node parendb pipelined $PPORT" "node redis ioredis $RPORT" "node postgres pg $PGPORT"
)
RESULTS="$WORK/results"
: > "$RESULTS"
for round in $(seq "$ROUNDS"); do
  k=$(( (round - 1) % ${#CLIENTS[@]} ))
  order=("${CLIENTS[@]:k}" "${CLIENTS[@]:0:k}")
  echo "== round $round of $ROUNDS"
  for c in "${order[@]}"; do
    read -r lang system variant port <<< "$c"
    if [ "$lang" = python ]; then
      line=$(/usr/bin/python3 bench/clients/transfer.py "$system" "$variant" --port "$port" --seconds "$SECONDS_PER")
    else
      line=$(node bench/clients/node/transfer.js "$system" "$variant" --port "$port" --seconds "$SECONDS_PER")
    fi
    echo "$lang $line" | tee -a "$RESULTS" | awk '{printf "  %-7s %-9s %-10s %8s txn/s %6s us CPU/txn\n", $1, $2, $3, $4, $5}'
  done
done

echo
echo "== summary: median of $ROUNDS rounds (txn/s, with that run's client CPU per transaction)"
printf '%-7s %-9s %-10s %9s %14s\n' client system variant "txn/s" "CPU us/txn"
sort -k1,1 -k2,2 -k3,3 -k4,4n "$RESULTS" | awk '
  function flush() { if (n > 0) { split(rows[int((n + 1) / 2)], f, " "); printf "%-7s %-9s %-10s %9s %14s\n", f[1], f[2], f[3], f[4], f[5] } }
  { key = $1 " " $2 " " $3; if (key != last) { flush(); last = key; n = 0 } rows[++n] = $0 }
  END { flush() }'
