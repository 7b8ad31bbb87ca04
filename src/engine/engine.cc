#include "engine/engine.h"

#include <cstdio>
#include <future>

#include "base/mix.h"
#include "engine/fill_index.h"
#include "doc/json.h"
#include "index/key.h"
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

ResourceId IndexResource(std::string_view collection, const Path& path) {
  return Mix64(CollectionResource(collection) ^ Mix64(std::hash<std::string>()(PathToString(path)) + 0x7f4a7c15ULL));
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

Status Engine::CheckCatalogWritable() const {
  Status st = CheckWritable();
  // Catalog changes run on the leader once it is current (an index built
  // on a just-elected leader would miss the earlier terms' commits).
  // Commits need no such check here: the log refuses one proposed outside
  // the term its transaction acquired in (CommitLog::AppendIn).
  uint64_t epoch;
  if (st.ok() && cluster_ != nullptr) st = cluster_->AcceptsUpdates(&epoch);
  return st;
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
      st = LogFailure(std::move(st));
    }
    result.set_value(std::move(st));
  });
  return result.get_future().get();
}

Status Engine::MakeCollection(const std::string& name) {
  Status st = CheckCatalogWritable();
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
  Status st = CheckCatalogWritable();
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

void Engine::CommitAsync(std::vector<Write> writes, std::function<void(Status)> done, uint64_t epoch) {
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
  // Index keys are worked out here, on the committer's thread, not under
  // the commit mutex. Its locks keep the newest version stable.
  WorkOutIndexKeys(writes);
  auto pending = std::make_shared<std::vector<Write>>(std::move(writes));
  log_->AppendIn(epoch, records, [this, pending, done = std::move(done)](Status st, uint64_t lsn) {
    if (!st.ok()) return done(LogFailure(std::move(st)));
    Install(*pending, lsn);
    counters_.Add(EngineCounters::kCommits);
    done(Status::Ok());
  });
}

Status Engine::LogFailure(Status st) {
  // A cluster's answers: nothing here is broken, the commit went to (or
  // could not reach) the wrong node or majority.
  if (st.code() == ErrorCode::kNotLeader || st.code() == ErrorCode::kUnavailable) return st;
  failed_.store(true, std::memory_order_release);
  return Status(ErrorCode::kIo, "the commit could not be made durable (" + st.message() +
                                    "); nothing was applied and the database accepts no more commits "
                                    "until it is restarted");
}

void Engine::WorkOutIndexKeys(std::vector<Write>& writes) {
  for (Write& w : writes) {
    const IndexList& indexes = w.collection->indexes();
    if (indexes.empty()) continue;
    w.replaced = w.collection->Get(w.id, kLatest);
    if (w.keys_unchanged && w.replaced != nullptr) continue;
    w.keys_unchanged = false;
    for (const auto& index : indexes) {
      if (w.doc != nullptr) w.keys.push_back(index->KeyOf(w.doc->view()));
      if (w.replaced != nullptr) w.replaced_keys.push_back(index->KeyOf(w.replaced->view()));
    }
  }
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
    for (Write& w : writes) {
      size_t before = dropped.size();
      delta += w.collection->Install(w.id, std::move(w.doc), ts, live, &dropped);
      const IndexList& indexes = w.collection->indexes();
      if (!indexes.empty()) Reindex(indexes, w, dropped, before);
    }
    if (delta != 0) counters_.Add(EngineCounters::kDocuments, delta);
    if (lsn > applied_lsn_) applied_lsn_ = lsn;  // in memory lsn is 0: leave the line clean
    snapshots_.Publish(ts);
  }
  dropped.clear();
}

// Index entries follow the versions, all before the commit is published:
// the new version's entries are added after it is in its chain, and the
// dropped versions' entries go with them. So while a document keeps one
// version, its only entry is that version's (Collection::Get's `only`),
// and a reader at a snapshot never finds an entry whose version it could
// see under another key without finding the chain longer than one.
void Engine::Reindex(const IndexList& indexes, const Write& w, const std::vector<DocRef>& dropped, size_t first) {
  // The usual update: the version it replaced is dropped and had the same
  // key, so that index's entry stays as it is.
  bool replaced_dropped = false;
  for (size_t d = first; d < dropped.size() && !replaced_dropped; ++d) replaced_dropped = dropped[d] == w.replaced;
  auto unchanged = [&](size_t i) {
    return replaced_dropped && (w.keys_unchanged || (i < w.keys.size() && i < w.replaced_keys.size() &&
                                                     w.keys[i] == w.replaced_keys[i]));
  };
  for (size_t i = 0; i < indexes.size(); ++i) {
    if (unchanged(i)) continue;
    if (w.keys_unchanged) {
      indexes[i]->Add(indexes[i]->KeyOf(w.replaced->view()), w.id);  // the replaced version stays (a snapshot sees it)
    } else if (i < w.keys.size()) {
      indexes[i]->Add(w.keys[i], w.id);
    }
  }
  for (size_t d = first; d < dropped.size(); ++d) {
    bool is_replaced = dropped[d] == w.replaced;
    bool known = is_replaced && w.replaced_keys.size() == indexes.size();
    for (size_t i = 0; i < indexes.size(); ++i) {
      if (is_replaced && unchanged(i)) continue;
      // An older version kept for a snapshot: rare, and worked out here.
      indexes[i]->Remove(known ? w.replaced_keys[i] : indexes[i]->KeyOf(dropped[d]->view()), w.id);
    }
  }
}

Status Engine::LockCollection(LockManager::Txn* txn, const std::string& name, LockMode mode) {
  std::vector<LockTarget> target{LockTarget{CollectionResource(name), mode}};
  std::promise<Status> granted;
  Status why;
  auto make_done = [&]() -> LockManager::Callback {
    return [&granted](Status st) { granted.set_value(std::move(st)); };
  };
  switch (locks_.Acquire(txn, target, options_.lock_timeout, make_done, &why)) {
    case LockManager::Outcome::kGranted: return Status::Ok();
    case LockManager::Outcome::kDenied: return why;
    case LockManager::Outcome::kWaiting: break;
  }
  Status st = granted.get_future().get();
  if (st.code() == ErrorCode::kLockTimeout) {
    st = Status(ErrorCode::kLockTimeout, "collection " + name + " stayed in use by live transactions");
  }
  return st;
}

namespace {

std::string PathJson(const Path& path) {
  std::string out;
  AppendJson(PathToValue(path), &out);
  return out;
}

}  // namespace

// Fills index from every version the collection keeps; for a unique one,
// says whether two documents share a non-null key.
Status FillIndex(const Collection& c, Index* index, const std::function<void(size_t)>& progress) {
  size_t done = 0;
  c.ScanVersions([&](const DocId& id, const DocRef& doc) {
    index->Add(index->KeyOf(doc->view()), id);
    if (++done % 100000 == 0) progress(done);
  });
  if (!index->unique()) return Status::Ok();
  // Only the newest versions count (older ones are history), and the
  // newest of every document is in the entries: walk them in key order, a
  // batch at a time (a copy of every entry would double the build's peak).
  std::vector<Index::Hit> hits;
  Index::Hit prev;
  bool have_prev = false;
  std::string resume;
  do {
    hits.clear();
    index->Collect(KeyRange::All(), false, 1024, &hits, resume);
    for (Index::Hit& h : hits) {
      if (IsNullKey(h.key)) continue;
      DocRef doc = c.Get(h.id, kLatest);
      if (doc == nullptr || index->KeyOf(doc->view()) != h.key) continue;
      if (have_prev && prev.key == h.key && !(prev.id == h.id)) {
        return Status(ErrorCode::kDuplicateKey, "documents " + prev.id.ToString() + " and " + h.id.ToString() + " of " +
                                                    c.name() + " share the value at " + PathToString(index->path()));
      }
      prev = h;
      have_prev = true;
    }
    if (!hits.empty()) {
      resume = hits.back().key;
      AppendEntryId(hits.back().id, &resume);
    }
  } while (hits.size() == 1024);
  return Status::Ok();
}

Status Engine::MakeIndex(const std::string& name, const Path& path, bool unique) {
  Status st = CheckCatalogWritable();
  if (!st.ok()) return st;
  std::string where = PathToString(path) + " of " + name;
  if (path.size() == 1 && !path[0].is_index && path[0].name == "_id") {
    return Status(ErrorCode::kIndexExists, "_id is always indexed");
  }
  // One catalog change at a time: a build holds out mkcoll/rmcoll.
  std::lock_guard ops(catalog_ops_mu_);
  std::shared_ptr<Collection> c = FindCollection(name);
  if (c == nullptr) return Status(ErrorCode::kUnknownCollection, "no collection named " + name);
  if (FindIndex(c->indexes(), path) != nullptr) return Status(ErrorCode::kIndexExists, "an index on " + where + " exists");
  // `r` on the whole collection: readers go on, writers wait for the build.
  LockManager::Txn txn(NewOwnerId());
  st = LockCollection(&txn, name, LockMode::kShared);
  if (!st.ok()) return st;
  auto started = std::chrono::steady_clock::now();
  size_t total = c->live_documents();
  Progress("index " + where + ": building over " + std::to_string(total) + " documents");
  auto index = std::make_shared<Index>(path, unique, IndexResource(name, path));
  st = FillIndex(*c, index.get(), [&](size_t done) {
    Progress("index " + where + ": " + std::to_string(done) + " of about " + std::to_string(total) + " versions");
  });
  if (st.ok()) {
    LogRecord rec;
    rec.kind = LogRecord::Kind::kMakeIndex;
    rec.collection = name;
    rec.path = PathJson(path);
    rec.number = unique ? 1 : 0;
    st = LogCatalogChange(std::move(rec), [&] {
      IndexList list = c->indexes();
      list.push_back(index);
      c->SetIndexes(std::move(list));
    });
  }
  locks_.Release(&txn);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char line[160];
  std::snprintf(line, sizeof line, ": %s, %zu entries, about %.1f MB, in %.2f s", st.ok() ? "built" : "not built",
                index->entries(), static_cast<double>(index->memory_bytes()) / 1e6, secs);
  Progress("index " + where + line);
  return st;
}

Status Engine::DropIndex(const std::string& name, const Path& path) {
  Status st = CheckCatalogWritable();
  if (!st.ok()) return st;
  std::lock_guard ops(catalog_ops_mu_);
  std::shared_ptr<Collection> c = FindCollection(name);
  if (c == nullptr) return Status(ErrorCode::kUnknownCollection, "no collection named " + name);
  if (FindIndex(c->indexes(), path) == nullptr) {
    return Status(ErrorCode::kUnknownIndex, "no index on " + PathToString(path) + " of " + name);
  }
  // `wb`: no live transaction holds a plan that uses the index.
  LockManager::Txn txn(NewOwnerId());
  st = LockCollection(&txn, name, LockMode::kExclusiveBlocking);
  if (!st.ok()) return st;
  LogRecord rec;
  rec.kind = LogRecord::Kind::kDropIndex;
  rec.collection = name;
  rec.path = PathJson(path);
  std::shared_ptr<Index> gone;
  st = LogCatalogChange(std::move(rec), [&] {
    c->SetIndexes(WithoutIndex(c->indexes(), path, &gone));
  });
  if (gone != nullptr) {
    gone->MarkDropped();
    gone->Clear();  // the (kept) lists still point to it; its entries go now
  }
  locks_.Release(&txn);
  return st;
}

void Engine::BuildRecoveredIndexes() {
  for (const std::shared_ptr<Collection>& c : [&] {
         std::shared_lock lock(catalog_mu_);
         std::vector<std::shared_ptr<Collection>> all;
         for (const auto& [name, coll] : catalog_) all.push_back(coll);
         return all;
       }()) {
    for (const auto& index : c->indexes()) {
      std::string where = PathToString(index->path()) + " of " + c->name();
      auto started = std::chrono::steady_clock::now();
      index->Clear();
      (void)FillIndex(*c, index.get(), [&](size_t done) {
        Progress("index " + where + ": rebuilt " + std::to_string(done) + " of " + std::to_string(c->live_documents()));
      });
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      char line[96];
      std::snprintf(line, sizeof line, ": rebuilt, %zu entries in %.2f s", index->entries(), secs);
      Progress("index " + where + line);
    }
  }
}

Status Engine::PrepareReplay(const DecodedRecord& r, DocRef* doc) {
  if (r.kind != LogRecord::Kind::kPut) return Status::Ok();
  // Our own canonical text, protected by the record's CRC: kept as it is and
  // parsed only when something needs the tree.
  *doc = StoredDoc::FromJson(r.doc);
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
    case LogRecord::Kind::kMakeIndex:
    case LogRecord::Kind::kDropIndex: {
      // Definitions only: recovery builds the entries once, at the end
      // (BuildRecoveredIndexes). Replaying one twice changes nothing.
      std::shared_ptr<Collection> c = FindCollection(name);
      if (c == nullptr) return Status(ErrorCode::kIo, "index record for unknown collection " + name);
      Value steps;
      Path path;
      if (!ParseJson(r.path, 64, &steps).ok() || !PathFromValue(steps, &path)) {
        return Status(ErrorCode::kIo, "index record with a malformed path");
      }
      std::shared_ptr<Index> replaced;
      IndexList list = WithoutIndex(c->indexes(), path, &replaced);
      if (r.kind == LogRecord::Kind::kMakeIndex) list.push_back(std::make_shared<Index>(path, r.number != 0, IndexResource(name, path)));
      c->SetIndexes(std::move(list));
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
  for (const auto& [name, c] : catalog_) {
    view.collections.push_back(c);
    std::vector<IndexDef>& defs = view.indexes.emplace_back();
    for (const auto& i : c->indexes()) defs.push_back(IndexDef{i->path(), i->unique()});
  }
  return view;
}

Status Engine::StartBackup(std::unique_ptr<BackupStream>* out) {
  if (!backup_hook_) {
    return Status(ErrorCode::kInternal, "this database has no backup source");
  }
  return backup_hook_(out);
}

uint64_t Engine::AppliedLsn() {
  std::lock_guard<SpinMutex> commit(snapshots_.mutex());
  return applied_lsn_;
}

void Engine::EnableMetrics() {
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (metrics_ != nullptr) return;
  metrics_ = std::make_unique<EngineMetrics>();
  metrics_ptr_.store(metrics_.get(), std::memory_order_release);
}

EngineStats Engine::Stats() const {
  const LockStats& ls = locks_.stats();
  const LogStats& wal = log_->stats();
  EngineStats st;
  st.commits = counters_.Get(EngineCounters::kCommits);
  st.aborts = counters_.Get(EngineCounters::kAborts);
  st.wal_syncs = static_cast<int64_t>(wal.syncs.load());
  st.wal_bytes = static_cast<int64_t>(wal.bytes.load());
  st.lock_waits = static_cast<int64_t>(ls.waits.load());
  st.lock_timeouts = static_cast<int64_t>(ls.timeouts.load());
  st.deadlocks = static_cast<int64_t>(ls.deadlocks.load());
  st.active_transactions = counters_.Get(EngineCounters::kActiveTransactions);
  st.connections = counters_.Get(EngineCounters::kConnections);
  st.documents = counters_.Get(EngineCounters::kDocuments);
  {
    std::shared_lock lock(catalog_mu_);
    st.collections = static_cast<int64_t>(catalog_.size());
    for (const auto& [name, c] : catalog_) st.versions += static_cast<int64_t>(c->versions());
  }
  st.connections_total = counters_.Get(EngineCounters::kConnectionsTotal);
  st.statements = counters_.Get(EngineCounters::kStatements);
  st.live_snapshots = static_cast<int64_t>(snapshots_.live_count());
  return st;
}

std::string Engine::StatsJson() const {
  EngineStats st = Stats();
  Object o;
  for (const auto& [name, field] : EngineStats::kFields) o.push_back({std::string(name), Value(st.*field)});
  if (cluster_ != nullptr) {
    // In a cluster: this node's Raft state (lang-docs/cluster.md); wal_syncs
    // and wal_bytes count Raft proposals and the bytes proposed.
    ClusterRole::Metrics m = cluster_->GetMetrics();
    Object c;
    c.push_back({"node", Value(m.node)});
    c.push_back({"role", Value(m.role)});
    c.push_back({"term", Value(m.term)});
    c.push_back({"applied", Value(m.applied)});
    c.push_back({"leader_id", Value(m.leader_id)});
    c.push_back({"members", Value(m.members)});
    for (const ClusterRole::Metrics::Counter& k : ClusterRole::Metrics::kCounters) {
      c.push_back({std::string(k.name), Value(m.*k.field)});
    }
    o.push_back({"cluster", Value(std::move(c))});
  }
  std::string out;
  AppendJson(Value(std::move(o)), &out);
  return out;
}

}  // namespace parendb
