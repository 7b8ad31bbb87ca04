#include "metrics/prometheus.h"

#include <unistd.h>

#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <string_view>

#include "engine/engine.h"
#include "eval/statement.h"

namespace parendb {
namespace {

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void Header(std::string_view name, std::string_view type, std::string_view help) {
    *out_ += "# HELP ";
    *out_ += name;
    *out_ += ' ';
    *out_ += help;
    *out_ += "\n# TYPE ";
    *out_ += name;
    *out_ += ' ';
    *out_ += type;
    *out_ += '\n';
  }
  void Sample(std::string_view name, std::string_view labels, double value) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, value);  // the shortest text that reads back exactly
    Line(name, labels, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
  }
  void Sample(std::string_view name, std::string_view labels, int64_t value) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, value);
    Line(name, labels, std::string_view(buf, static_cast<size_t>(r.ptr - buf)));
  }
  void Metric(std::string_view name, std::string_view type, std::string_view help, int64_t value) {
    Header(name, type, help);
    Sample(name, "", value);
  }
  // A histogram's samples; `scale` turns observed units into the metric's
  // (1e-9 for nanoseconds to seconds).
  void Hist(std::string_view name, std::string labels, const Histogram::Snapshot& h, double scale) {
    std::string prefix = labels.empty() ? "" : labels + ",";
    std::string bucket = std::string(name) + "_bucket";
    for (size_t b = 0; b < h.bounds.size(); ++b) {
      char le[48];
      std::snprintf(le, sizeof le, "le=\"%g\"", static_cast<double>(h.bounds[b]) * scale);
      Sample(bucket, prefix + le, static_cast<int64_t>(h.cumulative[b]));
    }
    Sample(bucket, prefix + "le=\"+Inf\"", static_cast<int64_t>(h.count()));
    Sample(std::string(name) + "_sum", labels, static_cast<double>(h.sum) * scale);
    Sample(std::string(name) + "_count", labels, static_cast<int64_t>(h.count()));
  }

 private:
  void Line(std::string_view name, std::string_view labels, std::string_view value) {
    *out_ += name;
    if (!labels.empty()) {
      *out_ += '{';
      *out_ += labels;
      *out_ += '}';
    }
    *out_ += ' ';
    *out_ += value;
    *out_ += '\n';
  }

  std::string* out_;
};

// The metric name and help of each (stats) counter, in its order.
struct StatMetric {
  int64_t EngineStats::*field;
  std::string_view name;
  std::string_view type;
  std::string_view help;
};
constexpr StatMetric kStatMetrics[] = {
    {&EngineStats::commits, "parendb_commits_total", "counter", "Transactions committed."},
    {&EngineStats::aborts, "parendb_aborts_total", "counter", "Transactions closed without committing (close, or an error)."},
    {&EngineStats::wal_syncs, "parendb_wal_syncs_total", "counter", "Syncs of the write-ahead log to stable storage."},
    {&EngineStats::wal_bytes, "parendb_wal_written_bytes_total", "counter", "Bytes appended to the write-ahead log."},
    {&EngineStats::lock_waits, "parendb_lock_waits_total", "counter", "Acquires that had to wait for a lock."},
    {&EngineStats::lock_timeouts, "parendb_lock_timeouts_total", "counter", "Acquires whose locks were not granted in time."},
    {&EngineStats::deadlocks, "parendb_deadlocks_total", "counter", "Acquires refused because waiting would deadlock."},
    {&EngineStats::active_transactions, "parendb_active_transactions", "gauge", "Transactions open now."},
    {&EngineStats::connections, "parendb_connections", "gauge", "Sessions open now (server connections and embedded sessions)."},
    {&EngineStats::documents, "parendb_documents", "gauge", "Documents in every collection, as last committed."},
    {&EngineStats::collections, "parendb_collections", "gauge", "Collections."},
    {&EngineStats::versions, "parendb_document_versions", "gauge", "Document versions held, old ones kept for open snapshots included."},
    {&EngineStats::connections_total, "parendb_connections_total", "counter", "Sessions opened since the start."},
    {&EngineStats::statements, "parendb_statements_total", "counter", "Statements read (counted per session in batches of 64)."},
    {&EngineStats::live_snapshots, "parendb_live_snapshots", "gauge", "Snapshots held by open transactions."},
};

// Resident memory and CPU time of this process, from /proc/self.
void ProcessMetrics(Writer* w) {
  long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  if (statm >> size >> resident) {
    w->Metric("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", resident * page);
    w->Metric("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.", size * page);
  }
  std::ifstream stat("/proc/self/stat");
  std::string line;
  if (std::getline(stat, line)) {
    // Fields after the command's closing ')': state is field 3; utime 14, stime 15, starttime 22.
    size_t close = line.rfind(')');
    unsigned long long utime = 0, stime = 0, start = 0;
    if (close != std::string::npos &&
        std::sscanf(line.c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu",
                    &utime, &stime, &start) == 3) {
      w->Header("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.");
      w->Sample("process_cpu_seconds_total", "", static_cast<double>(utime + stime) / static_cast<double>(ticks));
      double boot = 0;
      std::ifstream proc_stat("/proc/stat");
      for (std::string l; std::getline(proc_stat, l);) {
        if (l.rfind("btime ", 0) == 0) boot = std::stod(l.substr(6));
      }
      w->Header("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.");
      w->Sample("process_start_time_seconds", "", boot + static_cast<double>(start) / static_cast<double>(ticks));
    }
  }
}

}  // namespace

std::string RenderPrometheus(const Engine& engine) {
  std::string out;
  out.reserve(16384);
  Writer w(&out);
  w.Header("parendb_build_info", "gauge", "Always 1; the version is a label.");
  w.Sample("parendb_build_info", "version=\"" PARENDB_VERSION "\"", int64_t{1});
  EngineStats st = engine.Stats();
  for (const StatMetric& m : kStatMetrics) w.Metric(m.name, m.type, m.help, st.*m.field);
  if (ClusterRole* cluster = engine.cluster()) {
    ClusterRole::Metrics c = cluster->GetMetrics();
    w.Header("parendb_cluster_role", "gauge", "1 for this node's Raft role (leader, follower, candidate).");
    w.Sample("parendb_cluster_role", "role=\"" + c.role + "\"", int64_t{1});
    w.Metric("parendb_cluster_term", "gauge", "This node's Raft term.", c.term);
    w.Metric("parendb_cluster_applied_index", "gauge", "The Raft index of the last entry this node applied.", c.applied);
    w.Metric("parendb_cluster_leader_id", "gauge", "The node this node follows (0: none known).", c.leader_id);
    w.Metric("parendb_cluster_members", "gauge", "Members of the configuration.", c.members);
    for (const ClusterRole::Metrics::Counter& k : ClusterRole::Metrics::kCounters) {
      w.Metric("parendb_cluster_" + std::string(k.name) + "_total", "counter", k.help, c.*k.field);
    }
  }
  const double ns = 1e-9;
  w.Header("parendb_wal_sync_duration_seconds", "histogram", "Time each sync of the write-ahead log took.");
  w.Hist("parendb_wal_sync_duration_seconds", "", engine.log_stats().sync_ns.Collect(), ns);
  w.Header("parendb_wal_group_commits", "histogram",
           "Commits written to the log together (and, with --sync full, made durable by one sync).");
  w.Hist("parendb_wal_group_commits", "", engine.log_stats().group_commits.Collect(), 1);
  w.Header("parendb_lock_wait_duration_seconds", "histogram",
           "Time each acquire that waited for locks spent waiting (granted or timed out).");
  w.Hist("parendb_lock_wait_duration_seconds", "", engine.lock_stats().wait_ns.Collect(), ns);
  if (const EngineMetrics* m = engine.metrics()) {
    w.Header("parendb_commit_duration_seconds", "histogram",
             "From a commit statement to its answer: installing, logging and the sync.");
    w.Hist("parendb_commit_duration_seconds", "", m->commit_ns.Collect(), ns);
    w.Header("parendb_statement_duration_seconds", "histogram",
             "From a statement's evaluation to its answer, lock waits and syncs included, by statement.");
    for (size_t k = 0; k < kStatementKindCount; ++k) {
      Histogram::Snapshot h = m->statement_ns[k]->Collect();
      if (h.count() == 0) continue;  // statements never sent: no series
      std::string label = "statement=\"" + std::string(StatementName(static_cast<StatementKind>(k))) + "\"";
      w.Hist("parendb_statement_duration_seconds", label, h, ns);
    }
    w.Metric("parendb_received_bytes_total", "counter", "Bytes received from clients.",
             m->traffic.Sum(EngineMetrics::kBytesIn));
    w.Metric("parendb_sent_bytes_total", "counter", "Bytes sent to clients.", m->traffic.Sum(EngineMetrics::kBytesOut));
  }
  ProcessMetrics(&w);
  return out;
}

}  // namespace parendb
