# Sourced by benchmark scripts that start servers of their own in $WORK:
# every PID added to PIDS is stopped (SIGTERM, then waited for) and $WORK
# removed when the script exits, however it exits.
#
# wait_port PORT: until something accepts on 127.0.0.1:PORT (10 s at most).
PIDS=()
cleanup_servers() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup_servers EXIT
wait_port() {
  for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.1; done
  echo "port $1 did not open" >&2
  exit 1
}
