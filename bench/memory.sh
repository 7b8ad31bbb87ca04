#!/usr/bin/env bash
# Resident memory per document (issue 16's measure): DOCUMENTS documents of
# ~200 bytes (bench/lib/documents.py) imported into a server, its resident
# set (VmRSS, less an empty server's) per document right after loading,
# after a full scan (an export to /dev/null), after a scan that tests a
# condition on every document, and after a restart (a clean stop writes a
# checkpoint; the time to reopen is reported too), each also as a multiple
# of the documents' JSON text.
#
#   bench/memory.sh [DOCUMENTS]   (default 1000000)
#   PARENDB=/tmp/old/parendb bench/memory.sh   (that binary, unbuilt)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
WORK=$(mktemp -d /tmp/parendb-memory-XXXXXX)
PORT=17460
SERVER=
trap '[ -n "$SERVER" ] && kill -9 "$SERVER" 2>/dev/null; rm -rf "$WORK"' EXIT
# PARENDB=/path/to/parendb measures that binary instead (a baseline build).
BIN=${PARENDB:-build/parendb}
[ -n "${PARENDB:-}" ] || scripts/build build RelWithDebInfo >/dev/null

python3 bench/lib/documents.py "$N" > "$WORK/docs.jsonl"
BYTES=$(stat -c %s "$WORK/docs.jsonl")
rss() { awk '/^VmRSS/ {print $2 * 1024}' "/proc/$SERVER/status"; }
start() {
  local t0
  t0=$(date +%s.%N)
  "$BIN" serve --data "$WORK/db" --port $PORT --log-level warn &
  SERVER=$!
  until (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do sleep 0.02; done
  OPENED=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}
stop() { kill -TERM "$SERVER"; wait "$SERVER" || true; SERVER=; }
report() {  # label rss
  awk -v l="$1" -v r="$2" -v base="$BASE" -v n="$N" -v b="$BYTES" \
    'BEGIN { d = (r - base) / n; printf "%-22s %8.0f MB resident  %6.0f bytes/document  %5.2fx the JSON\n", l, r / 1e6, d, d / (b / n) }'
}

start
BASE=$(rss)
echo "documents: $N, $((BYTES / N)) bytes of JSON each on average; an empty server: $((BASE >> 20)) MiB resident"
"$BIN" import --coll people --create --connect 127.0.0.1:$PORT "$WORK/docs.jsonl" 2>/dev/null
report "after loading" "$(rss)"
"$BIN" export --coll people --connect 127.0.0.1:$PORT --out /dev/null 2>/dev/null
report "after a full scan" "$(rss)"
condition_scan() {  # every document's (f age) is read; none matches
  python3 - "$PORT" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"(open t)(selects a t r (coll people) (< (f age) -1))(acquire t)(close t)")
got = b""
while got.count(b"\n") < 4:
    got += s.recv(4096)
assert b"(ok acquired)" in got, got
PY
}
condition_scan
report "after a condition scan" "$(rss)"
stop
start
echo "reopened in $OPENED s (checkpoint written at the clean stop)"
report "after a restart" "$(rss)"
"$BIN" export --coll people --connect 127.0.0.1:$PORT --out /dev/null 2>/dev/null
report "restart + full scan" "$(rss)"
stop
