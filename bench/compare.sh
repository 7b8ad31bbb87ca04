#!/usr/bin/env bash
# ParenDB against PostgreSQL (jsonb, synchronous_commit=on) and Redis
# (appendonly, appendfsync always; the transfer as one Lua script), same
# machine, loopback, the same logical work:
#   transfer  move 5 between two random accounts of 10,000, checking the balance
#   read      read one account by id
#   insert    insert one ~1 KB JSON document
# at 1, 16 and 64 connections. Every server syncs each commit to disk.
#
# ParenDB runs twice: with its defaults (`parendb`: an I/O thread per core)
# and with `--threads 1` (`parendb-t1`). On a small machine that also runs
# the load generator, one I/O thread, like Redis's one event loop, never
# has to hand work to another core: on this 2-core host the load generator
# takes one core, and a second I/O thread mostly pays for waking up.
#
#   bench/compare.sh [SECONDS] [ROUNDS]   (defaults 3 and 3; needs root for apt and runuser)
#
# WORKLOADS, CONNS and SYSTEMS (parendb parendb1 pg redis) choose what runs;
# LOAD_FLAGS go to parendb_load. bench/index_compare.sh uses them for the
# index workloads: transfer-email (each account selected by its unique,
# indexed email; PostgreSQL: a jsonb expression index and the transfer as
# one function call) and range (20 accounts by a range of an indexed rank).
#
# All four servers run side by side; each cell (workload x connections) is
# measured for the four one right after the other (who goes first rotates
# from round to round), and the whole sweep is repeated ROUNDS times. Each
# row carries the server's CPU per transaction (its processes' user +
# system time over the cell, from /proc), which the scheduler of a shared
# host does not decide the way it decides throughput. The
# summary gives each cell's median throughput (with the latencies of that
# run), so a burst of noise on this shared host hits every system alike
# instead of whichever ran at that moment.
# With Redis in the run, a last table sets each ParenDB configuration
# against it, cell by cell, and says which of issue 16's goals it met.
#
# It installs PostgreSQL and Redis from Debian's packages when missing, starts
# each on 127.0.0.1 with data under a temporary directory, and stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER=${1:-3}
ROUNDS=${2:-3}
CONNS=${CONNS:-1 16 64}
WORKLOADS=${WORKLOADS:-transfer read insert}
SYSTEMS=${SYSTEMS:-parendb parendb1 pg redis}
LOAD_FLAGS=${LOAD_FLAGS:-}
WORK=$(mktemp -d /tmp/parendb-compare-XXXXXX)
chmod 777 "$WORK"  # PostgreSQL runs as its own user and writes its log and socket here
PPORT=17420 P1PORT=17421 PGPORT=17432 RPORT=17479
trap 'cleanup' EXIT

cleanup() {
  for pid in ${PPID_SERVER:-} ${P1PID_SERVER:-}; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  [ -d "$WORK/pg" ] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -m fast stop >/dev/null 2>&1 || true
  redis-cli -p $RPORT shutdown nosave >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

need=()
command -v redis-server >/dev/null || need+=(redis-server redis-tools)
ls /usr/lib/postgresql/*/bin/pgbench >/dev/null 2>&1 || need+=(postgresql postgresql-contrib)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
scripts/build build RelWithDebInfo >/dev/null

FILLER=$(printf 'lorem ipsum dolor sit amet %.0s' $(seq 1 34))
DOC="{\"kind\": \"event\", \"n\": 1, \"body\": \"$FILLER\"}"
RESULTS="$WORK/results.txt"
: > "$RESULTS"
# server workload conns txn/s p50 p99 lock-waits server-CPU-us/txn
row() { printf '%-10s %-14s %5s %10s %9s %9s %10s %11s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:--}" "${8:--}" | tee -a "$RESULTS"; }

source bench/lib/server_cpu.sh

# ------------------------------------------------------------- start all four
build/parendb serve --data "$WORK/paren" --port $PPORT --log-level warn &
PPID_SERVER=$!
build/parendb serve --data "$WORK/paren-t1" --port $P1PORT --threads 1 --log-level warn &
P1PID_SERVER=$!
for port in $PPORT $P1PORT; do
  for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
done

PGVERSION=$("$PGBIN/postgres" --version | awk '{print $3}')
mkdir -p "$WORK/pg" && chown postgres "$WORK/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$WORK/pg" -A trust -U postgres >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WORK/pg" -w -l "$WORK/pg.log" \
  -o "-p $PGPORT -k $WORK -c listen_addresses=127.0.0.1 -c synchronous_commit=on -c fsync=on -c max_connections=200 -c shared_buffers=256MB" start >/dev/null
PSQL=(psql -q -h 127.0.0.1 -p $PGPORT -U postgres -d postgres)
"${PSQL[@]}" -c "CREATE TABLE acc(id int PRIMARY KEY, doc jsonb NOT NULL);
  CREATE TABLE docs(id bigserial PRIMARY KEY, doc jsonb NOT NULL);
  INSERT INTO acc SELECT i, jsonb_build_object('owner', 'user' || i, 'email', 'user' || i || '@example.com', 'rank', i,
    'balance', 1000000) FROM generate_series(1, 10000) i;"
case " $WORKLOADS " in
  *" transfer-email "*|*" range "*)
    "${PSQL[@]}" <<'SQL'
CREATE UNIQUE INDEX acc_email ON acc ((doc->>'email'));
CREATE INDEX acc_rank ON acc (((doc->>'rank')::int));
-- The transfer by email as one call: both rows locked in one order (no
-- deadlocks, as ParenDB's acquire takes both at once), the check, two updates.
CREATE FUNCTION transfer_email(a text, b text, v bigint) RETURNS int LANGUAGE plpgsql AS $$
DECLARE bal bigint;
BEGIN
  PERFORM 1 FROM acc WHERE doc->>'email' IN (a, b) ORDER BY doc->>'email' FOR UPDATE;
  SELECT (doc->>'balance')::bigint INTO bal FROM acc WHERE doc->>'email' = a;
  IF bal IS NULL OR bal < v THEN RETURN 0; END IF;
  UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint - v)) WHERE doc->>'email' = a;
  UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint + v)) WHERE doc->>'email' = b;
  RETURN 1;
END $$;
SQL
    ;;
esac
cat > "$WORK/transfer.sql" <<'SQL'
\set a random(1, 10000)
\set b random(1, 10000)
\startpipeline
BEGIN;
UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint - 5)) WHERE id = :a AND (doc->>'balance')::bigint >= 5;
UPDATE acc SET doc = jsonb_set(doc, '{balance}', to_jsonb((doc->>'balance')::bigint + 5)) WHERE id = :b;
COMMIT;
\endpipeline
SQL
printf '\\set a random(1, 10000)\nSELECT doc FROM acc WHERE id = :a;\n' > "$WORK/read.sql"
printf "INSERT INTO docs(doc) VALUES ('%s');\n" "$DOC" > "$WORK/insert.sql"
cat > "$WORK/transfer-email.sql" <<'SQL'
\set a random(1, 10000)
\set b random(1, 10000)
SELECT transfer_email('user' || :a || '@example.com', 'user' || :b || '@example.com', 5);
SQL
cat > "$WORK/range.sql" <<'SQL'
\set x random(1, 9980)
SELECT doc FROM acc WHERE (doc->>'rank')::int >= :x AND (doc->>'rank')::int < :x + 20;
SQL

RVERSION=$(redis-server --version | awk '{print $3}' | cut -d= -f2)
mkdir -p "$WORK/redis"
redis-server --port $RPORT --bind 127.0.0.1 --dir "$WORK/redis" --appendonly yes --appendfsync always --save "" \
  --daemonize yes --logfile "$WORK/redis.log"
for _ in $(seq 50); do redis-cli -p $RPORT ping >/dev/null 2>&1 && break; sleep 0.1; done
R=(redis-cli -p $RPORT)
RPID=$("${R[@]}" info server | awk -F: '/^process_id/ {print $2}' | tr -d '\r')
"${R[@]}" EVAL "for i=0,9999 do redis.call('SET', 'acc:' .. string.format('%012d', i), cjson.encode({owner='user' .. i, balance=1000000})) end return 1" 0 >/dev/null
SHA=$("${R[@]}" SCRIPT LOAD "local a = cjson.decode(redis.call('GET', KEYS[1])) local b = cjson.decode(redis.call('GET', KEYS[2])) local v = tonumber(ARGV[1]) if a.balance < v then return 0 end a.balance = a.balance - v b.balance = b.balance + v redis.call('SET', KEYS[1], cjson.encode(a)) redis.call('SET', KEYS[2], cjson.encode(b)) return 1")

echo "servers: ParenDB $(build/parendb version 2>/dev/null | head -1) (sync full; parendb: --threads $(nproc), the default; parendb-t1: --threads 1), PostgreSQL $PGVERSION, Redis $RVERSION"

# ------------------------------------------------------------------ one cell
parendb_run() {  # label port pid workload conns
  local before out tps p50 p99 waits
  before=$(server_ticks "$3")
  # shellcheck disable=SC2086
  out=$(build/bench/parendb_load --port "$2" --seconds "$SECONDS_PER" --accounts 10000 --workloads "$4" --connections "$5" $LOAD_FLAGS |
    awk 'NR>1 {print $3, $4, $5, $7}')
  read -r tps p50 p99 waits <<< "$out"
  row "$1" "$4" "$5" "$tps" "$p50" "$p99" "$waits" "$(cpu_per_txn "$before" "$(server_ticks "$3")" "$((tps * SECONDS_PER))")"
}
parendb_cell() { parendb_run parendb $PPORT "$PPID_SERVER" "$@"; }
parendb1_cell() { parendb_run parendb-t1 $P1PORT "$P1PID_SERVER" "$@"; }

pg_cell() {  # workload conns
  local w=$1 c=$2 out tps pct before pm
  rm -f "$WORK"/pglog*
  pm=$(head -1 "$WORK/pg/postmaster.pid")
  before=$(server_ticks "$pm")
  out=$(cd "$WORK" && "$PGBIN/pgbench" -h 127.0.0.1 -p $PGPORT -U postgres -n -M prepared -c "$c" -j $((c < 4 ? c : 4)) \
    -T "$SECONDS_PER" --max-tries=10 -f "$w.sql" --log --log-prefix=pglog postgres 2>&1)
  tps=$(echo "$out" | awk '/^tps/ {printf "%.0f", $3}')
  pct=$(cat "$WORK"/pglog* | awk '{print $3/1000}' | sort -n | awk '{a[NR]=$1} END {printf "%.3f %.3f", a[int(NR*0.5)], a[int(NR*0.99)]}')
  row postgres "$w" "$c" "$tps" $pct - "$(cpu_per_txn "$before" "$(server_ticks "$pm")" "$((tps * SECONDS_PER))")"
}

# redis-benchmark counts requests, not seconds: each count is sized to take
# about SECONDS_PER at this machine's rates (2026-12-07: ~13,000 transfers,
# ~45,000 reads and ~25,000 inserts a second at 64 connections), so that a
# Redis cell covers as much of its background work (AOF rewrites, whose
# child's CPU is counted once reaped) as a ParenDB cell does of its
# checkpoints. At 25,000 inserts a cell lasted one second.
redis_cell() {  # workload conns
  local w=$1 c=$2 n csv
  case $w in
    transfer) n=$((c == 1 ? 3000 : 40000)); set -- EVALSHA "$SHA" 2 acc:__rand_int__ acc:__rand_int__ 5; local r=10000 ;;
    read) n=$((c == 1 ? 30000 : 150000)); set -- GET acc:__rand_int__; local r=10000 ;;
    insert) n=$((c == 1 ? 3000 : 75000)); set -- SET doc:__rand_int__ "$DOC"; local r=1000000000 ;;
    *) return 0 ;;  # no secondary indexes in Redis
  esac
  n=$((n * SECONDS_PER / 3))
  local before
  before=$(server_ticks "$RPID")
  csv=$(redis-benchmark -h 127.0.0.1 -p $RPORT -c "$c" -n "$n" -r "$r" --csv "$@" 2>/dev/null | tail -1)
  # The command (first field) may hold commas: take the numbers from the end.
  row redis "$w" "$c" $(echo "$csv" | tr -d '"' | awk -F, '{printf "%.0f %.3f %.3f", $(NF-6), $(NF-3), $(NF-1)}') - \
    "$(cpu_per_txn "$before" "$(server_ticks "$RPID")" "$n")"
}

# ------------------------------------------------------------------- sweep
# Who goes first in a cell rotates from round to round: a system's
# background work (Redis's AOF rewrite, PostgreSQL's checkpoints, ParenDB's)
# spills into whatever runs next, and no one should always be next.
read -r -a SYS <<< "$SYSTEMS"
for round in $(seq "$ROUNDS"); do
  # Round r starts with system r (mod n), and every other round runs them backwards.
  k=$(( (round - 1) % ${#SYS[@]} ))
  rotated=("${SYS[@]:k}" "${SYS[@]:0:k}")
  if (( round % 2 == 0 )); then order=$(printf '%s\n' "${rotated[@]}" | tac | xargs); else order="${rotated[*]}"; fi
  echo "== round $round of $ROUNDS (order: $order)"
  for w in $WORKLOADS; do
    for c in $CONNS; do
      for system in $order; do "${system}_cell" "$w" "$c"; done
    done
  done
done

echo
echo "== summary: median throughput (txn/s) of $ROUNDS rounds, with that run's p50/p99 latency (ms) and server CPU per transaction (us)"
printf '%-10s %-14s %5s %10s %9s %9s %10s %11s\n' server workload conns "txn/s" "p50 ms" "p99 ms" "lock waits" "CPU us/txn"
sort -b -k2,2 -k3,3n -k1,1 -k4,4n "$RESULTS" | awk '
  function flush() { if (n > 0) print rows[int((n + 1) / 2)] }
  { key = $1 " " $2 " " $3; if (key != last) { flush(); last = key; n = 0 } rows[++n] = $0 }
  END { flush() }' | tee "$WORK/medians.txt"

# Issue 16's goals, cell by cell, for each ParenDB configuration against
# Redis: throughput at least 1.2x Redis's on reads and 1.5x on transfers and
# inserts, and server CPU per transaction at or below Redis's. Other
# workloads get the ratios without a goal.
if grep -q '^redis ' "$WORK/medians.txt"; then
  echo
  echo "== against Redis (issue 16's goals)"
  awk '
    $1 == "redis" { k = $2 " " $3; rtps[k] = $4; rcpu[k] = $8; order[++n] = k }
    $1 == "parendb" || $1 == "parendb-t1" { k = $2 " " $3; tps[k, $1] = $4; cpu[k, $1] = $8 }
    END {
      split("parendb parendb-t1", configs, " ")
      for (i = 1; i <= n; i++) {
        k = order[i]
        split(k, kw, " "); goal = kw[1] == "read" ? 1.2 : (kw[1] == "transfer" || kw[1] == "insert") ? 1.5 : 0
        for (j = 1; j <= 2; j++) {
          c = configs[j]
          if (!((k, c) in tps) || rtps[k] == 0) continue
          ratio = tps[k, c] / rtps[k]
          line = sprintf("%-14s %5s  %-10s %8d / %8d = %5.3fx", kw[1], kw[2], c, tps[k, c], rtps[k], ratio)
          if (goal > 0) line = line sprintf(" (goal %.1fx: %s)", goal, ratio >= goal ? "met" : "NOT met")
          line = line sprintf("   CPU %5.1f / %5.1f us", cpu[k, c], rcpu[k])
          if (goal > 0) line = line sprintf(" (goal at or below: %s)", cpu[k, c] <= rcpu[k] ? "met" : "NOT met")
          print line
        }
      }
    }' "$WORK/medians.txt"
fi
