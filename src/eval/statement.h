// A statement compiled from its datum tree into a checked, typed form
// (section 3 of the contract). Compilation checks shape, arity and names;
// execution (session.cc) checks stages, selections and data.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "doc/doc_id.h"
#include "eval/expr.h"
#include "index/planner.h"
#include "reader/datum.h"

namespace parendb {

enum class StatementKind : uint8_t {
  kOpen, kSelect, kSelects, kAcquire, kCreate, kReadAll, kRead, kUpdate, kUpdateAll, kDelete, kCheck,
  kCommit, kClose, kMakeCollection, kDropCollection, kCollections, kPing, kStats, kCheckpoint, kAuth,
  // v1.1 (section 10)
  kMakeIndex, kDropIndex, kIndexes, kExplain,
  // additions (lang-docs/additions.md)
  kBackup, kCancel,
  // v1.1 (section 11); (cluster read-index) is an addition
  kCluster,
};

enum class BackupStep : uint8_t { kBegin, kNext, kEnd };

enum class LockKind : uint8_t { kRead, kWriteNonBlocking, kWriteBlocking };

struct Statement {
  StatementKind kind = StatementKind::kPing;
  std::string txn;         // T
  std::string selection;   // S
  std::string collection;  // C
  LockKind lock = LockKind::kRead;
  Expr condition;              // select(s), check
  bool by_id = false;          // select(s) whose condition is exactly (= (f _id) id)
  DocId id;
  OrderSpec order;             // select(s): (order …) and (limit …)
  bool unique = false;         // mkindex
  std::vector<Path> paths;     // read, update; mkindex and rmindex: the index's path
  std::vector<Expr> values;    // update (one per path)
  int64_t skip = 0;            // readall, read: (skip N) — documents passed over
  int64_t take = -1;           // readall, read: (limit N); -1: all
  int64_t millis = -1;         // acquire: -1 means the configured default
  int64_t stale_millis = -1;   // acquire: (stale MS); -1 means current (the contract's reads)
  std::string password;        // auth
  BackupStep backup_step = BackupStep::kBegin;  // backup
  bool read_index = false;     // (cluster read-index)
  int cluster_op = 0;          // (cluster add|remove|transfer-leader …): 1, 2, 3
  int64_t node = 0;            // ... its node id
  std::string address;         // (cluster add N "HOST:PORT")

  // Whether a JSON object follows the statement on the stream.
  bool TakesDocument() const { return kind == StatementKind::kCreate || kind == StatementKind::kUpdateAll; }
};

// What a statement names, read from its positions even when it fails to
// compile, so that a failing statement closes the transaction it names.
struct Named {
  std::string txn;
  std::string selection;
  bool takes_document = false;  // create/updateall: a document follows
};

// The statement's name as written: "select", "mkcoll", ...
std::string_view StatementName(StatementKind kind);
// How many kinds there are (StatementKind values are 0..count-1).
constexpr size_t kStatementKindCount = static_cast<size_t>(StatementKind::kCluster) + 1;

// Compiles tree into *out. On failure *named says what the statement named.
Status CompileStatement(const DatumTree& tree, Statement* out, Named* named);

// [A-Za-z_][A-Za-z0-9_-]* and not a reserved word.
bool IsValidName(std::string_view name);

// Statement names with a one-line example each (the console's :help).
struct StatementHelp {
  std::string_view name;
  std::string_view example;
  std::string_view summary;
};
const std::vector<StatementHelp>& StatementHelpTable();

}  // namespace parendb
