// Conditions and expressions (section 4 of the contract), compiled once from
// the datum tree into a typed tree, then evaluated per document.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/status.h"
#include "doc/doc_id.h"
#include "doc/doc_view.h"
#include "doc/path.h"
#include "doc/value.h"
#include "reader/datum.h"

namespace parendb {

class LiteralSet;

struct Expr {
  enum class Op : uint8_t {
    // expressions
    kLiteral, kPath, kAdd, kSub, kNeg, kMul, kDiv, kMod,
    // conditions
    kTrue, kFalse, kEq, kNe, kLt, kLe, kGt, kGe, kAnd, kOr, kNot, kExists, kIn,
  };
  Op op = Op::kTrue;
  Value literal;
  Path path;
  std::vector<Expr> args;
  // kIn with many values, all literals: args[1…] as a set (shared, so
  // copying a compiled statement stays cheap).
  std::shared_ptr<const LiteralSet> in_set;
};

// Compilers. Errors: arity (operand count), type (a form of the wrong kind,
// an unknown operator).
Status CompileCondition(const DatumTree& tree, uint32_t at, Expr* out);
Status CompileExpression(const DatumTree& tree, uint32_t at, Expr* out);
// `(f NAME …)`.
Status CompilePath(const DatumTree& tree, uint32_t at, Path* out);

// Evaluates an expression against doc (a tree, or a stored version's text).
// The result points into doc's tree, into the expression's literal, or at
// *scratch. On failure returns nullptr and sets
// *error (type: arithmetic on a non-number, overflow, division by zero).
const Value* Evaluate(const Expr& e, const DocView& doc, Value* scratch, Status* error);

// Evaluates a condition; a failing expression makes its comparison false.
bool Test(const Expr& cond, const DocView& doc);


// Sets a path in doc, creating missing intermediate containers. Errors:
// bad-document for `_id`, type when a step meets a non-container.
Status Assign(const Path& path, Value value, Value* doc);

// When every document a condition can match has an `_id` from a known list,
// returns that list (sorted, unique): `(= (f _id) 7)`, `(in (f _id) 1 2)`,
// and `&`/`|` combinations. Lets select use the `_id` index and lock single
// documents instead of the collection. An `=` or `in` gets a list only when
// it is nothing but `_id` and literals, so it then holds for every document
// whose `_id` is listed (numbers compare by value: 7.0 lists _id 7).
std::optional<std::vector<DocId>> CandidateIds(const Expr& cond);

// "a.b.0" style text for messages.
std::string PathToString(const Path& path);

}  // namespace parendb
