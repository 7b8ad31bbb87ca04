# Sourced by the benchmark scripts: a server's CPU time, to report CPU per
# unit of work beside throughput (the scheduler of a shared host decides
# who wins on throughput; CPU per transaction says what each costs).
#
# server_ticks PID: clock ticks of user + system time of the process, its
# children that exited (cutime, cstime: PostgreSQL's backends) and its live
# children (PostgreSQL's background workers), from /proc.
# cpu_per_txn BEFORE AFTER N: microseconds of CPU per unit between two
# server_ticks readings.
TICK=$(getconf CLK_TCK)
server_ticks() {
  local t=0 pid
  for pid in "$1" $(pgrep -P "$1" || true); do
    t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
cpu_per_txn() {
  awk -v a="$1" -v b="$2" -v n="$3" -v tick="$TICK" 'BEGIN { if (n > 0) printf "%.1f", (b - a) / tick / n * 1e6; else print "-" }'
}
