// Stage four of a transaction: the statements that read and write a
// selection's documents (insert, read, update, delete, check). Members of
// Evaluator; the stages before and after are in evaluator.cc.
#include <algorithm>
#include <utility>

#include "doc/json.h"
#include "doc/json_text.h"
#include "eval/evaluator.h"
#include "eval/evaluator_state.h"
#include "index/key.h"

namespace parendb {

namespace {

// Builds the `read` projection: _id plus each named path that resolves,
// nested as in the document (array steps keep only the named elements).
void Insert(Value* into, const Path& path, size_t step, const Value& v) {
  const PathStep& s = path[step];
  bool last = step + 1 == path.size();
  if (s.is_index) {
    if (!into->is_array()) *into = Value(Array{});
    into->as_array().push_back(last ? v : Value());
    if (!last) Insert(&into->as_array().back(), path, step + 1, v);
    return;
  }
  if (!into->is_object()) *into = Value(Object{});
  Value* m = into->find(s.name);
  if (m == nullptr) {
    into->as_object().push_back(Member{s.name, Value()});
    m = &into->as_object().back().value;
  }
  if (last) {
    *m = v;
  } else {
    Insert(m, path, step + 1, v);
  }
}

Value Project(const DocView& doc, const std::vector<Path>& paths) {
  static const Path kId{PathStep{false, 0, "_id"}};
  Value out{Object{}};
  Value slot;
  if (const Value* id = doc.Resolve(kId, &slot)) out.as_object().push_back(Member{"_id", *id});
  for (const Path& p : paths) {
    if (p.size() == 1 && !p[0].is_index && p[0].name == "_id") continue;
    if (const Value* v = doc.Resolve(p, &slot)) Insert(&out, p, 0, *v);
  }
  return out;
}

// A document version made from its _id's JSON and the text of its other
// members (RenderJsonObject's), with _id first, written straight into the
// version: no text in between.
DocRef WithLeadingId(std::string_view id_json, std::string_view members) {
  return members.empty() ? StoredDoc::FromPieces({"{\"_id\":", id_json, "}"})
                         : StoredDoc::FromPieces({"{\"_id\":", id_json, ",", members, "}"});
}

// The rendering scratch buffer, once a statement is done with it: one that
// grew for a huge document is given back rather than kept per session.
void ReleaseIfHuge(std::string* scratch) {
  if (scratch->capacity() > (1u << 20)) std::string().swap(*scratch);
}

}  // namespace

void Evaluator::Create(const char* doc, size_t len, size_t cap) {
  Transaction* t = RequireTransaction(stmt_->txn);
  if (t == nullptr) return;
  if (t->stage != Transaction::Stage::kAcquired) {
    return Fail(Error(ErrorCode::kStage, "transaction " + t->name + " must acquire before it creates"), t);
  }
  if (t->read_only) {
    return Fail(Error(ErrorCode::kLockMode, "transaction " + t->name + " only reads (all its selections are r) and cannot create"), t);
  }
  if (FindSelection(stmt_->selection) != nullptr) {
    return Fail(Error(ErrorCode::kDuplicateName, "selection " + stmt_->selection + " is already live"), t);
  }
  ResourceId coll;
  Collection* c = UseCollection(stmt_->collection, &coll);
  if (c == nullptr) return Fail(Error(ErrorCode::kUnknownCollection, "no collection named " + stmt_->collection), t);
  // The document is rendered to its stored text at once, with _id first;
  // no tree is built unless a later statement reads it.
  std::string& members = render_scratch_;
  members.clear();
  Value given_id;
  bool has_id;
  Status st = RenderJsonObject(doc, len, cap, engine_->options().reader.max_depth, &members, &given_id, &has_id);
  if (!st.ok()) return Fail(std::move(st), t);
  DocId id;
  if (has_id) {
    if (!given_id.is_int() && !given_id.is_string()) {
      return Fail(Error(ErrorCode::kBadDocument, "_id must be an integer or a string"), t);
    }
    DocId::FromValue(given_id, &id);
    if (id.is_int) c->ReserveId(id.i);
  } else {
    id = DocId::Int(c->AllocateId());
    given_id = Value(id.i);
  }

  // The new _id's key goes with the lock: a live transaction holding a
  // range of _ids around it meets it (no phantom).
  Value id_value = id.ToValue();
  const KeyRange* id_point = &t->write_ranges.emplace_back(KeyRange::Point(KeyOf(&id_value)));
  std::vector<LockTarget> targets{LockTarget{DocumentResource(coll, id), LockMode::kExclusive, coll, nullptr, id_point}};
  if (!engine_->locks().TryAcquire(&t->locks, targets)) {
    return Fail(Error(ErrorCode::kConflict, "cannot create _id " + id.ToString() + " in " + stmt_->collection +
                                                ": another live transaction holds a conflicting lock"),
                t);
  }
  WorkspaceKey key{c, id};
  auto it = t->workspace.find(key);
  bool exists = it != t->workspace.end() ? !it->second.deleted : c->Get(id, kLatest) != nullptr;
  if (exists) {
    return Fail(Error(ErrorCode::kDuplicateId, "a document with _id " + id.ToString() + " already exists in " + stmt_->collection), t);
  }
  bool created = it == t->workspace.end() || it->second.created;
  std::string id_json;
  AppendJson(given_id, &id_json);
  DocRef rendered = WithLeadingId(id_json, members);
  ReleaseIfHuge(&members);
  if (!c->indexes().empty()) {
    st = NoteIndexWrite(t, c, id, {}, IndexKeys(c, rendered->view()), LockKind::kWriteNonBlocking);
    if (!st.ok()) return Fail(std::move(st), t);
  }
  t->workspace[key] = WorkspaceEntry{c, Value(), false, created, true, std::move(rendered)};

  std::unique_ptr<Selection> s = TakeSelection();
  s->name = stmt_->selection;
  s->txn = t;
  s->lock = LockKind::kWriteNonBlocking;
  s->created = true;
  s->collection_name = stmt_->collection;
  s->collection = c;
  s->lock_name = coll;
  s->docs.push_back(Selection::Bound{std::move(id), nullptr});
  AddSelection(std::move(s));
  RespondOk("created");
}

template <class Each>
void Evaluator::ForEachInWindow(Transaction* t, Selection* s, Each each) {
  size_t skip = static_cast<size_t>(stmt_->skip);
  size_t take = stmt_->take < 0 ? SIZE_MAX : static_cast<size_t>(stmt_->take);
  if (!s->multi) take = std::min<size_t>(take, 1);
  size_t i = 0, seen = 0;
  bool cached = t->workspace.empty() && s->cursor_visible <= skip;
  if (cached) i = s->cursor_index, seen = s->cursor_visible;
  size_t taken = 0;
  for (; i < s->docs.size() && taken < take; ++i) {
    if (!Visible(t, s, i)) continue;
    if (seen++ < skip) continue;
    each(i);
    ++taken;
  }
  if (t->workspace.empty()) s->cursor_index = i, s->cursor_visible = seen;
}

void Evaluator::ReadAll() {
  Selection* s = RequireSelection(stmt_->selection, false);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  BeginResponse();
  bool first = true;
  if (s->multi) out_ += '[';
  ForEachInWindow(t, s, [&](size_t i) {
    if (!first) out_ += ',';
    first = false;
    AppendDocJson(t, s, i, &out_);
  });
  if (s->multi) {
    out_ += ']';
  } else if (first) {
    out_ += "null";
  }
  EndResponse(ResponseKind::kJson, ErrorCode::kOk);
}

void Evaluator::Read() {
  Selection* s = RequireSelection(stmt_->selection, false);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  Value result;
  if (s->multi) result = Value(Array{});
  ForEachInWindow(t, s, [&](size_t i) {
    DocView doc = View(t, s, i);
    if (!s->multi) {
      result = Project(doc, stmt_->paths);
    } else {
      result.as_array().push_back(Project(doc, stmt_->paths));
    }
  });
  std::string json;
  AppendJson(result, &json);
  RespondJson(json);
}

namespace {

// An update of values a document has, made on its text: each path's value
// replaced where it is, in order — the bytes assigning on the tree and
// rendering it would give (ReplaceInJsonText), without parsing the
// document or rendering all of it. False, with nothing changed, when a
// path is _id or names no value the document has: the caller assigns on
// the tree, which also says what is wrong.
bool UpdateInText(std::string_view text, const std::vector<Path>& paths, const std::vector<Value>& values, DocRef* out) {
  thread_local std::string buffers[2];
  std::string_view current = text;
  for (size_t k = 0; k < paths.size(); ++k) {
    const Path& p = paths[k];
    if (p.empty() || (!p[0].is_index && p[0].name == "_id")) return false;
    std::string& next = buffers[k % 2];  // current is in the other one (or is text)
    if (ReplaceInJsonText(current, p, values[k], &next) != TextLookup::kFound) return false;
    current = next;
  }
  *out = StoredDoc::FromJson(current);
  return true;
}

}  // namespace

WorkspaceEntry& Evaluator::WorkspaceFor(Transaction* t, Selection* s, size_t i, bool* fresh) {
  auto [it, made] = t->workspace.try_emplace(WorkspaceKey{s->collection, s->docs[i].id});
  if (made) it->second = WorkspaceEntry{s->collection, Value(), false, false, false, nullptr};
  if (fresh != nullptr) *fresh = made;
  return it->second;
}

void Evaluator::Update() {
  Selection* s = RequireSelection(stmt_->selection, true);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  bool touches_index = false;
  for (const auto& index : s->collection->indexes()) {
    for (const Path& p : stmt_->paths) touches_index = touches_index || PathsOverlap(p, index->path());
  }
  uint64_t n = 0;
  std::vector<Value> results(stmt_->values.size());
  for (size_t i = 0; i < s->docs.size(); ++i) {
    DocView before = View(t, s, i);
    if (!before) continue;
    // Every expression sees the document as it was before this statement.
    for (size_t k = 0; k < stmt_->values.size(); ++k) {
      Value scratch;
      Status err;
      const Value* r = Evaluate(stmt_->values[k], before, &scratch, &err);
      if (r == nullptr) {
        err.AppendMessage(" (setting " + PathToString(stmt_->paths[k]) + " of _id " + s->docs[i].id.ToString() + ")");
        return Fail(std::move(err), t);
      }
      results[k] = r == &scratch ? std::move(scratch) : *r;
    }
    // Only an update of an indexed path (or of a path above or below one)
    // can move the document in an index.
    std::vector<std::string> keys_before = touches_index ? IndexKeys(s->collection, before) : std::vector<std::string>();
    bool fresh;
    WorkspaceEntry& e = WorkspaceFor(t, s, i, &fresh);
    // A document still in text form (as committed, or as created or
    // updated here) is changed in its text when every path names a value
    // it has; otherwise it is parsed into a tree and assigned on.
    std::string_view text = fresh ? s->docs[i].committed->json() : e.rendered ? e.rendered->json() : std::string_view();
    DocRef updated;
    if (!text.empty() && UpdateInText(text, stmt_->paths, results, &updated)) {
      e.rendered = std::move(updated);
    } else {
      if (fresh) s->docs[i].committed->view().Tree(&e.value);  // parsed straight into the workspace
      for (size_t k = 0; k < stmt_->paths.size(); ++k) {
        Status st = Assign(stmt_->paths[k], std::move(results[k]), &e.mutable_value());
        if (!st.ok()) return Fail(std::move(st), t);
      }
    }
    if (!keys_before.empty()) {
      e.keys_moved = true;
      Status st = NoteIndexWrite(t, s->collection, s->docs[i].id, keys_before, IndexKeys(s->collection, e.view()), s->lock);
      if (!st.ok()) return Fail(std::move(st), t);
    }
    ++n;
  }
  RespondOkCount("updated", n);
}

void Evaluator::UpdateAll(const char* doc, size_t len, size_t cap) {
  Selection* s = RequireSelection(stmt_->selection, true);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  // The new text is made once, as create makes it (no tree), and each
  // document gets it behind its own _id.
  std::string& members = render_scratch_;
  members.clear();
  Value given_id;
  bool has_id;
  Status st = RenderJsonObject(doc, len, cap, engine_->options().reader.max_depth, &members, &given_id, &has_id);
  if (!st.ok()) return Fail(std::move(st), t);
  // A given _id must be each document's own, of its kind (1.0 is not 1):
  // an integer or a string, turned into an id once for every document.
  DocId given;
  const bool given_is_id = has_id && (given_id.is_int() || given_id.is_string()) && DocId::FromValue(given_id, &given);
  uint64_t n = 0;
  std::string id_json;
  for (size_t i = 0; i < s->docs.size(); ++i) {
    if (!Visible(t, s, i)) continue;
    const DocId& id = s->docs[i].id;
    if (has_id && !(given_is_id && given == id)) {
      return Fail(Error(ErrorCode::kBadDocument, "updateall cannot change _id " + id.ToString()), t);
    }
    id_json.clear();
    AppendJson(id.ToValue(), &id_json);
    DocRef replaced = WithLeadingId(id_json, members);
    if (!s->collection->indexes().empty()) {
      st = NoteIndexWrite(t, s->collection, id, IndexKeys(s->collection, View(t, s, i)),
                          IndexKeys(s->collection, replaced->view()), s->lock);
      if (!st.ok()) return Fail(std::move(st), t);
    }
    WorkspaceEntry& e = WorkspaceFor(t, s, i);
    e.keys_moved = true;
    e.set_text(std::move(replaced));
    ++n;
  }
  ReleaseIfHuge(&members);
  RespondOkCount("updated", n);
}

void Evaluator::Delete() {
  Selection* s = RequireSelection(stmt_->selection, true);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  uint64_t n = 0;
  for (size_t i = 0; i < s->docs.size(); ++i) {
    if (!Visible(t, s, i)) continue;
    if (!s->collection->indexes().empty()) {
      Status st = NoteIndexWrite(t, s->collection, s->docs[i].id, IndexKeys(s->collection, View(t, s, i)), {}, s->lock);
      if (!st.ok()) return Fail(std::move(st), t);
    }
    WorkspaceEntry& e = WorkspaceFor(t, s, i);
    e.keys_moved = true;
    e.deleted = true;
    e.set_value(Value());
    ++n;
  }
  RespondOkCount("deleted", n);
}

void Evaluator::Check() {
  Selection* s = RequireSelection(stmt_->selection, false);
  if (s == nullptr) return;
  Transaction* t = s->txn;
  for (size_t i = 0; i < s->docs.size(); ++i) {
    DocView doc = View(t, s, i);
    if (doc && !Test(stmt_->condition, doc)) {
      return Fail(Error(ErrorCode::kCheckFailed, "document " + s->docs[i].id.ToString() + " of selection " + s->name +
                                                     " does not satisfy the condition"),
                  t);
    }
  }
  RespondOk("checked");
}

}  // namespace parendb
