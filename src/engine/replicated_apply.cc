// A follower installs the leader's commits (Engine::ApplyReplicated) and a
// node installing a Raft snapshot starts over (Engine::ReplaceCollections). Both
// run on the one thread that applies the Raft log, in log order, while
// read-only transactions go on reading snapshots.
#include "doc/json.h"
#include "engine/engine.h"
#include "engine/fill_index.h"
#include "wal/log_format.h"

namespace parendb {

Status Engine::ApplyReplicated(const std::vector<DecodedRecord>& records, uint64_t lsn) {
  std::vector<Write> writes;
  std::vector<std::shared_ptr<Collection>> alive;  // the writes' collections, until installed
  auto flush = [&] {
    if (writes.empty()) return;
    WorkOutIndexKeys(writes);
    Install(writes, lsn);
    counters_.Add(EngineCounters::kCommits);
    writes.clear();
  };
  for (const DecodedRecord& r : records) {
    if (r.kind != LogRecord::Kind::kPut && r.kind != LogRecord::Kind::kDelete) {
      flush();
      ApplyReplicatedCatalog(r);
      continue;
    }
    std::shared_ptr<Collection> c = FindCollection(r.collection);
    if (c == nullptr) return Status(ErrorCode::kIo, "replicated write to unknown collection " + std::string(r.collection));
    if (r.id.is_int) c->ReserveId(r.id.i);
    Write& w = writes.emplace_back();
    w.collection = c.get();
    w.id = r.id;
    if (r.kind == LogRecord::Kind::kPut) w.doc = StoredDoc::FromJson(r.doc);
    alive.push_back(std::move(c));
  }
  flush();
  std::lock_guard<SpinMutex> commit(snapshots_.mutex());
  if (lsn > applied_lsn_) applied_lsn_ = lsn;
  return Status::Ok();
}

void Engine::ApplyReplicatedCatalog(const DecodedRecord& r) {
  std::string name(r.collection);
  std::shared_ptr<Collection> c = FindCollection(name);
  // Drops wait, as on the leader, for the transactions that read the
  // collection here to end: nothing is pulled from under a reader.
  auto lock_whole = [&](LockManager::Txn* txn) {
    while (!LockCollection(txn, name, LockMode::kExclusiveBlocking).ok()) {
    }
  };
  switch (r.kind) {
    case LogRecord::Kind::kMakeCollection: {
      std::lock_guard<SpinMutex> commit(snapshots_.mutex());
      std::unique_lock lock(catalog_mu_);
      catalog_.emplace(name, std::make_shared<Collection>(name));
      return;
    }
    case LogRecord::Kind::kDropCollection: {
      if (c == nullptr) return;
      LockManager::Txn txn(NewOwnerId());
      lock_whole(&txn);
      {
        std::lock_guard<SpinMutex> commit(snapshots_.mutex());
        std::unique_lock lock(catalog_mu_);
        catalog_.erase(name);
      }
      c->MarkDropped();
      counters_.Add(EngineCounters::kDocuments, -static_cast<int64_t>(c->live_documents()));
      locks_.Release(&txn);
      return;
    }
    case LogRecord::Kind::kMakeIndex:
    case LogRecord::Kind::kDropIndex: {
      Value steps;
      Path path;
      if (c == nullptr || !ParseJson(r.path, 64, &steps).ok() || !PathFromValue(steps, &path)) return;
      LockManager::Txn txn(NewOwnerId());
      std::shared_ptr<Index> made, gone;
      if (r.kind == LogRecord::Kind::kMakeIndex) {
        // Nothing writes here but this thread: the build sees exactly the
        // documents the leader's build saw.
        made = std::make_shared<Index>(path, r.number != 0, IndexResource(name, path));
        (void)FillIndex(*c, made.get(), [](size_t) {});
      } else {
        lock_whole(&txn);
      }
      IndexList list = WithoutIndex(c->indexes(), path, &gone);
      if (made != nullptr) list.push_back(made);
      {
        std::lock_guard<SpinMutex> commit(snapshots_.mutex());
        c->SetIndexes(std::move(list));
      }
      if (gone != nullptr && made == nullptr) {
        gone->MarkDropped();
        gone->Clear();
      }
      locks_.Release(&txn);
      return;
    }
    default:
      return;
  }
}

void Engine::ReplaceCollections(Engine* from, uint64_t lsn) {
  std::map<std::string, std::shared_ptr<Collection>, std::less<>> gone;
  int64_t documents = 0;
  {
    std::unique_lock theirs(from->catalog_mu_);
    std::lock_guard<SpinMutex> commit(snapshots_.mutex());
    std::unique_lock lock(catalog_mu_);
    gone.swap(catalog_);
    catalog_.swap(from->catalog_);
    for (const auto& [name, c] : catalog_) documents += static_cast<int64_t>(c->live_documents());
    applied_lsn_ = lsn;
  }
  for (auto& [name, c] : gone) {
    documents -= static_cast<int64_t>(c->live_documents());
    c->MarkDropped();
  }
  counters_.Add(EngineCounters::kDocuments, documents);
}

}  // namespace parendb
