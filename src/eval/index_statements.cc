// The index statements of section 10: mkindex, rmindex, indexes, explain.
#include <algorithm>
#include <thread>

#include "doc/json.h"
#include "eval/evaluator.h"
#include "eval/evaluator_state.h"
#include "index/key.h"

namespace parendb {

namespace {

// Runs a catalog change on a thread of its own and completes `done` with
// its outcome: an index build reads the whole collection, and the
// session's thread serves other connections meanwhile.
void RunCatalogChange(std::function<Status()> change, std::function<void(Status)> done) {
  std::thread([change = std::move(change), done = std::move(done)] { done(change()); }).detach();
}

}  // namespace

void Evaluator::MakeIndex() {
  auto p = std::make_shared<PendingWait>();
  p->wakeup = wakeup_;
  RunCatalogChange([engine = engine_, coll = stmt_->collection, path = stmt_->paths[0],
                    unique = stmt_->unique] { return engine->MakeIndex(coll, path, unique); },
                   PendingWait::Completer(p));
  pending_ = std::move(p);
  pending_txn_ = nullptr;
  pending_kind_ = WaitKind::kCatalog;
  pending_word_ = "mkindex";
}

void Evaluator::DropIndex() {
  auto p = std::make_shared<PendingWait>();
  p->wakeup = wakeup_;
  RunCatalogChange([engine = engine_, coll = stmt_->collection,
                    path = stmt_->paths[0]] { return engine->DropIndex(coll, path); },
                   PendingWait::Completer(p));
  pending_ = std::move(p);
  pending_txn_ = nullptr;
  pending_kind_ = WaitKind::kCatalog;
  pending_word_ = "rmindex";
}

void Evaluator::FinishCatalog(Status st) {
  if (!st.ok()) return RespondError(st);
  RespondOk(pending_word_);
}

void Evaluator::Indexes() {
  std::shared_ptr<Collection> c = engine_->FindCollection(stmt_->collection);
  if (c == nullptr) return RespondError(Error(ErrorCode::kUnknownCollection, "no collection named " + stmt_->collection));
  struct Row {
    std::string order;  // the path's key: the listing is sorted by path
    Value row;
  };
  std::vector<Row> rows;
  for (const auto& index : c->indexes()) {
    Value path = PathToValue(index->path());
    Object o;
    o.push_back({"path", path});
    o.push_back({"unique", Value(index->unique())});
    o.push_back({"entries", Value(static_cast<int64_t>(index->entries()))});
    rows.push_back(Row{KeyOf(&path), Value(std::move(o))});
  }
  std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) { return a.order < b.order; });
  Array out;
  for (Row& r : rows) out.push_back(std::move(r.row));
  std::string json;
  AppendJson(Value(std::move(out)), &json);
  RespondJson(json);
}

void Evaluator::Explain() {
  Selection* s = FindSelection(stmt_->selection);
  if (s == nullptr) return RespondError(Error(ErrorCode::kUnknownSelection, "no live selection named " + stmt_->selection));
  // Before acquire: the plan an acquire would make now. After: the one it made.
  bool acquired = s->txn->stage != Transaction::Stage::kSelecting;
  Plan plan;
  if (acquired) {
    plan = s->plan;
  } else if (!s->by_ids && !s->created) {
    if (s->collection->dropped()) s->collection = UseCollection(s->collection_name, &s->lock_name);
    if (s->collection != nullptr) {
      plan = PlanSelection(s->condition, parendb::Indexes{s->collection->indexes(), &s->collection->id_index()}, s->order);
    }
  }
  bool whole = acquired && s->whole_collection;
  bool by_index = plan.by_index && !s->by_ids && !whole;
  Object o;
  o.push_back({"index", by_index && !plan.scans.empty() ? PathToValue(plan.scans[0].index->path()) : Value()});
  Array all;
  for (const IndexScan& scan : plan.scans) all.push_back(PathToValue(scan.index->path()));
  if (by_index && all.size() > 1) o.push_back({"indexes", Value(std::move(all))});
  o.push_back({"access", Value(std::string(s->created || s->by_ids ? "id" : by_index ? "index" : "scan"))});
  if (s->order.ordered) o.push_back({"order", Value(std::string(by_index && plan.walk_in_order ? "index" : "sort"))});
  std::string locks = s->created || s->by_ids ? "documents" : by_index ? "keys" : "collection";
  o.push_back({"locks", Value(std::move(locks))});
  if (by_index) {
    size_t ranges = 0;
    for (const IndexScan& scan : plan.scans) ranges += scan.ranges.size();
    o.push_back({"ranges", Value(static_cast<int64_t>(ranges))});
  }
  if (acquired && by_index) o.push_back({"documents_locked", Value(static_cast<int64_t>(s->predicted.size()))});
  if (acquired) {  // how many documents readall would show now
    int64_t visible = 0;
    for (size_t i = 0; i < s->docs.size(); ++i) visible += Visible(s->txn, s, i) ? 1 : 0;
    o.push_back({"documents", Value(visible)});
  }
  std::string json;
  AppendJson(Value(std::move(o)), &json);
  RespondJson(json);
}

}  // namespace parendb
