#include "engine/engine.h"

#include "doc/json.h"

namespace parendb {

namespace {

// splitmix64's finalizer: spreads every input bit over the whole word.
uint64_t Mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

ResourceId CollectionResource(std::string_view collection) {
  return Mix(std::hash<std::string_view>()(collection));
}

ResourceId DocumentResource(std::string_view collection, const DocId& id) {
  uint64_t h = id.is_int ? Mix(static_cast<uint64_t>(id.i) ^ 0x5bd1e995ULL)
                         : Mix(std::hash<std::string>()(id.s) ^ 0x27d4eb2fULL);
  return Mix(CollectionResource(collection) + 0x9e3779b97f4a7c15ULL * (h | 1)) ^ h;
}

Engine::Engine(EngineOptions options, std::unique_ptr<CommitLog> log)
    : options_(std::move(options)), log_(std::move(log)) {}

Engine::~Engine() = default;

std::shared_ptr<Collection> Engine::FindCollection(std::string_view name) const {
  std::shared_lock lock(catalog_mu_);
  auto it = catalog_.find(name);
  return it == catalog_.end() ? nullptr : it->second;
}

std::vector<std::string> Engine::CollectionNames() const {
  std::shared_lock lock(catalog_mu_);
  std::vector<std::string> names;
  names.reserve(catalog_.size());
  for (const auto& [name, c] : catalog_) names.push_back(name);
  return names;
}

Status Engine::CheckWritable() const {
  if (failed_.load(std::memory_order_acquire)) {
    return Status(ErrorCode::kIo, "the database stopped accepting commits after an I/O failure; restart it");
  }
  return Status::Ok();
}

Status Engine::MakeCollection(const std::string& name) {
  Status st = CheckWritable();
  if (!st.ok()) return st;
  std::lock_guard commit(commit_mu_);
  {
    std::shared_lock lock(catalog_mu_);
    if (catalog_.count(name) != 0) return Status(ErrorCode::kCollectionExists, "collection " + name + " already exists");
  }
  std::vector<LogRecord> rec(1);
  rec[0].kind = LogRecord::Kind::kMakeCollection;
  rec[0].collection = name;
  st = log_->Commit(rec);
  if (!st.ok()) {
    failed_.store(true, std::memory_order_release);
    return st;
  }
  std::unique_lock lock(catalog_mu_);
  catalog_.emplace(name, std::make_shared<Collection>(name));
  return Status::Ok();
}

Status Engine::DropCollection(const std::string& name) {
  Status st = CheckWritable();
  if (!st.ok()) return st;
  // A drop is a tiny transaction holding the collection's strongest lock,
  // so it never pulls a collection from under a live transaction.
  LockManager::Txn txn(NewOwnerId());
  std::vector<LockTarget> target{LockTarget{CollectionResource(name), LockMode::kExclusiveBlocking, false}};
  if (!locks_.TryAcquire(&txn, target)) {
    return Status(ErrorCode::kConflict, "collection " + name + " is in use by a live transaction");
  }
  std::lock_guard commit(commit_mu_);
  std::shared_ptr<Collection> victim;
  {
    std::shared_lock lock(catalog_mu_);
    auto it = catalog_.find(name);
    if (it != catalog_.end()) victim = it->second;
  }
  if (victim == nullptr) {
    locks_.Release(&txn);
    return Status(ErrorCode::kUnknownCollection, "no collection named " + name);
  }
  std::vector<LogRecord> rec(1);
  rec[0].kind = LogRecord::Kind::kDropCollection;
  rec[0].collection = name;
  st = log_->Commit(rec);
  if (!st.ok()) {
    failed_.store(true, std::memory_order_release);
    locks_.Release(&txn);
    return st;
  }
  {
    std::unique_lock lock(catalog_mu_);
    catalog_.erase(name);
  }
  victim->MarkDropped();
  documents_.fetch_sub(victim->live_documents(), std::memory_order_relaxed);
  locks_.Release(&txn);
  return Status::Ok();
}

Status Engine::Commit(std::vector<Write>& writes) {
  Status st = CheckWritable();
  if (!st.ok()) return st;
  if (!writes.empty()) {
    std::vector<LogRecord> records(writes.size());
    for (size_t i = 0; i < writes.size(); ++i) {
      LogRecord& r = records[i];
      r.kind = writes[i].doc ? LogRecord::Kind::kPut : LogRecord::Kind::kDelete;
      r.collection = writes[i].collection->name();
      r.id = writes[i].id;
      r.doc = writes[i].doc;
    }
    st = log_->Commit(records);
    if (!st.ok()) {
      failed_.store(true, std::memory_order_release);
      return Status(ErrorCode::kIo, "the commit could not be made durable (" + st.message() +
                                        "); nothing was applied and the database accepts no more commits until restarted");
    }
  }
  Install(writes);
  counters_.commits.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void Engine::Install(std::vector<Write>& writes) {
  if (writes.empty()) return;
  std::lock_guard commit(commit_mu_);
  uint64_t ts = snapshots_.NextCommitTs();
  std::vector<uint64_t> live = snapshots_.Live();
  live.push_back(ts - 1);  // a snapshot taken from now until Publish sees ts-1
  int64_t delta = 0;
  for (Write& w : writes) delta += w.collection->Install(w.id, std::move(w.doc), ts, live);
  documents_.fetch_add(delta, std::memory_order_relaxed);
  snapshots_.Publish(ts);
}

std::string Engine::StatsJson() const {
  const LockStats& ls = locks_.stats();
  const LogStats& wal = log_->stats();
  auto num = [](uint64_t v) { return Value(static_cast<int64_t>(v)); };
  Object o;
  o.push_back({"commits", num(counters_.commits.load())});
  o.push_back({"aborts", num(counters_.aborts.load())});
  o.push_back({"wal_syncs", num(wal.syncs.load())});
  o.push_back({"wal_bytes", num(wal.bytes.load())});
  o.push_back({"lock_waits", num(ls.waits.load())});
  o.push_back({"lock_timeouts", num(ls.timeouts.load())});
  o.push_back({"deadlocks", num(ls.deadlocks.load())});
  o.push_back({"active_transactions", Value(static_cast<int64_t>(counters_.active_transactions.load()))});
  o.push_back({"connections", Value(static_cast<int64_t>(counters_.connections.load()))});
  o.push_back({"documents", num(documents_.load())});
  o.push_back({"collections", num(CollectionNames().size())});
  o.push_back({"connections_total", num(counters_.connections_total.load())});
  o.push_back({"statements", num(counters_.statements.load())});
  o.push_back({"live_snapshots", num(snapshots_.live_count())});
  std::string out;
  AppendJson(Value(std::move(o)), &out);
  return out;
}

}  // namespace parendb
