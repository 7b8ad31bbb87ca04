#include "eval/evaluator.h"

#include "base/mix.h"
#include "eval/evaluator_state.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <bit>
#include <charconv>
#include <cstring>
#include <utility>

#include "doc/json.h"

namespace parendb {

// ---------------------------------------------------------------------------
// Per-transaction state (see evaluator_state.h)

LockMode ModeFor(LockKind kind, bool read_only) {
  if (read_only) return LockMode::kSnapshotRead;
  switch (kind) {
    case LockKind::kRead: return LockMode::kShared;
    case LockKind::kWriteNonBlocking: return LockMode::kExclusive;
    case LockKind::kWriteBlocking: return LockMode::kExclusiveBlocking;
  }
  return LockMode::kExclusiveBlocking;
}

// ---------------------------------------------------------------------------
// Lifetime and input

Evaluator::Evaluator(Engine* engine)
    : engine_(engine), owner_(engine->NewOwnerId()), reader_(engine->options().reader) {
  slow_log_ = engine->options().slow_transaction.count() > 0 && engine->options().on_slow_transaction;
  engine_->counters().Add(EngineCounters::kConnections);
  engine_->counters().Add(EngineCounters::kConnectionsTotal);
}

// Statements are counted per session and added to the engine's counter in
// batches: one shared counter bumped by every statement on every core would
// bounce its cache line between them.
void Evaluator::CountStatement() {
  if (++uncounted_statements_ >= 64) FlushStatementCount();
}

void Evaluator::FlushStatementCount() {
  engine_->counters().Add(EngineCounters::kStatements, static_cast<int64_t>(uncounted_statements_));
  uncounted_statements_ = 0;
}

Evaluator::~Evaluator() {
  FlushStatementCount();
  // mkindex/rmindex, a backup piece: let it finish (it uses what it was given).
  if (pending_ && (pending_kind_ == WaitKind::kCatalog || pending_kind_ == WaitKind::kBackup)) pending_->Wait();
  if (pending_ && pending_kind_ == WaitKind::kCommit) {
    // The commit may be installing right now: its locks must be held until
    // it has, so wait for the log to decide it.
    pending_->Wait();
    Transaction* t = pending_txn_;
    Status st = std::move(pending_->status);
    pending_.reset();
    pending_txn_ = nullptr;
    EndTransaction(t, st.ok());
  }
  while (!txns_.empty()) EndTransaction(txns_.back().get(), false);
  free_txns_.clear();
  free_sels_.clear();
  engine_->counters().Add(EngineCounters::kConnections, -1);
}

void Evaluator::RequirePassword(std::string password) {
  password_ = std::move(password);
  authenticated_ = false;
}

void Evaluator::Feed(std::string_view bytes) {
  reader_.Append(bytes);
  if (pending_ && pending_kind_ == WaitKind::kAcquire) CancelWaitIfAsked();
  if (!pending_) Pump();
  reader_.ReleaseIfEmpty();
}

// (cancel) right after an acquire that waits is read at once, not in turn
// (nothing else can be read while the session waits): the wait ends, the
// acquire is answered lock-timeout and its transaction closed, and the
// cancel (ok cancelled 1). Anywhere else it waits its turn and finds
// nothing to cancel.
void Evaluator::CancelWaitIfAsked() {
  std::string_view text;
  int depth;
  size_t int_at, int_len;
  if (!reader_.PeekSimpleStatement(&text, &depth, &int_at, &int_len)) return;
  std::string compact;
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') compact += c;
  }
  if (compact != "(cancel)") return;
  reader_.Skip(text.size());
  CountStatement();
  Transaction* t = pending_txn_;
  // Cancels the wait: the lock manager will not call back. Had it granted
  // the locks just before, they go now; the acquire fails either way.
  engine_->locks().Release(&t->locks);
  pending_.reset();
  pending_txn_ = nullptr;
  pending_started_ = {};
  Fail(Error(ErrorCode::kLockTimeout, "the acquire of " + t->name + " was cancelled before its locks were granted"), t);
  RespondOkCount("cancelled", 1);
}

void Evaluator::Abandon(const Status& why) {
  if (must_close_) return;
  RespondError(why);
  must_close_ = true;
}

void Evaluator::Resume() {
  if (!pending_ || !pending_->Decided()) return;
  std::shared_ptr<PendingWait> p = std::move(pending_);
  Transaction* t = pending_txn_;
  pending_txn_ = nullptr;
  if (pending_kind_ == WaitKind::kCatalog) {
    FinishCatalog(std::move(p->status));
  } else if (pending_kind_ == WaitKind::kBackup) {
    FinishBackup(std::move(p->status));
  } else if (pending_kind_ == WaitKind::kCommit) {
    FinishCommit(t, std::move(p->status));
  } else if (pending_kind_ == WaitKind::kReadIndex) {
    if (p->status.ok()) {
      RespondOkCount("read-index", *pending_index_);
    } else {
      RespondError(p->status);
    }
    pending_index_.reset();
  } else if (pending_kind_ == WaitKind::kReadBarrier) {
    if (p->status.ok()) {
      RequestLocks(t);
    } else {
      Fail(std::move(p->status), t);
    }
  } else if (pending_kind_ == WaitKind::kSelectBarrier) {
    if (p->status.ok()) {
      select_caught_up_ = true;
      Select(pending_multi_);
    } else {
      Fail(std::move(p->status), t);
    }
  } else if (p->status.ok()) {
    FinishAcquire(t);
  } else {
    Status st = p->status;
    if (st.code() == ErrorCode::kLockTimeout) st = Error(ErrorCode::kLockTimeout, "locks for " + t->name + " were not granted in time");
    Fail(std::move(st), t);
  }
  EngineMetrics* m = engine_->metrics();
  if (m != nullptr && pending_started_ != std::chrono::steady_clock::time_point{}) {
    ObserveTiming(m, pending_statement_, pending_started_);
    pending_started_ = {};
  }
  Pump();
}

void Evaluator::WaitAndResume() {
  std::shared_ptr<PendingWait> p = pending_;
  if (!p) return;
  p->Wait();
  Resume();
}

void Evaluator::FinishInput() {
  if (pending_) return;
  if (input_lost_) {
    // An item crossed a limit: the rest of this input was not read. An
    // embedded session goes on with the next call's input.
    input_lost_ = must_close_ = false;
  } else if (awaiting_document_) {
    awaiting_document_ = false;
    Status st = std::move(pending_error_);
    pending_error_ = Status::Ok();
    if (st.ok()) {
      LineCol lc = reader_.position();
      st = reader_.OnlyBlankLeft()
               ? Error(ErrorCode::kBadDocument, "the statement must be followed by a JSON object")
               : Error(ErrorCode::kBadDocument, "unexpected end of input: the JSON value starting at " +
                                                    std::to_string(lc.line) + ":" + std::to_string(lc.column) +
                                                    " is not closed");
    }
    FailNamed(std::move(st), named_);
  } else if (!reader_.OnlyBlankLeft()) {
    LineCol lc = reader_.position();
    RespondError(Error(ErrorCode::kSyntax, "unexpected end of input: the statement starting at " +
                                               std::to_string(lc.line) + ":" + std::to_string(lc.column) +
                                               " is not closed"));
  }
  reader_.Reset();  // end of input also ends any discard-to-end-of-line
}

void Evaluator::Pump() {
  while (!pending_ && !must_close_) {
    if (output_limit_ != 0 && out_.size() >= output_limit_) return;  // the owner sends, then feeds again
    Status err;
    if (awaiting_document_) {
      const char* data = nullptr;
      size_t len = 0, cap = 0;
      Reader::Result r = reader_.NextDocument(&data, &len, &cap, &err);
      if (r == Reader::Result::kNeedMore) return;
      awaiting_document_ = false;
      Status failed = std::move(pending_error_);
      pending_error_ = Status::Ok();
      switch (r) {
        case Reader::Result::kItem:
          if (failed.ok()) {
            Dispatch(data, len, cap);
          } else {
            FailNamed(std::move(failed), named_);  // the document is read and dropped
          }
          break;
        case Reader::Result::kNotDocument:
          FailNamed(failed.ok() ? Error(ErrorCode::kBadDocument, "the statement must be followed by a JSON object")
                                : std::move(failed),
                    named_);
          break;
        case Reader::Result::kFatal:
          FailNamed(std::move(err), named_);
          must_close_ = input_lost_ = true;
          return;
        default:
          FailNamed(failed.ok() ? std::move(err) : std::move(failed), named_);
          break;
      }
      continue;
    }
    if (slow_log_) CaptureStatementText();
    if (authenticated_ && RunCachedStatement()) continue;
    Reader::Result r = reader_.NextStatement(&tree_, &err);
    switch (r) {
      case Reader::Result::kNeedMore:
        return;
      case Reader::Result::kFatal:
        RespondError(err);
        must_close_ = input_lost_ = true;
        return;
      case Reader::Result::kError:
        RespondError(err);
        continue;
      default:
        CountStatement();
        Remember(ExecuteStatement());
    }
  }
}

bool Evaluator::ExecuteStatement() {
  ++statements_compiled_;
  Status st = CompileStatement(tree_, &compiled_, &named_);
  stmt_ = &compiled_;
  if (!authenticated_ && !(st.ok() && stmt_->kind == StatementKind::kAuth)) {
    st = Error(ErrorCode::kAuth, "authenticate first with (auth \"password\")");
    named_ = Named{"", "", named_.takes_document};
  }
  bool compiled = st.ok();
  if (named_.takes_document) {
    // The JSON object belongs to this statement even when it failed.
    awaiting_document_ = true;
    pending_error_ = std::move(st);
    return compiled;
  }
  if (!compiled) {
    FailNamed(std::move(st), named_);
    return false;
  }
  Dispatch(nullptr, 0, 0);
  return true;
}

namespace {

// Statements whose compiled form execution only reads (select/selects
// take their condition). create/updateall are kept without their document,
// which is read after them as usual.
bool Cacheable(const Statement& s) {
  switch (s.kind) {
    case StatementKind::kOpen:
    case StatementKind::kAcquire:
    case StatementKind::kCreate:
    case StatementKind::kUpdateAll:
    case StatementKind::kReadAll:
    case StatementKind::kRead:
    case StatementKind::kUpdate:
    case StatementKind::kDelete:
    case StatementKind::kCheck:
    case StatementKind::kCommit:
    case StatementKind::kClose:
    case StatementKind::kCollections:
    case StatementKind::kPing:
    case StatementKind::kStats:
      return true;
    default:
      return false;
  }
}

// The set of a statement key: every byte of the key moves every bit
// (Mix64 over head, then tail and length).
size_t CacheSet(uint64_t head, uint64_t tail, uint32_t len, size_t sets) {
  return Mix64(Mix64(head) ^ tail ^ (uint64_t{len} << 56)) & (sets - 1);
}

// Makes a statement's cache key from its first bytes: up to and including
// its first ')', at most 16. False when fewer than 16 bytes have arrived and
// none of them is ')'.
template <typename Key>
bool MakeStatementKey(std::string_view in, Key* key) {
  uint64_t w[2] = {0, 0};
  size_t len;
  if (in.size() >= 16) {
    std::memcpy(w, in.data(), 16);
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.data()));
    auto close = static_cast<uint32_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(')'))));
    len = close != 0 ? static_cast<size_t>(std::countr_zero(close)) + 1 : 16;
#else
    const void* close = std::memchr(in.data(), ')', 16);
    len = close != nullptr ? static_cast<size_t>(static_cast<const char*>(close) - in.data()) + 1 : 16;
#endif
  } else {
    const void* close = std::memchr(in.data(), ')', in.size());
    if (close == nullptr) return false;
    len = static_cast<size_t>(static_cast<const char*>(close) - in.data()) + 1;
    std::memcpy(w, in.data(), len);
  }
  // Only the key's own bytes count (little-endian: the first byte is lowest).
  if (len < 8) {
    w[0] &= (uint64_t{1} << (8 * len)) - 1;
    w[1] = 0;
  } else if (len < 16) {
    w[1] &= len == 8 ? 0 : (uint64_t{1} << (8 * (len - 8))) - 1;
  }
  key->head = w[0];
  key->tail = w[1];
  key->len = static_cast<uint32_t>(len);
  return true;
}

}  // namespace

// Statements recur in a session's transactions. Two kinds are kept
// compiled, so a repeat skips parsing and compiling:
//   most statements — (open t), (acquire t), (update a (f n) (+ (f n) 1)),
//   (commit t) — by their exact text;
//   select/selects whose condition is (= (f _id) N), by their text with N
//   replaced by '#': a repeat differs only in the id, which is read from
//   the text and put into the cached statement.
// A repeat is recognized without scanning it first: the cache is indexed by
// the statement's first bytes (up to its first ')', at most 16 — never the
// _id literal, which always follows the ')' of (coll …)), and a hit is a
// byte comparison of the input with the kept text. Only misses are scanned.
bool Evaluator::RunCachedStatement() {
  miss_way_ = nullptr;
  std::string_view in;
  if (!reader_.PeekStatementStart(&in) || in[0] != '(') return false;
  StatementKey key;
  if (!MakeStatementKey(in, &key)) return false;  // not all here yet
  // kCacheWays ways per set, least recently used out: a transaction's
  // statements share a set now and then (with two ways, (open t), (acquire
  // t) and a transfer's first update once did, and all three missed every
  // time, each parsed and compiled again).
  CachedStatement* way = &cache_[CacheSet(key.head, key.tail, key.len, cache_.size() / kCacheWays) * kCacheWays];
  size_t length = 0;
  int64_t id = 0;
  CachedStatement* hit = nullptr;
  for (size_t w = 0; w < kCacheWays && hit == nullptr; ++w) {
    if (way[w].key == key && MatchCached(way[w], in, &length, &id)) hit = &way[w];
  }
  if (hit == nullptr) {
    // Miss: the caller reads and runs it as usual; Remember() keeps it if
    // it is simple (no string or comment) and of a kind worth keeping.
    std::string_view text;
    int depth;
    size_t int_at, int_len;
    if (!reader_.PeekSimpleStatement(&text, &depth, &int_at, &int_len)) return false;
    bool by_id = text.compare(0, 8, "(select ") == 0 || text.compare(0, 9, "(selects ") == 0;
    if (by_id && (depth < 3 || int_at == std::string_view::npos || int_at < key.len)) return false;
    miss_way_ = &way[0];
    for (size_t w = 1; w < kCacheWays; ++w) {
      if (way[w].last_use < miss_way_->last_use) miss_way_ = &way[w];
    }
    miss_key_ = key;
    miss_by_id_ = by_id;
    miss_text_.assign(text);
    if (by_id) {
      std::from_chars(text.data() + int_at, text.data() + int_at + int_len, miss_id_);
      miss_id_at_ = int_at;
      miss_text_.replace(int_at, int_len, "#");
    }
    return false;
  }
  hit->last_use = ++cache_clock_;
  if (hit->by_id_literal) hit->stmt.id = DocId::Int(id);
  reader_.Skip(length);
  CountStatement();
  stmt_ = &hit->stmt;
  if (hit->named.takes_document) {
    // Pump reads the document next and dispatches stmt_ then; nothing
    // replaces a cache entry before that (only Remember, after a miss).
    named_ = hit->named;
    awaiting_document_ = true;
    pending_error_ = Status::Ok();
    return true;
  }
  Dispatch(nullptr, 0, 0);
  return true;
}

bool Evaluator::MatchCached(const CachedStatement& c, std::string_view in, size_t* length, int64_t* id) {
  const std::string& t = c.text;
  if (!c.by_id_literal) {
    // (open t), (commit t)…: the key (already equal) is the whole text.
    if (t.size() == c.key.len) {
      *length = t.size();
      return true;
    }
    if (in.size() < t.size() || std::memcmp(in.data(), t.data(), t.size()) != 0) return false;
    *length = t.size();
    return true;
  }
  size_t at = c.id_at, rest = t.size() - at - 1;
  if (in.size() < at || std::memcmp(in.data(), t.data(), at) != 0) return false;
  size_t n = ReadIntegerLiteral(in.substr(at), id);
  // What follows the literal (a ')' or a blank) must follow it here too, so
  // "12" never matches the start of "12.5" or "12x".
  if (n == 0 || in.size() < at + n + rest || std::memcmp(in.data() + at + n, t.data() + at + 1, rest) != 0) return false;
  *length = at + n + rest;
  return true;
}

void Evaluator::Remember(bool compiled) {
  bool keep = false;
  if (miss_way_ != nullptr && compiled) {
    if (miss_by_id_) {
      // Only when the literal that was masked is exactly the selected _id.
      keep = (compiled_.kind == StatementKind::kSelect || compiled_.kind == StatementKind::kSelects) &&
             compiled_.by_id && compiled_.id.is_int && compiled_.id.i == miss_id_;
    } else {
      keep = Cacheable(compiled_);
    }
  }
  if (keep) {
    std::swap(miss_way_->text, miss_text_);
    miss_way_->key = miss_key_;
    miss_way_->stmt = compiled_;
    miss_way_->named = named_;
    miss_way_->by_id_literal = miss_by_id_;
    miss_way_->id_at = miss_id_at_;
    miss_way_->last_use = ++cache_clock_;
  }
  miss_way_ = nullptr;
}

void Evaluator::Dispatch(const char* doc, size_t doc_len, size_t doc_cap) {
  if (slow_log_) return DispatchNoted(doc, doc_len, doc_cap);
  DispatchTimed(doc, doc_len, doc_cap);
}

void Evaluator::DispatchTimed(const char* doc, size_t doc_len, size_t doc_cap) {
  EngineMetrics* m = engine_->metrics();
  if (m == nullptr) return Run(doc, doc_len, doc_cap);
  StatementKind kind = stmt_->kind;
  auto start = std::chrono::steady_clock::now();
  Run(doc, doc_len, doc_cap);
  if (pending_) {  // timed when Resume answers it
    pending_started_ = start;
    pending_statement_ = kind;
  } else {
    ObserveTiming(m, kind, start);
  }
}

static_assert(kStatementKindCount <= EngineMetrics::kStatementKinds);

void Evaluator::ObserveTiming(EngineMetrics* m, StatementKind kind, std::chrono::steady_clock::time_point start) {
  auto ns = static_cast<uint64_t>(std::chrono::nanoseconds(std::chrono::steady_clock::now() - start).count());
  m->statement_ns[static_cast<size_t>(kind)]->Observe(ns);
  if (kind == StatementKind::kCommit) m->commit_ns.Observe(ns);
}

void Evaluator::Run(const char* doc, size_t doc_len, size_t doc_cap) {
  switch (stmt_->kind) {
    case StatementKind::kOpen: return Open();
    case StatementKind::kSelect: return Select(false);
    case StatementKind::kSelects: return Select(true);
    case StatementKind::kAcquire: return Acquire();
    case StatementKind::kCreate: return Create(doc, doc_len, doc_cap);
    case StatementKind::kReadAll: return ReadAll();
    case StatementKind::kRead: return Read();
    case StatementKind::kUpdate: return Update();
    case StatementKind::kUpdateAll: return UpdateAll(doc, doc_len, doc_cap);
    case StatementKind::kDelete: return Delete();
    case StatementKind::kCheck: return Check();
    case StatementKind::kCommit: return Commit();
    case StatementKind::kClose: return Close();
    case StatementKind::kMakeCollection: return MakeCollection();
    case StatementKind::kDropCollection: return DropCollection();
    case StatementKind::kCollections: return Collections();
    case StatementKind::kPing: return RespondOk("pong");
    case StatementKind::kStats: return Stats();
    case StatementKind::kCheckpoint: return Checkpoint();
    case StatementKind::kAuth: return Auth();
    case StatementKind::kMakeIndex: return MakeIndex();
    case StatementKind::kDropIndex: return DropIndex();
    case StatementKind::kIndexes: return Indexes();
    case StatementKind::kExplain: return Explain();
    case StatementKind::kBackup: return Backup();
    case StatementKind::kCancel: return RespondOkCount("cancelled", 0);  // nothing waits: it came in turn
    case StatementKind::kCluster: return Cluster();
  }
}

// ---------------------------------------------------------------------------
// Lookup and errors

Evaluator::Transaction* Evaluator::FindTransaction(std::string_view name) {
  for (auto& t : txns_) {
    if (t->name == name) return t.get();
  }
  return nullptr;
}

Evaluator::Selection* Evaluator::FindSelection(std::string_view name) {
  if (sels_.size() <= 8) {  // the usual case: a short scan beats hashing
    for (auto& s : sels_) {
      if (s->name == name) return s.get();
    }
    return nullptr;
  }
  auto it = sel_index_.find(name);
  return it == sel_index_.end() ? nullptr : it->second;
}

void Evaluator::AddSelection(std::unique_ptr<Selection> s) {
  s->txn->selections.push_back(s.get());
  sels_.push_back(std::move(s));
  // The index exists only while there are many selections (the keys view
  // the selections' own names).
  if (sels_.size() == 9) {
    for (auto& x : sels_) sel_index_.emplace(x->name, x.get());
  } else if (sels_.size() > 9) {
    sel_index_.emplace(sels_.back()->name, sels_.back().get());
  }
}

Evaluator::Transaction* Evaluator::RequireTransaction(const std::string& name) {
  Transaction* t = FindTransaction(name);
  if (t == nullptr) RespondError(Error(ErrorCode::kUnknownTransaction, "no live transaction named " + name));
  return t;
}

Evaluator::Selection* Evaluator::RequireSelection(const std::string& name, bool need_write) {
  Selection* s = FindSelection(name);
  if (s == nullptr) {
    RespondError(Error(ErrorCode::kUnknownSelection, "no live selection named " + name));
    return nullptr;
  }
  if (s->txn->stage != Transaction::Stage::kAcquired) {
    Fail(Error(ErrorCode::kStage, "transaction " + s->txn->name + " has not acquired its locks yet"), s->txn);
    return nullptr;
  }
  if (need_write && !s->writable()) {
    Fail(Error(ErrorCode::kLockMode, "selection " + name + " holds an r lock; writing needs wn or wb"), s->txn);
    return nullptr;
  }
  return s;
}

Collection* Evaluator::UseCollection(const std::string& name, ResourceId* lock_name) {
  auto it = collections_.find(name);
  if (it != collections_.end() && !it->second.collection->dropped()) {
    *lock_name = it->second.lock_name;
    return it->second.collection.get();
  }
  std::shared_ptr<Collection> c = engine_->FindCollection(name);
  Collection* found = c.get();
  if (it != collections_.end()) {
    // Live transactions may still point to the dropped one.
    retired_collections_.push_back(std::move(it->second.collection));
    collections_.erase(it);
  }
  *lock_name = CollectionResource(name);
  if (c != nullptr) {
    if (collections_.size() >= 1024) {  // a bound for sessions that use very many names
      for (auto& [n, old] : collections_) retired_collections_.push_back(std::move(old.collection));
      collections_.clear();
    }
    collections_.emplace(name, SessionCollection{std::move(c), *lock_name});
  }
  return found;
}

void Evaluator::EndTransaction(Transaction* t, bool committed) {
  if (slow_log_) NoteEnd(t, committed);
  engine_->locks().Release(&t->locks);
  if (t->has_snapshot) engine_->snapshots().Release(t->snapshot);
  if (!sel_index_.empty()) {
    for (Selection* s : t->selections) sel_index_.erase(s->name);
  }
  // One pass, not a search per selection: a bulk load's transaction has
  // one selection per created document (a search each made it quadratic).
  size_t keep = 0;
  for (size_t i = 0; i < sels_.size(); ++i) {
    if (sels_[i]->txn == t) {
      RecycleSelection(std::move(sels_[i]));
      continue;
    }
    if (keep != i) sels_[keep] = std::move(sels_[i]);
    ++keep;
  }
  sels_.resize(keep);
  if (sels_.size() <= 8 && !sel_index_.empty()) sel_index_.clear();  // clear() touches every bucket
  if (pending_txn_ == t) {
    pending_.reset();
    pending_txn_ = nullptr;
  }
  if (!committed) engine_->counters().Add(EngineCounters::kAborts);
  engine_->counters().Add(EngineCounters::kActiveTransactions, -1);
  auto it = std::find_if(txns_.begin(), txns_.end(), [&](const auto& x) { return x.get() == t; });
  RecycleTransaction(std::move(*it));
  txns_.erase(it);
  if (txns_.empty() && !retired_collections_.empty()) retired_collections_.clear();
}

// Finished transactions and selections are kept for reuse, so a steady
// stream of transactions allocates (almost) nothing.
std::unique_ptr<Evaluator::Transaction> Evaluator::TakeTransaction() {
  if (free_txns_.empty()) {
    auto t = std::make_unique<Transaction>();
    t->locks.set_owner(owner_);
    return t;
  }
  std::unique_ptr<Transaction> t = std::move(free_txns_.back());
  free_txns_.pop_back();
  return t;
}

void Evaluator::RecycleTransaction(std::unique_ptr<Transaction> t) {
  t->stage = Transaction::Stage::kSelecting;
  t->selections.clear();
  t->read_only = false;
  t->has_snapshot = false;
  t->workspace.clear();
  t->attempts = 0;
  t->cluster_epoch = 0;
  t->write_ranges.clear();
  t->unique_keys.clear();
  t->acquire_began = t->acquired_at = {};
  t->statements.clear();
  t->statements_dropped = 0;
  if (free_txns_.size() < 16) free_txns_.push_back(std::move(t));
}

std::unique_ptr<Evaluator::Selection> Evaluator::TakeSelection() {
  if (free_sels_.empty()) return std::make_unique<Selection>();
  std::unique_ptr<Selection> s = std::move(free_sels_.back());
  free_sels_.pop_back();
  return s;
}

void Evaluator::RecycleSelection(std::unique_ptr<Selection> s) {
  s->multi = s->created = false;
  s->collection = nullptr;
  s->by_ids = false;
  s->ids.clear();
  s->docs.clear();
  s->order = OrderSpec();
  s->plan = Plan();
  s->range_locks.clear();
  s->predicted.clear();
  s->whole_collection = false;
  s->hits.clear();
  s->hit_changes.clear();
  s->redo = Selection::Redo::kNone;
  s->missed.clear();
  if (free_sels_.size() < 64) free_sels_.push_back(std::move(s));
}

void Evaluator::Fail(Status st, Transaction* t) {
  if (t != nullptr) {
    st.AppendMessage("; transaction " + t->name + " closed");
    EndTransaction(t, false);
  }
  RespondError(st);
}

void Evaluator::FailNamed(Status st, const Named& named) {
  Transaction* t = named.txn.empty() ? nullptr : FindTransaction(named.txn);
  if (t == nullptr && !named.selection.empty()) {
    if (Selection* s = FindSelection(named.selection)) t = s->txn;
  }
  Fail(std::move(st), t);
}

// ---------------------------------------------------------------------------
// Responses

void Evaluator::EndResponse(ResponseKind kind, ErrorCode code) {
  marks_.push_back(ResponseMark{kind, code, mark_begin_, out_.size() - mark_begin_});
  out_ += '\n';
}

void Evaluator::RespondOk(std::string_view word) {
  BeginResponse();
  char line[32];
  size_t n = 0;
  std::memcpy(line, "(ok ", 4);
  n = 4 + word.copy(line + 4, sizeof line - 6);
  line[n++] = ')';
  out_.append(line, n);
  EndResponse(ResponseKind::kOk, ErrorCode::kOk);
}

void Evaluator::RespondOkCount(std::string_view word, uint64_t n) {
  BeginResponse();
  out_ += "(ok ";
  out_ += word;
  out_ += ' ';
  out_ += std::to_string(n);
  out_ += ')';
  EndResponse(ResponseKind::kOk, ErrorCode::kOk);
}

void Evaluator::RespondJson(std::string_view json) {
  BeginResponse();
  out_ += json;
  EndResponse(ResponseKind::kJson, ErrorCode::kOk);
}

void Evaluator::RespondError(const Status& st) {
  BeginResponse();
  out_ += "(error ";
  out_ += st.code_name();
  out_ += ' ';
  AppendJson(Value(ToValidUtf8(st.message())), &out_);  // messages may quote what the client sent
  out_ += ')';
  EndResponse(ResponseKind::kError, st.code());
}

// ---------------------------------------------------------------------------
// Reading through the workspace

DocView Evaluator::View(Transaction* t, Selection* s, size_t i) const {
  const Selection::Bound& b = s->docs[i];
  if (!t->workspace.empty()) {
    auto it = t->workspace.find(WorkspaceKey{s->collection, b.id});
    if (it != t->workspace.end()) return it->second.deleted ? DocView() : it->second.view();
  }
  return b.committed ? b.committed->view() : DocView();
}

bool Evaluator::Visible(Transaction* t, Selection* s, size_t i) const {
  const Selection::Bound& b = s->docs[i];
  if (!t->workspace.empty()) {
    auto it = t->workspace.find(WorkspaceKey{s->collection, b.id});
    if (it != t->workspace.end()) return !it->second.deleted;
  }
  return b.committed != nullptr;
}

void Evaluator::AppendDocJson(Transaction* t, Selection* s, size_t i, std::string* out) const {
  const Selection::Bound& b = s->docs[i];
  if (!t->workspace.empty()) {
    auto it = t->workspace.find(WorkspaceKey{s->collection, b.id});
    if (it != t->workspace.end()) {
      if (it->second.rendered) {
        out->append(it->second.rendered->json());
      } else {
        AppendJson(it->second.value, out);
      }
      return;
    }
  }
  out->append(b.committed->json());  // rendered once, at commit
}

// ---------------------------------------------------------------------------
// Statements

void Evaluator::Open() {
  if (Transaction* live = FindTransaction(stmt_->txn)) {
    return Fail(Error(ErrorCode::kDuplicateName, "transaction " + stmt_->txn + " is already live"), live);
  }
  if (txns_.size() >= engine_->options().max_transactions_per_session) {
    return RespondError(Error(ErrorCode::kLimit, "too many live transactions on this connection (limit " +
                                                     std::to_string(engine_->options().max_transactions_per_session) + ")"));
  }
  std::unique_ptr<Transaction> t = TakeTransaction();
  t->name = stmt_->txn;
  txns_.push_back(std::move(t));
  engine_->counters().Add(EngineCounters::kActiveTransactions);
  RespondOk("opened");
}

void Evaluator::Select(bool multi) {
  const bool caught_up = std::exchange(select_caught_up_, false);
  Transaction* t = RequireTransaction(stmt_->txn);
  if (t == nullptr) return;
  if (t->stage != Transaction::Stage::kSelecting) {
    return Fail(Error(ErrorCode::kStage, "transaction " + t->name + " has already acquired; select comes before acquire"), t);
  }
  if (FindSelection(stmt_->selection) != nullptr) {
    return Fail(Error(ErrorCode::kDuplicateName, "selection " + stmt_->selection + " is already live"), t);
  }
  if (t->selections.size() >= engine_->options().max_selections_per_transaction) {
    return Fail(Error(ErrorCode::kLimit, "too many selections in transaction " + t->name), t);
  }
  ResourceId lock_name;
  Collection* c = UseCollection(stmt_->collection, &lock_name);
  if (c == nullptr) {
    if (!caught_up && engine_->cluster() != nullptr) return CatchUpAndSelect(t, multi);
    return Fail(Error(ErrorCode::kUnknownCollection, "no collection named " + stmt_->collection), t);
  }
  std::unique_ptr<Selection> s = TakeSelection();
  s->name = stmt_->selection;
  s->txn = t;
  s->lock = stmt_->lock;
  s->multi = multi;
  s->collection_name = stmt_->collection;
  s->collection = c;
  s->lock_name = lock_name;
  s->ids.clear();
  s->order = stmt_->order;
  s->by_ids = stmt_->by_id;
  if (stmt_->by_id) {
    // The id list is the whole condition. (The statement may be a cached
    // one, so it is left as it is.)
    s->condition.op = Expr::Op::kTrue;
    s->condition.args.clear();
  } else {
    std::swap(s->condition, stmt_->condition);
  }
  if (stmt_->by_id) {
    s->ids.push_back(stmt_->id);
  } else if (auto ids = CandidateIds(s->condition)) {
    s->by_ids = true;
    s->ids = std::move(*ids);
    // A lone = or in that lists ids holds for every document found by them
    // (see CandidateIds): no test per document, which would parse each one
    // and compare it with every literal.
    if (s->condition.op == Expr::Op::kEq || s->condition.op == Expr::Op::kIn) {
      s->condition.op = Expr::Op::kTrue;
      s->condition.args.clear();
    }
  }
  AddSelection(std::move(s));
  RespondOk("selected");
}

void Evaluator::Acquire() {
  Transaction* t = RequireTransaction(stmt_->txn);
  if (t == nullptr) return;
  if (t->stage != Transaction::Stage::kSelecting) {
    return Fail(Error(ErrorCode::kStage, "transaction " + t->name + " has already acquired"), t);
  }
  t->read_only = !t->selections.empty() && std::all_of(t->selections.begin(), t->selections.end(), [](Selection* s) {
    return s->lock == LockKind::kRead;
  });
  for (Selection* s : t->selections) {
    if (s->collection->dropped()) s->collection = UseCollection(s->collection_name, &s->lock_name);
    if (s->collection == nullptr) {
      return Fail(Error(ErrorCode::kUnknownCollection, "collection " + s->collection_name + " no longer exists"), t);
    }
    PlanAccess(s);
  }
  if (stmt_->stale_millis >= 0 && !t->read_only) {
    return Fail(Error(ErrorCode::kLockMode, "(stale …) is for read-only transactions, and " + t->name +
                                                " has a write selection or none"),
                t);
  }
  t->acquire_millis = stmt_->millis;
  t->attempts = 0;
  if (slow_log_) t->acquire_began = std::chrono::steady_clock::now();
  if (ClusterRole* cluster = engine_->cluster()) {
    // (stale MS), only read-only transactions get here with: this node may be current enough.
    if (stmt_->stale_millis >= 0 && cluster->CurrentWithin(std::chrono::milliseconds(stmt_->stale_millis))) {
      return RequestLocks(t);
    }
    if (t->read_only) return ReadBarrier(t);  // then RequestLocks
    Status st = cluster->AcceptsUpdates(&t->cluster_epoch);
    if (!st.ok()) return Fail(std::move(st), t);
  }
  RequestLocks(t);
}

void Evaluator::FinishAcquire(Transaction* t) {
  bool retry = false;
  Status st = Bind(t, &retry);
  if (!st.ok()) return Fail(std::move(st), t);
  if (retry) {
    // Nothing was read or written yet: let every lock go and ask again.
    engine_->locks().Release(&t->locks);
    if (t->has_snapshot) engine_->snapshots().Release(t->snapshot);
    t->has_snapshot = false;
    ++t->attempts;
    RedoPredictions(t);
    return RequestLocks(t);
  }
  t->stage = Transaction::Stage::kAcquired;
  if (slow_log_) t->acquired_at = std::chrono::steady_clock::now();
  RespondOk("acquired");
}

Status Evaluator::Bind(Transaction* t, bool* retry) {
  uint64_t ts = kLatest;
  if (t->read_only) {
    t->snapshot = engine_->snapshots().Acquire();
    t->has_snapshot = true;
    ts = t->snapshot;
  }
  for (Selection* s : t->selections) {
    // The locks now keep the collection alive; check it was not dropped
    // between acquire's request and the grant. If one of the same name
    // replaced it — a rmcoll and mkcoll, or on a cluster node a snapshot
    // installed while the read barrier waited — the transaction has read
    // nothing yet: it asks again, for that one.
    if (s->collection->dropped()) {
      Collection* now = UseCollection(s->collection_name, &s->lock_name);
      if (now == nullptr) return Error(ErrorCode::kUnknownCollection, "collection " + s->collection_name + " was dropped");
      s->collection = now;
      s->redo = Selection::Redo::kPlan;
      *retry = true;
      return Status::Ok();
    }
    s->docs.clear();
    if (s->by_index()) {
      Status st = BindIndexed(t, s, ts, retry);
      if (!st.ok() || *retry) return st;
      continue;
    }
    // A select stops at the first match in _id order, unless ordered.
    bool all = s->multi || s->order.ordered;
    if (s->by_ids) {
      for (const DocId& id : s->ids) {
        DocRef doc = s->collection->Get(id, ts);
        // `true` (every _id select) needs no look at the document, so a
        // recovered one is not parsed just to be returned.
        if (doc && (s->condition.op == Expr::Op::kTrue || Test(s->condition, doc->view()))) {
          s->docs.push_back(Selection::Bound{id, std::move(doc)});
          if (!all) break;
        }
      }
    } else {
      s->collection->Scan(ts, [&](const DocId& id, const DocRef& doc) {
        if (s->condition.op != Expr::Op::kTrue && !Test(s->condition, doc->view())) return true;
        s->docs.push_back(Selection::Bound{id, doc});
        return all;
      });
    }
    if (s->order.ordered || s->order.limit >= 0) OrderAndLimit(s);
  }
  return Status::Ok();
}

// Insert, read, update, delete and check are in read_write_statements.cc.

void Evaluator::Commit() {
  Transaction* t = RequireTransaction(stmt_->txn);
  if (t == nullptr) return;
  if (t->stage != Transaction::Stage::kAcquired) {
    return Fail(Error(ErrorCode::kStage, "transaction " + t->name + " must acquire before it commits"), t);
  }
  std::vector<Write> writes;
  writes.reserve(t->workspace.size());
  for (auto& [key, e] : t->workspace) {
    if (e.deleted && e.created) continue;  // never existed outside this transaction
    DocRef doc = e.deleted ? nullptr : e.rendered ? std::move(e.rendered) : MakeStoredDoc(e.value);
    Write& w = writes.emplace_back();
    w.collection = e.collection;
    w.id = key.id;
    w.doc = std::move(doc);
    w.keys_unchanged = !e.keys_moved && !e.created && !e.deleted;
  }
  if (writes.empty()) return FinishCommit(t, Status::Ok());  // nothing to make durable
  // The log completes the commit once it is durable — at once in memory,
  // after the group's sync on disk. The session waits like an acquire does,
  // holding its locks.
  auto p = std::make_shared<PendingWait>();
  p->wakeup = wakeup_;
  engine_->CommitAsync(std::move(writes), PendingWait::Completer(p), t->cluster_epoch);
  if (p->Decided()) return FinishCommit(t, std::move(p->status));
  t->stage = Transaction::Stage::kCommitting;
  pending_ = std::move(p);
  pending_txn_ = t;
  pending_kind_ = WaitKind::kCommit;
}

void Evaluator::FinishCommit(Transaction* t, Status st) {
  if (!st.ok()) return Fail(std::move(st), t);
  EndTransaction(t, true);
  RespondOk("committed");
}

void Evaluator::Close() {
  Transaction* t = RequireTransaction(stmt_->txn);
  if (t == nullptr) return;
  EndTransaction(t, false);
  RespondOk("closed");
}

void Evaluator::MakeCollection() {
  Status st = engine_->MakeCollection(stmt_->collection);
  if (!st.ok()) return RespondError(st);
  RespondOk("mkcoll");
}

void Evaluator::DropCollection() {
  Status st = engine_->DropCollection(stmt_->collection);
  if (!st.ok()) return RespondError(st);
  RespondOk("rmcoll");
}

void Evaluator::Collections() {
  Array names;
  for (std::string& n : engine_->CollectionNames()) names.emplace_back(std::move(n));
  std::string json;
  AppendJson(Value(std::move(names)), &json);
  RespondJson(json);
}

void Evaluator::Checkpoint() {
  Status st = engine_->Checkpoint();
  if (!st.ok()) return RespondError(st);
  RespondOk("checkpoint");
}

void Evaluator::Stats() {
  FlushStatementCount();
  RespondJson(engine_->StatsJson());
}

void Evaluator::Auth() {
  if (password_.empty()) return RespondOk("auth");
  // Constant-time comparison: the time taken does not depend on where the
  // first wrong byte is.
  const std::string& given = stmt_->password;
  unsigned char diff = given.size() == password_.size() ? 0 : 1;
  for (size_t i = 0; i < password_.size(); ++i) {
    diff |= static_cast<unsigned char>(password_[i] ^ (i < given.size() ? given[i] : 0));
  }
  if (diff == 0) {
    authenticated_ = true;
    return RespondOk("auth");
  }
  authenticated_ = false;
  if (++auth_failures_ >= 3) must_close_ = true;
  RespondError(Error(ErrorCode::kAuth, "wrong password"));
}

}  // namespace parendb
