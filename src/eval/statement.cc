#include "eval/statement.h"

#include "doc/doc_id.h"

#include <array>

namespace parendb {
namespace {

struct Spec {
  std::string_view name;
  StatementKind kind;
  int min_args;
  int max_args;
  int txn_pos;  // argument index naming T, or -1
  int sel_pos;  // argument index naming S, or -1
};

// Argument positions count from 1 (0 is the statement name).
constexpr std::array<Spec, 27> kSpecs = {{
    {"open", StatementKind::kOpen, 1, 1, 1, -1},
    {"select", StatementKind::kSelect, 5, 7, 2, 1},
    {"selects", StatementKind::kSelects, 5, 7, 2, 1},
    {"acquire", StatementKind::kAcquire, 1, 3, 1, -1},
    {"create", StatementKind::kCreate, 3, 3, 2, 1},
    {"readall", StatementKind::kReadAll, 1, 3, -1, 1},
    {"read", StatementKind::kRead, 1, 1 << 20, -1, 1},
    {"update", StatementKind::kUpdate, 3, 1 << 20, -1, 1},
    {"updateall", StatementKind::kUpdateAll, 1, 1, -1, 1},
    {"delete", StatementKind::kDelete, 1, 1, -1, 1},
    {"check", StatementKind::kCheck, 2, 2, -1, 1},
    {"commit", StatementKind::kCommit, 1, 1, 1, -1},
    {"close", StatementKind::kClose, 1, 1, 1, -1},
    {"mkcoll", StatementKind::kMakeCollection, 1, 1, -1, -1},
    {"rmcoll", StatementKind::kDropCollection, 1, 1, -1, -1},
    {"colls", StatementKind::kCollections, 0, 0, -1, -1},
    {"ping", StatementKind::kPing, 0, 0, -1, -1},
    {"stats", StatementKind::kStats, 0, 0, -1, -1},
    {"checkpoint", StatementKind::kCheckpoint, 0, 0, -1, -1},
    {"auth", StatementKind::kAuth, 1, 1, -1, -1},
    {"mkindex", StatementKind::kMakeIndex, 2, 3, -1, -1},
    {"rmindex", StatementKind::kDropIndex, 2, 2, -1, -1},
    {"indexes", StatementKind::kIndexes, 1, 1, -1, -1},
    {"explain", StatementKind::kExplain, 1, 1, -1, 1},
    {"backup", StatementKind::kBackup, 1, 1, -1, -1},
    {"cancel", StatementKind::kCancel, 0, 0, -1, -1},
    {"cluster", StatementKind::kCluster, 0, 3, -1, -1},
}};

static_assert(kSpecs.size() == kStatementKindCount);

constexpr std::string_view kReserved[] = {"r", "wn", "wb", "coll", "f", "true", "false", "null"};

Status Err(ErrorCode code, std::string msg) { return Status(code, std::move(msg)); }

class Compiler {
 public:
  Compiler(const DatumTree& t, const Spec& spec, Statement* out, const std::vector<uint32_t>& args)
      : t_(t), spec_(spec), out_(out), args_(args) {}

  Status Run() {
    int argc = static_cast<int>(args_.size()) - 1;
    if (argc < spec_.min_args || argc > spec_.max_args) return ArityError(argc);
    Statement& s = *out_;
    switch (spec_.kind) {
      case StatementKind::kOpen:
      case StatementKind::kCommit:
      case StatementKind::kClose:
        return NameAt(1, "transaction", &s.txn);
      case StatementKind::kSelect:
      case StatementKind::kSelects:
        return Select();
      case StatementKind::kAcquire:
        return Acquire();
      case StatementKind::kCreate: {
        Status st = NameAt(1, "selection", &s.selection);
        if (st.ok()) st = NameAt(2, "transaction", &s.txn);
        if (st.ok()) st = CollAt(3);
        return st;
      }
      case StatementKind::kReadAll: {
        Status st = NameAt(1, "selection", &s.selection);
        return st.ok() ? Window(2) : st;
      }
      case StatementKind::kUpdateAll:
      case StatementKind::kDelete:
        return NameAt(1, "selection", &s.selection);
      case StatementKind::kRead:
        return Read();
      case StatementKind::kUpdate:
        return Update();
      case StatementKind::kCheck: {
        Status st = NameAt(1, "selection", &s.selection);
        if (st.ok()) st = CompileCondition(t_, args_[2], &s.condition);
        return st;
      }
      case StatementKind::kMakeCollection:
      case StatementKind::kDropCollection:
      case StatementKind::kIndexes:
        return NameAt(1, "collection", &s.collection);
      case StatementKind::kMakeIndex:
      case StatementKind::kDropIndex:
        return IndexDefinition();
      case StatementKind::kExplain:
        return NameAt(1, "selection", &s.selection);
      case StatementKind::kBackup: {
        const Datum& d = t_[args_[1]];
        std::string_view w = d.kind == DatumKind::kSymbol ? d.text : std::string_view();
        if (w == "begin") {
          s.backup_step = BackupStep::kBegin;
        } else if (w == "next") {
          s.backup_step = BackupStep::kNext;
        } else if (w == "end") {
          s.backup_step = BackupStep::kEnd;
        } else {
          return Err(ErrorCode::kType, "backup takes begin, next or end");
        }
        return Status::Ok();
      }
      case StatementKind::kCluster:
        return Cluster();
      case StatementKind::kAuth: {
        const Datum& d = t_[args_[1]];
        if (d.kind != DatumKind::kString) return Err(ErrorCode::kType, "auth takes the password as a string");
        s.password = std::string(d.text);
        return Status::Ok();
      }
      default:
        return Status::Ok();
    }
  }

 private:
  Status ArityError(int argc) {
    std::string want = spec_.min_args == spec_.max_args ? std::to_string(spec_.min_args)
                       : spec_.max_args > 1000      ? "at least " + std::to_string(spec_.min_args)
                                                    : std::to_string(spec_.min_args) + " or " + std::to_string(spec_.max_args);
    return Err(ErrorCode::kArity, std::string(spec_.name) + " takes " + want + " argument" +
                                      (want == "1" ? "" : "s") + ", got " + std::to_string(argc));
  }

  Status NameAt(size_t pos, std::string_view what, std::string* out) {
    const Datum& d = t_[args_[pos]];
    if (d.kind != DatumKind::kSymbol) {
      return Err(ErrorCode::kBadName, "expected a " + std::string(what) + " name (a symbol), found " +
                                          (d.kind == DatumKind::kString ? "a string" : d.kind == DatumKind::kList ? "a list" : "a literal"));
    }
    if (!IsValidName(d.text)) {
      return Err(ErrorCode::kBadName, "bad " + std::string(what) + " name " + std::string(d.text) +
                                          ": names match [A-Za-z_][A-Za-z0-9_-]* and are not reserved words");
    }
    out->assign(d.text);
    return Status::Ok();
  }

  Status CollAt(size_t pos) {
    uint32_t at = args_[pos];
    const Datum& d = t_[at];
    if (d.kind != DatumKind::kList || d.count != 2 || t_[at + 1].kind != DatumKind::kSymbol || t_[at + 1].text != "coll") {
      return Err(ErrorCode::kType, "expected (coll NAME) naming a collection");
    }
    const Datum& name = t_[at + 2];
    if (name.kind != DatumKind::kSymbol || !IsValidName(name.text)) {
      return Err(ErrorCode::kBadName, "bad collection name in (coll …)");
    }
    out_->collection.assign(name.text);
    return Status::Ok();
  }

  Status Select() {
    Statement& s = *out_;
    Status st = NameAt(1, "selection", &s.selection);
    if (!st.ok()) return st;
    st = NameAt(2, "transaction", &s.txn);
    if (!st.ok()) return st;
    const Datum& lock = t_[args_[3]];
    std::string_view l = lock.kind == DatumKind::kSymbol ? lock.text : std::string_view();
    if (l == "r") {
      s.lock = LockKind::kRead;
    } else if (l == "wn") {
      s.lock = LockKind::kWriteNonBlocking;
    } else if (l == "wb") {
      s.lock = LockKind::kWriteBlocking;
    } else {
      return Err(ErrorCode::kLockMode, "the lock must be r, wn or wb");
    }
    st = CollAt(4);
    if (!st.ok()) return st;
    st = OrderAndLimit();
    if (!st.ok()) return st;
    s.by_id = false;
    if (PinsOneId(args_[5], &s.id)) {
      // (= (f _id) V): the _id index answers it; no expression to build.
      s.by_id = true;
      s.condition.op = Expr::Op::kTrue;
      s.condition.args.clear();
      return Status::Ok();
    }
    return CompileCondition(t_, args_[5], &s.condition);
  }

  // Whether the list at `at` starts with the symbol head.
  bool HeadIs(uint32_t at, std::string_view head) const {
    return t_[at].kind == DatumKind::kList && t_[at].count > 0 && t_[at + 1].kind == DatumKind::kSymbol &&
           t_[at + 1].text == head;
  }

  // select's optional (order (f P) asc|desc) and (limit N), in that order.
  Status OrderAndLimit() {
    OrderSpec& o = out_->order;
    o = OrderSpec();
    size_t i = 6;
    if (i < args_.size() && HeadIs(args_[i], "order")) {
      uint32_t at = args_[i];
      if (t_[at].count != 3) return Err(ErrorCode::kArity, "order takes a field path and asc or desc: (order (f P) asc)");
      uint32_t p = t_.Next(at + 1), dir = t_.Next(p);
      if (!HeadIs(p, "f")) return Err(ErrorCode::kType, "order takes a field path (f …) first");
      Status st = CompilePath(t_, p, &o.path);
      if (!st.ok()) return st;
      std::string_view d = t_[dir].kind == DatumKind::kSymbol ? t_[dir].text : std::string_view();
      if (d != "asc" && d != "desc") return Err(ErrorCode::kType, "order's direction must be asc or desc");
      o.ordered = true;
      o.desc = d == "desc";
      ++i;
    }
    if (i < args_.size() && HeadIs(args_[i], "limit")) {
      uint32_t at = args_[i];
      if (t_[at].count != 2) return Err(ErrorCode::kArity, "limit takes one number: (limit 10)");
      const Datum& n = t_[at + 2];
      if (n.kind != DatumKind::kInt || n.integer < 0) return Err(ErrorCode::kType, "limit takes a non-negative integer");
      o.limit = n.integer;
      ++i;
    }
    if (i < args_.size()) {
      return Err(ErrorCode::kType, HeadIs(args_[i], "order") ? "order comes before limit"
                                                           : "after the condition, select takes only (order (f P) asc|desc) "
                                                             "and then (limit N)");
    }
    return Status::Ok();
  }

  // readall's and read's optional (skip N) and (limit N), in that order,
  // from argument `i` to the end: a window on the selection's documents.
  Status Window(size_t i) {
    Statement& s = *out_;
    s.skip = 0;
    s.take = -1;
    for (std::string_view clause : {"skip", "limit"}) {
      if (i >= args_.size() || !HeadIs(args_[i], clause)) continue;
      uint32_t at = args_[i];
      if (t_[at].count != 2 || t_[at + 2].kind != DatumKind::kInt || t_[at + 2].integer < 0) {
        return Err(ErrorCode::kType, std::string(clause) + " takes one non-negative integer: (" + std::string(clause) + " 100)");
      }
      (clause == "skip" ? s.skip : s.take) = t_[at + 2].integer;
      ++i;
    }
    if (i < args_.size()) {
      return Err(ErrorCode::kType, HeadIs(args_[i], "skip") ? "skip comes before limit"
                                                          : "after the selection, readall takes only (skip N) and then (limit N)");
    }
    return Status::Ok();
  }

  // (mkindex C (f P …) [unique]) and (rmindex C (f P …)).
  Status IndexDefinition() {
    Statement& s = *out_;
    Status st = NameAt(1, "collection", &s.collection);
    if (!st.ok()) return st;
    if (!HeadIs(args_[2], "f")) return Err(ErrorCode::kType, "an index is on a field path (f …)");
    s.paths.clear();
    st = CompilePath(t_, args_[2], &s.paths.emplace_back());
    if (!st.ok()) return st;
    s.unique = false;
    if (args_.size() == 4) {
      const Datum& u = t_[args_[3]];
      if (u.kind != DatumKind::kSymbol || u.text != "unique") {
        return Err(ErrorCode::kType, "mkindex takes only the word unique after the path");
      }
      s.unique = true;
    }
    return Status::Ok();
  }

  // Whether the condition at `at` is exactly (= (f _id) V) or (= V (f _id))
  // with V an integer or a string.
  bool PinsOneId(uint32_t at, DocId* id) const {
    const Datum& c = t_[at];
    if (c.kind != DatumKind::kList || c.count != 3 || t_[at + 1].kind != DatumKind::kSymbol || t_[at + 1].text != "=") {
      return false;
    }
    uint32_t a = t_.Next(at + 1), b = t_.Next(a);
    auto is_id_path = [&](uint32_t p) {
      return t_[p].kind == DatumKind::kList && t_[p].count == 2 && t_[p + 1].kind == DatumKind::kSymbol &&
             t_[p + 1].text == "f" && (t_[p + 2].kind == DatumKind::kSymbol || t_[p + 2].kind == DatumKind::kString) &&
             t_[p + 2].text == "_id";
    };
    uint32_t lit = is_id_path(a) ? b : is_id_path(b) ? a : 0;
    if (lit == 0) return false;
    if (t_[lit].kind == DatumKind::kInt) {
      *id = DocId::Int(t_[lit].integer);
      return true;
    }
    if (t_[lit].kind == DatumKind::kString) {
      id->is_int = false;
      id->s.assign(t_[lit].text);
      return true;
    }
    return false;
  }

  // (cluster), (cluster read-index), (cluster add N "HOST:PORT"),
  // (cluster remove N), (cluster transfer-leader [N]).
  Status Cluster() {
    Statement& s = *out_;
    size_t argc = args_.size() - 1;
    if (argc == 0) return Status::Ok();
    const Datum& w = t_[args_[1]];
    std::string_view word = w.kind == DatumKind::kSymbol ? w.text : std::string_view();
    auto node_at = [&](size_t i) -> Status {
      const Datum& n = t_[args_[i]];
      if (n.kind != DatumKind::kInt || n.integer <= 0) return Err(ErrorCode::kType, "cluster " + std::string(word) + " takes a node id (a positive integer)");
      s.node = n.integer;
      return Status::Ok();
    };
    if (word == "read-index" && argc == 1) {
      s.read_index = true;
      return Status::Ok();
    }
    if (word == "add" && argc == 3) {
      s.cluster_op = 1;
      const Datum& a = t_[args_[3]];
      if (a.kind != DatumKind::kString) return Err(ErrorCode::kType, "cluster add takes the node's Raft address as a string \"HOST:PORT\"");
      s.address = std::string(a.text);
      return node_at(2);
    }
    if (word == "remove" && argc == 2) {
      s.cluster_op = 2;
      return node_at(2);
    }
    if (word == "transfer-leader" && argc <= 2) {
      s.cluster_op = 3;
      return argc == 2 ? node_at(2) : Status::Ok();
    }
    return Err(ErrorCode::kType,
               "cluster takes nothing, read-index, add N \"HOST:PORT\", remove N or transfer-leader [N]");
  }

  Status Acquire() {
    Statement& s = *out_;
    Status st = NameAt(1, "transaction", &s.txn);
    if (!st.ok()) return st;
    s.millis = -1;
    s.stale_millis = -1;
    size_t i = 2;
    if (i < args_.size() && !HeadIs(args_[i], "stale")) {
      const Datum& d = t_[args_[i++]];
      if (d.kind != DatumKind::kInt || d.integer < 0) {
        return Err(ErrorCode::kType, "acquire's timeout must be a non-negative integer of milliseconds");
      }
      s.millis = d.integer;
    }
    // (stale MS): a read-only transaction may see the state of up to MS
    // milliseconds ago (lang-docs/cluster.md).
    if (i < args_.size()) {
      uint32_t at = args_[i++];
      if (!HeadIs(at, "stale") || t_[at].count != 2 || t_[at + 2].kind != DatumKind::kInt || t_[at + 2].integer < 0) {
        return Err(ErrorCode::kType,
                   "acquire takes a timeout in milliseconds and then (stale MS), MS a non-negative integer");
      }
      s.stale_millis = t_[at + 2].integer;
    }
    if (i != args_.size()) return Err(ErrorCode::kType, "acquire takes a timeout in milliseconds and then (stale MS)");
    return Status::Ok();
  }

  Status Read() {
    Statement& s = *out_;
    Status st = NameAt(1, "selection", &s.selection);
    if (!st.ok()) return st;
    s.paths.clear();
    size_t end = args_.size();
    while (end > 2 && (HeadIs(args_[end - 1], "skip") || HeadIs(args_[end - 1], "limit"))) --end;
    st = Window(end);
    if (!st.ok()) return st;
    for (size_t i = 2; i < end; ++i) {
      uint32_t at = args_[i];
      if (t_[at].kind != DatumKind::kList || t_[at].count == 0 || t_[at + 1].text != "f" ||
          t_[at + 1].kind != DatumKind::kSymbol) {
        return Err(ErrorCode::kType, "read takes field paths (f …)");
      }
      st = CompilePath(t_, at, &s.paths.emplace_back());
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  Status Update() {
    Statement& s = *out_;
    Status st = NameAt(1, "selection", &s.selection);
    if (!st.ok()) return st;
    if ((args_.size() - 2) % 2 != 0) return Err(ErrorCode::kArity, "update takes pairs of a field path and an expression");
    s.paths.clear();
    s.values.clear();
    for (size_t i = 2; i < args_.size(); i += 2) {
      uint32_t at = args_[i];
      if (t_[at].kind != DatumKind::kList || t_[at].count == 0 || t_[at + 1].text != "f" ||
          t_[at + 1].kind != DatumKind::kSymbol) {
        return Err(ErrorCode::kType, "update takes a field path (f …) before each expression");
      }
      st = CompilePath(t_, at, &s.paths.emplace_back());
      if (!st.ok()) return st;
      st = CompileExpression(t_, args_[i + 1], &s.values.emplace_back());
      if (!st.ok()) return st;
    }
    return Status::Ok();
  }

  const DatumTree& t_;
  const Spec& spec_;
  Statement* out_;
  const std::vector<uint32_t>& args_;
};

}  // namespace

namespace {

// Reserved words bucketed by first letter: a name is checked against the
// two or three words that share its first letter, not all 28.
struct ReservedIndex {
  std::vector<std::string_view> by_first[128];
  ReservedIndex() {
    for (std::string_view r : kReserved) by_first[static_cast<unsigned char>(r[0])].push_back(r);
    for (const Spec& s : kSpecs) by_first[static_cast<unsigned char>(s.name[0])].push_back(s.name);
  }
};

bool IsReserved(std::string_view name) {
  static const ReservedIndex index;
  for (std::string_view r : index.by_first[static_cast<unsigned char>(name[0]) & 0x7f]) {
    if (r == name) return true;
  }
  return false;
}

}  // namespace

bool IsValidName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name.substr(1)) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '-') return false;
  }
  return !IsReserved(name);
}

std::string_view StatementName(StatementKind kind) {
  for (const Spec& spec : kSpecs) {
    if (spec.kind == kind) return spec.name;
  }
  return "?";
}

Status CompileStatement(const DatumTree& t, Statement* out, Named* named) {
  *named = Named();
  const Datum& root = t[0];
  if (root.count == 0 || t[1].kind != DatumKind::kSymbol) {
    return Err(ErrorCode::kUnknownStatement, "a statement starts with its name, e.g. (ping)");
  }
  std::string_view head = t[1].text;
  const Spec* spec = nullptr;
  for (const Spec& s : kSpecs) {
    if (s.name == head) spec = &s;
  }
  if (spec == nullptr) return Err(ErrorCode::kUnknownStatement, "unknown statement " + std::string(head));

  // Record the names at T's and S's positions before anything can fail.
  thread_local std::vector<uint32_t> args;
  t.Children(0, &args);
  auto symbol_at = [&](int pos) -> std::string {
    if (pos < 0 || static_cast<size_t>(pos) >= args.size() || t[args[pos]].kind != DatumKind::kSymbol) return "";
    return std::string(t[args[pos]].text);
  };
  named->txn = symbol_at(spec->txn_pos);
  named->selection = symbol_at(spec->sel_pos);
  named->takes_document = spec->kind == StatementKind::kCreate || spec->kind == StatementKind::kUpdateAll;

  out->kind = spec->kind;
  return Compiler(t, *spec, out, args).Run();
}

const std::vector<StatementHelp>& StatementHelpTable() {
  static const std::vector<StatementHelp> kHelp = {
      {"open", "(open t)", "start transaction t in its selection stage"},
      {"select", "(select a t wn (coll acc) (= (f _id) 1))", "bind a to the matching document with the smallest _id"},
      {"selects", "(selects old t r (coll people) (> (f age) 60))", "bind to every matching document, in _id order"},
      {"acquire", "(acquire t) or (acquire t 500) or (acquire t (stale 100))",
       "take all of t's locks at once (optional timeout in ms; a cluster's reads may be up to (stale MS) old)"},
      {"create", "(create n t (coll people)) {\"name\": \"Ada\"}", "insert the JSON object that follows"},
      {"readall", "(readall a)", "the selection's documents as JSON"},
      {"read", "(read a (f name) (f address city))", "only _id and the named fields"},
      {"update", "(update a (f balance) (+ (f balance) 5))", "set fields from expressions"},
      {"updateall", "(updateall a) {\"balance\": 0}", "replace every field but _id"},
      {"delete", "(delete a)", "delete the selection's documents"},
      {"check", "(check a (>= (f balance) 5))", "fail (and close t) unless every document satisfies it"},
      {"commit", "(commit t)", "make t's writes durable and visible"},
      {"close", "(close t)", "end t, discarding its writes"},
      {"mkcoll", "(mkcoll people)", "create a collection"},
      {"rmcoll", "(rmcoll people)", "drop a collection"},
      {"colls", "(colls)", "the collection names, sorted"},
      {"ping", "(ping)", "liveness check"},
      {"stats", "(stats)", "counters since start"},
      {"checkpoint", "(checkpoint)", "write a checkpoint of the committed state"},
      {"auth", "(auth \"secret\")", "authenticate (first statement, when a password is set)"},
      {"mkindex", "(mkindex people (f email) unique)", "index a field path (optionally unique)"},
      {"rmindex", "(rmindex people (f email))", "drop an index"},
      {"indexes", "(indexes people)", "the collection's indexes"},
      {"explain", "(explain a)", "how selection a finds and locks its documents"},
      {"backup", "(backup begin) (backup next) ...", "stream an online backup (use parendb backup)"},
      {"cancel", "(cancel)", "end this connection's waiting acquire at once (the console's Ctrl-C)"},
      {"cluster", "(cluster)", "this node's role, the leader and the members (a standalone server says so)"},
      {"cluster", "(cluster add 4 \"127.0.0.1:7524\") (cluster remove 4)", "change the members (on the leader)"},
  };
  return kHelp;
}

}  // namespace parendb
