#!/usr/bin/env bash
# Bulk replacement: one transaction whose (updateall a) replaces every
# document of a collection (~250 bytes each) with a ~230-byte document, then
# commits. Prints, per round, the server's CPU for the transaction
# (bench/lib/server_cpu.sh) and, at the end, the server's peak resident
# memory. Checkpoints are off, so that none lands in a round.
#
#   bench/updateall.sh [DOCUMENTS] [ROUNDS] [BINARY...]
#       (defaults 200000, 3 and build/parendb). Several binaries (an old
#       build beside a new one) run one after the other, each with its own
#       server, twice over, so that the host's noise falls on both.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-200000}
ROUNDS=${2:-3}
shift $(( $# < 2 ? $# : 2 ))
BINS=("$@")
if [ ${#BINS[@]} -eq 0 ]; then
  scripts/build build RelWithDebInfo >/dev/null
  BINS=(build/parendb)
fi
WORK=$(mktemp -d /tmp/parendb-updateall-XXXXXX)
source bench/lib/servers.sh
source bench/lib/server_cpu.sh
PORT=17450

python3 -c '
import json, sys
for i in range(int(sys.argv[1])):
    print(json.dumps({"kind": "event", "n": i, "tags": ["a", "b"], "body": "lorem ipsum dolor sit amet " * 5}))' "$N" > "$WORK/docs.jsonl"
DOC='{"kind": "replaced", "n": 1, "tags": ["c", "d", "e"], "nested": {"x": 1.5, "y": [1, 2, 3]}, "body": "lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet"}'

run() {  # binary
  local bin=$1 pid before after out
  rm -rf "$WORK/db"
  "$bin" serve --data "$WORK/db" --port $PORT --log-level warn --checkpoint-mb 1000000 &
  pid=$!
  PIDS+=("$pid")
  wait_port $PORT
  echo "(mkcoll d)" | "$bin" console --connect 127.0.0.1:$PORT >/dev/null 2>&1
  "$bin" import --coll d "$WORK/docs.jsonl" --connect 127.0.0.1:$PORT >/dev/null 2>&1
  for round in $(seq "$ROUNDS"); do
    before=$(server_ticks "$pid")
    out=$(printf '(open t)(selects a t wb (coll d) true)(acquire t)(updateall a) %s\n(commit t)\n' "$DOC" |
      "$bin" console --connect 127.0.0.1:$PORT | sed -n 4p)
    after=$(server_ticks "$pid")
    [ "$out" = "(ok updated $N)" ] || { echo "$bin: $out" >&2; exit 1; }
    printf '%-28s round %d  %6d ms of server CPU\n' "$bin" "$round" "$(( (after - before) * 1000 / $(getconf CLK_TCK) ))"
  done
  printf '%-28s peak resident memory %s\n' "$bin" "$(awk '/VmHWM/ {print $2, $3}' /proc/$pid/status)"
  kill -TERM "$pid"
  wait "$pid" 2>/dev/null || true
}

for pass in 1 2; do
  for bin in "${BINS[@]}"; do run "$bin"; done
  [ ${#BINS[@]} -gt 1 ] || break
done
