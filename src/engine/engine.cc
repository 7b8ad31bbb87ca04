#include "engine/engine.h"

#include <future>

#include "base/mix.h"
#include "doc/json.h"
#include "wal/log_format.h"

namespace parendb {

ResourceId CollectionResource(std::string_view collection) {
  return Mix64(std::hash<std::string_view>()(collection));
}

ResourceId DocumentResource(ResourceId collection, const DocId& id) {
  uint64_t h = id.is_int ? Mix64(static_cast<uint64_t>(id.i) ^ 0x5bd1e995ULL)
                         : Mix64(std::hash<std::string>()(id.s) ^ 0x27d4eb2fULL);
  return Mix64(collection + 0x9e3779b97f4a7c15ULL * (h | 1)) ^ h;
}

ResourceId DocumentResource(std::string_view collection, const DocId& id) {
  return DocumentResource(CollectionResource(collection), id);
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

Status Engine::LogCatalogChange(LogRecord record, const std::function<void()>& apply) {
  std::promise<Status> result;
  std::vector<LogRecord> records{std::move(record)};
  log_->Append(records, [&](Status st, uint64_t lsn) {
    if (st.ok()) {
      std::lock_guard<SpinMutex> commit(snapshots_.mutex());
      apply();
      applied_lsn_ = lsn;
    } else {
      failed_.store(true, std::memory_order_release);
    }
    result.set_value(std::move(st));
  });
  return result.get_future().get();
}

Status Engine::MakeCollection(const std::string& name) {
  Status st = CheckWritable();
  if (!st.ok()) return st;
  std::lock_guard ops(catalog_ops_mu_);
  if (FindCollection(name) != nullptr) {
    return Status(ErrorCode::kCollectionExists, "collection " + name + " already exists");
  }
  LogRecord rec;
  rec.kind = LogRecord::Kind::kMakeCollection;
  rec.collection = name;
  return LogCatalogChange(std::move(rec), [&] {
    std::unique_lock lock(catalog_mu_);
    catalog_.emplace(name, std::make_shared<Collection>(name));
  });
}

Status Engine::DropCollection(const std::string& name) {
  Status st = CheckWritable();
  if (!st.ok()) return st;
  std::lock_guard ops(catalog_ops_mu_);
  // Checked first, so a drop of a name that never existed leaves nothing
  // in the lock table (collection stripes stay there once used).
  if (FindCollection(name) == nullptr) return Status(ErrorCode::kUnknownCollection, "no collection named " + name);
  // A drop is a tiny transaction holding the collection's strongest lock,
  // so it never pulls a collection from under a live transaction.
  LockManager::Txn txn(NewOwnerId());
  std::vector<LockTarget> target{LockTarget{CollectionResource(name), LockMode::kExclusiveBlocking}};
  if (!locks_.TryAcquire(&txn, target)) {
    return Status(ErrorCode::kConflict, "collection " + name + " is in use by a live transaction");
  }
  std::shared_ptr<Collection> victim = FindCollection(name);
  if (victim == nullptr) {
    locks_.Release(&txn);
    return Status(ErrorCode::kUnknownCollection, "no collection named " + name);
  }
  LogRecord rec;
  rec.kind = LogRecord::Kind::kDropCollection;
  rec.collection = name;
  st = LogCatalogChange(std::move(rec), [&] {
    {
      std::unique_lock lock(catalog_mu_);
      catalog_.erase(name);
    }
    victim->MarkDropped();
    counters_.Add(EngineCounters::kDocuments, -static_cast<int64_t>(victim->live_documents()));
  });
  locks_.Release(&txn);
  return st;
}

void Engine::CommitAsync(std::vector<Write> writes, std::function<void(Status)> done) {
  Status st = CheckWritable();
  if (!st.ok()) return done(std::move(st));
  if (writes.empty()) {
    counters_.Add(EngineCounters::kCommits);
    return done(Status::Ok());
  }
  std::vector<LogRecord> records(writes.size());
  for (size_t i = 0; i < writes.size(); ++i) {
    LogRecord& r = records[i];
    r.kind = writes[i].doc ? LogRecord::Kind::kPut : LogRecord::Kind::kDelete;
    r.collection = writes[i].collection->name();
    r.id = writes[i].id;
    r.doc = writes[i].doc;
  }
  auto pending = std::make_shared<std::vector<Write>>(std::move(writes));
  log_->Append(records, [this, pending, done = std::move(done)](Status st, uint64_t lsn) {
    if (!st.ok()) {
      failed_.store(true, std::memory_order_release);
      return done(Status(ErrorCode::kIo, "the commit could not be made durable (" + st.message() +
                                             "); nothing was applied and the database accepts no more commits "
                                             "until it is restarted"));
    }
    Install(*pending, lsn);
    counters_.Add(EngineCounters::kCommits);
    done(Status::Ok());
  });
}

void Engine::Install(std::vector<Write>& writes, uint64_t lsn) {
  // Versions the commit makes unreachable are freed after the commit mutex
  // is let go: freeing a document is work no other commit needs to wait for.
  thread_local std::vector<DocRef> dropped;
  {
    // One commit at a time, and no snapshot is taken while versions are
    // pruned and the commit published.
    std::lock_guard<SpinMutex> commit(snapshots_.mutex());
    uint64_t ts = snapshots_.NextCommitTs();
    thread_local std::vector<uint64_t> live;
    snapshots_.LiveLocked(&live);
    int64_t delta = 0;
    for (Write& w : writes) delta += w.collection->Install(w.id, std::move(w.doc), ts, live, &dropped);
    if (delta != 0) counters_.Add(EngineCounters::kDocuments, delta);
    if (lsn > applied_lsn_) applied_lsn_ = lsn;  // in memory lsn is 0: leave the line clean
    snapshots_.Publish(ts);
  }
  dropped.clear();
}

Status Engine::PrepareReplay(const DecodedRecord& r, DocRef* doc) {
  if (r.kind != LogRecord::Kind::kPut) return Status::Ok();
  // Our own canonical text, protected by the record's CRC: kept as it is and
  // parsed only when something needs the tree.
  *doc = StoredDoc::FromTrustedJson(r.doc);
  return Status::Ok();
}

Status Engine::ApplyReplay(const DecodedRecord& r, DocRef doc, uint64_t lsn) {
  std::string name(r.collection);
  switch (r.kind) {
    case LogRecord::Kind::kMakeCollection: {
      std::unique_lock lock(catalog_mu_);
      auto [it, fresh] = catalog_.emplace(name, std::make_shared<Collection>(name));
      if (r.number > 0) it->second->ReserveId(r.number - 1);
      break;
    }
    case LogRecord::Kind::kDropCollection: {
      std::unique_lock lock(catalog_mu_);
      auto it = catalog_.find(name);
      if (it != catalog_.end()) {
        counters_.Add(EngineCounters::kDocuments, -static_cast<int64_t>(it->second->live_documents()));
        it->second->MarkDropped();
        catalog_.erase(it);
      }
      break;
    }
    case LogRecord::Kind::kPut:
    case LogRecord::Kind::kDelete: {
      std::shared_ptr<Collection> c = FindCollection(name);
      if (c == nullptr) return Status(ErrorCode::kIo, "record for unknown collection " + name);
      if (r.id.is_int) c->ReserveId(r.id.i);
      counters_.Add(EngineCounters::kDocuments, c->InstallRecovered(r.id, std::move(doc)));
      break;
    }
    case LogRecord::Kind::kEnd:
      break;
  }
  applied_lsn_ = std::max(applied_lsn_, lsn);
  return Status::Ok();
}

Engine::CheckpointView Engine::BeginCheckpoint() {
  CheckpointView view;
  std::lock_guard<SpinMutex> commit(snapshots_.mutex());  // no commit half-installed
  view.ts = snapshots_.AcquireLocked();
  view.lsn = applied_lsn_;
  std::shared_lock lock(catalog_mu_);
  for (const auto& [name, c] : catalog_) view.collections.push_back(c);
  return view;
}

std::string Engine::StatsJson() const {
  const LockStats& ls = locks_.stats();
  const LogStats& wal = log_->stats();
  auto num = [](uint64_t v) { return Value(static_cast<int64_t>(v)); };
  Object o;
  auto count = [&](EngineCounters::Counter c) { return Value(counters_.Get(c)); };
  o.push_back({"commits", count(EngineCounters::kCommits)});
  o.push_back({"aborts", count(EngineCounters::kAborts)});
  o.push_back({"wal_syncs", num(wal.syncs.load())});
  o.push_back({"wal_bytes", num(wal.bytes.load())});
  o.push_back({"lock_waits", num(ls.waits.load())});
  o.push_back({"lock_timeouts", num(ls.timeouts.load())});
  o.push_back({"deadlocks", num(ls.deadlocks.load())});
  o.push_back({"active_transactions", count(EngineCounters::kActiveTransactions)});
  o.push_back({"connections", count(EngineCounters::kConnections)});
  o.push_back({"documents", count(EngineCounters::kDocuments)});
  o.push_back({"collections", num(CollectionNames().size())});
  uint64_t versions = 0;
  {
    std::shared_lock lock(catalog_mu_);
    for (const auto& [name, c] : catalog_) versions += c->versions();
  }
  o.push_back({"versions", num(versions)});
  o.push_back({"connections_total", count(EngineCounters::kConnectionsTotal)});
  o.push_back({"statements", count(EngineCounters::kStatements)});
  o.push_back({"live_snapshots", num(snapshots_.live_count())});
  std::string out;
  AppendJson(Value(std::move(o)), &out);
  return out;
}

}  // namespace parendb
