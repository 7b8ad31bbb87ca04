#include "eval/expr.h"

#include <algorithm>
#include <cmath>

#include "doc/json.h"
#include "eval/literal_set.h"

namespace parendb {
namespace {

Status TypeError(std::string msg) { return Status(ErrorCode::kType, std::move(msg)); }
Status ArityError(std::string msg) { return Status(ErrorCode::kArity, std::move(msg)); }

std::string Head(const DatumTree& t, uint32_t at) {
  const Datum& d = t[at];
  if (d.kind == DatumKind::kList && d.count > 0 && t[at + 1].kind == DatumKind::kSymbol) {
    return std::string(t[at + 1].text);
  }
  return "";
}

std::string Describe(const DatumTree& t, uint32_t at) {
  const Datum& d = t[at];
  switch (d.kind) {
    case DatumKind::kList: return d.count == 0 ? "()" : "(" + Head(t, at) + " …)";
    case DatumKind::kSymbol: return std::string(d.text);
    case DatumKind::kString: return "a string";
    case DatumKind::kInt:
    case DatumKind::kDouble: return "a number";
    case DatumKind::kBool: return d.boolean ? "true" : "false";
    case DatumKind::kNull: return "null";
  }
  return "?";
}

bool LiteralOf(const Datum& d, Value* out) {
  switch (d.kind) {
    case DatumKind::kInt: *out = Value(d.integer); return true;
    case DatumKind::kDouble: *out = Value(d.number); return true;
    case DatumKind::kString: *out = Value(std::string(d.text)); return true;
    case DatumKind::kBool: *out = Value(d.boolean); return true;
    case DatumKind::kNull: *out = Value(); return true;
    default: return false;
  }
}

struct OpName {
  std::string_view name;
  Expr::Op op;
};

constexpr OpName kArithmetic[] = {{"+", Expr::Op::kAdd}, {"-", Expr::Op::kSub}, {"*", Expr::Op::kMul},
                                  {"/", Expr::Op::kDiv}, {"%", Expr::Op::kMod}};
constexpr OpName kComparisons[] = {{"=", Expr::Op::kEq},  {"!=", Expr::Op::kNe}, {"<", Expr::Op::kLt},
                                   {"<=", Expr::Op::kLe}, {">", Expr::Op::kGt},  {">=", Expr::Op::kGe}};

template <size_t N>
bool Lookup(const OpName (&table)[N], std::string_view name, Expr::Op* op) {
  for (const OpName& o : table) {
    if (o.name == name) {
      *op = o.op;
      return true;
    }
  }
  return false;
}

Status CompileArgs(const DatumTree& t, uint32_t at, bool conditions, Expr* out) {
  out->args.reserve(t[at].count - 1);
  uint32_t c = t.Next(t.FirstChild(at));  // skip the operator
  for (uint32_t n = 1; n < t[at].count; ++n, c = t.Next(c)) {
    Expr& arg = out->args.emplace_back();
    Status st = conditions ? CompileCondition(t, c, &arg) : CompileExpression(t, c, &arg);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

// A long list of literal values becomes a set (see LiteralSet).
void BuildInSet(Expr* in) {
  if (in->args.size() - 1 < LiteralSet::kMinLiterals) return;
  auto set = std::make_shared<LiteralSet>();
  for (size_t i = 1; i < in->args.size(); ++i) {
    if (in->args[i].op != Expr::Op::kLiteral) return;
    set->Add(in->args[i].literal);
  }
  in->in_set = std::move(set);
}

}  // namespace

Status CompilePath(const DatumTree& t, uint32_t at, Path* out) {
  out->clear();
  if (t[at].count < 2) return ArityError("(f …) needs at least one field name");
  uint32_t c = t.Next(t.FirstChild(at));
  for (uint32_t n = 1; n < t[at].count; ++n, c = t.Next(c)) {
    const Datum& d = t[c];
    PathStep& step = out->emplace_back();
    if (d.kind == DatumKind::kSymbol || d.kind == DatumKind::kString) {
      step.name = std::string(d.text);
    } else if (d.kind == DatumKind::kInt && d.integer >= 0) {
      step.is_index = true;
      step.index = d.integer;
    } else {
      return TypeError("a field path step must be a name, a string or a non-negative integer, not " + Describe(t, c));
    }
  }
  return Status::Ok();
}

Status CompileExpression(const DatumTree& t, uint32_t at, Expr* out) {
  *out = Expr();
  const Datum& d = t[at];
  if (LiteralOf(d, &out->literal)) {
    out->op = Expr::Op::kLiteral;
    return Status::Ok();
  }
  if (d.kind != DatumKind::kList || d.count == 0 || t[at + 1].kind != DatumKind::kSymbol) {
    return TypeError("expected an expression (a literal, (f …) or arithmetic), found " + Describe(t, at));
  }
  std::string_view head = t[at + 1].text;
  if (head == "f") {
    out->op = Expr::Op::kPath;
    return CompilePath(t, at, &out->path);
  }
  if (!Lookup(kArithmetic, head, &out->op)) {
    return TypeError("unknown operator " + std::string(head) + " in an expression");
  }
  uint32_t argc = d.count - 1;
  switch (out->op) {
    case Expr::Op::kSub:
      if (argc == 1) out->op = Expr::Op::kNeg;
      if (argc < 1 || argc > 2) return ArityError("- takes one or two operands");
      break;
    case Expr::Op::kDiv:
    case Expr::Op::kMod:
      if (argc != 2) return ArityError(std::string(head) + " takes two operands");
      break;
    default:
      if (argc < 1) return ArityError(std::string(head) + " takes at least one operand");
      break;
  }
  return CompileArgs(t, at, false, out);
}

Status CompileCondition(const DatumTree& t, uint32_t at, Expr* out) {
  *out = Expr();
  const Datum& d = t[at];
  if (d.kind == DatumKind::kBool) {
    out->op = d.boolean ? Expr::Op::kTrue : Expr::Op::kFalse;
    return Status::Ok();
  }
  if (d.kind != DatumKind::kList || d.count == 0 || t[at + 1].kind != DatumKind::kSymbol) {
    return TypeError("expected a condition, found " + Describe(t, at));
  }
  std::string_view head = t[at + 1].text;
  uint32_t argc = d.count - 1;
  if (Lookup(kComparisons, head, &out->op)) {
    if (argc != 2) return ArityError(std::string(head) + " takes two operands");
    return CompileArgs(t, at, false, out);
  }
  if (head == "&" || head == "|") {
    out->op = head == "&" ? Expr::Op::kAnd : Expr::Op::kOr;
    if (argc < 1) return ArityError(std::string(head) + " takes at least one condition");
    return CompileArgs(t, at, true, out);
  }
  if (head == "!") {
    out->op = Expr::Op::kNot;
    if (argc != 1) return ArityError("! takes one condition");
    return CompileArgs(t, at, true, out);
  }
  if (head == "exists") {
    out->op = Expr::Op::kExists;
    if (argc != 1) return ArityError("exists takes one field path");
    uint32_t p = t.Next(t.FirstChild(at));
    if (t[p].kind != DatumKind::kList || Head(t, p) != "f") return TypeError("exists takes a field path (f …)");
    return CompilePath(t, p, &out->path);
  }
  if (head == "in") {
    out->op = Expr::Op::kIn;
    if (argc < 2) return ArityError("in takes an expression and at least one value");
    Status st = CompileArgs(t, at, false, out);
    if (st.ok()) BuildInSet(out);
    return st;
  }
  if (Lookup(kArithmetic, head, &out->op) || head == "f") {
    return TypeError("expected a condition, found the expression (" + std::string(head) + " …)");
  }
  return TypeError("unknown operator " + std::string(head) + " in a condition");
}

// ---------------------------------------------------------------------------
// Evaluation

namespace {

const Value kNull;

bool ToFinite(double d, Value* out, Status* error) {
  if (!std::isfinite(d)) {
    *error = TypeError("arithmetic overflow");
    return false;
  }
  *out = Value(d);
  return true;
}

const Value* Arithmetic(const Expr& e, const DocView& doc, Value* scratch, Status* error) {
  auto operand = [&](size_t i, Value* slot) -> const Value* {
    const Value* v = Evaluate(e.args[i], doc, slot, error);
    if (v == nullptr) return nullptr;
    if (!v->is_number()) {
      std::string got;
      AppendJson(*v, &got);
      if (got.size() > 40) got = got.substr(0, 40) + "…";
      *error = TypeError("arithmetic on a non-number: " + got);
      return nullptr;
    }
    return v;
  };
  Value slot_a, slot_b;
  const Value* a = operand(0, &slot_a);
  if (a == nullptr) return nullptr;
  switch (e.op) {
    case Expr::Op::kNeg:
      if (a->is_int()) {
        if (a->as_int() == INT64_MIN) {
          *error = TypeError("integer overflow");
          return nullptr;
        }
        *scratch = Value(-a->as_int());
      } else {
        *scratch = Value(-a->as_double());
      }
      return scratch;
    case Expr::Op::kAdd:
    case Expr::Op::kMul:
    case Expr::Op::kSub: {
      Value acc = *a;
      for (size_t i = 1; i < e.args.size(); ++i) {
        const Value* b = operand(i, &slot_b);
        if (b == nullptr) return nullptr;
        if (acc.is_int() && b->is_int()) {
          int64_t r;
          bool overflow = e.op == Expr::Op::kAdd   ? __builtin_add_overflow(acc.as_int(), b->as_int(), &r)
                          : e.op == Expr::Op::kSub ? __builtin_sub_overflow(acc.as_int(), b->as_int(), &r)
                                                   : __builtin_mul_overflow(acc.as_int(), b->as_int(), &r);
          if (overflow) {
            *error = TypeError("integer overflow");
            return nullptr;
          }
          acc = Value(r);
        } else {
          double x = acc.as_number(), y = b->as_number();
          double r = e.op == Expr::Op::kAdd ? x + y : e.op == Expr::Op::kSub ? x - y : x * y;
          if (!ToFinite(r, &acc, error)) return nullptr;
        }
      }
      *scratch = std::move(acc);
      return scratch;
    }
    case Expr::Op::kDiv: {
      const Value* b = operand(1, &slot_b);
      if (b == nullptr) return nullptr;
      double y = b->as_number();
      if (y == 0) {
        *error = TypeError("division by zero");
        return nullptr;
      }
      return ToFinite(a->as_number() / y, scratch, error) ? scratch : nullptr;
    }
    case Expr::Op::kMod: {
      const Value* b = operand(1, &slot_b);
      if (b == nullptr) return nullptr;
      if (!a->is_int() || !b->is_int()) {
        *error = TypeError("% takes integers");
        return nullptr;
      }
      if (b->as_int() == 0) {
        *error = TypeError("division by zero");
        return nullptr;
      }
      *scratch = Value(b->as_int() == -1 ? int64_t{0} : a->as_int() % b->as_int());
      return scratch;
    }
    default:
      *error = Status(ErrorCode::kInternal, "not an arithmetic operator");
      return nullptr;
  }
}

bool Compare(const Expr& e, const DocView& doc) {
  Value sa, sb;
  Status err;
  const Value* a = Evaluate(e.args[0], doc, &sa, &err);
  if (a == nullptr) return false;
  const Value* b = Evaluate(e.args[1], doc, &sb, &err);
  if (b == nullptr) return false;
  switch (e.op) {
    case Expr::Op::kEq: return DeepEqual(*a, *b);
    case Expr::Op::kNe: return !DeepEqual(*a, *b);
    default: break;
  }
  bool comparable;
  int c = CompareOrdered(*a, *b, &comparable);
  if (!comparable) return false;
  switch (e.op) {
    case Expr::Op::kLt: return c < 0;
    case Expr::Op::kLe: return c <= 0;
    case Expr::Op::kGt: return c > 0;
    default: return c >= 0;
  }
}

}  // namespace

const Value* Evaluate(const Expr& e, const DocView& doc, Value* scratch, Status* error) {
  switch (e.op) {
    case Expr::Op::kLiteral:
      return &e.literal;
    case Expr::Op::kPath: {
      const Value* v = doc.Resolve(e.path, scratch);
      return v == nullptr ? &kNull : v;
    }
    default:
      return Arithmetic(e, doc, scratch, error);
  }
}

bool Test(const Expr& c, const DocView& doc) {
  switch (c.op) {
    case Expr::Op::kTrue: return true;
    case Expr::Op::kFalse: return false;
    case Expr::Op::kAnd:
      for (const Expr& a : c.args) {
        if (!Test(a, doc)) return false;
      }
      return true;
    case Expr::Op::kOr:
      for (const Expr& a : c.args) {
        if (Test(a, doc)) return true;
      }
      return false;
    case Expr::Op::kNot: return !Test(c.args[0], doc);
    case Expr::Op::kExists: return doc.Has(c.path);
    case Expr::Op::kIn: {
      Value sa;
      Status err;
      const Value* a = Evaluate(c.args[0], doc, &sa, &err);
      if (a == nullptr) return false;
      if (c.in_set) return c.in_set->Contains(*a);
      for (size_t i = 1; i < c.args.size(); ++i) {
        Value sb;
        const Value* b = Evaluate(c.args[i], doc, &sb, &err);
        if (b != nullptr && DeepEqual(*a, *b)) return true;
      }
      return false;
    }
    default: return Compare(c, doc);
  }
}

Status Assign(const Path& path, Value value, Value* doc) {
  if (!path.empty() && !path[0].is_index && path[0].name == "_id") {
    return Status(ErrorCode::kBadDocument, "a document's _id cannot be changed");
  }
  Value* cur = doc;
  for (size_t i = 0; i < path.size(); ++i) {
    const PathStep& s = path[i];
    bool last = i + 1 == path.size();
    if (cur->is_null() && i > 0) *cur = s.is_index ? Value(Array{}) : Value(Object{});
    if (s.is_index) {
      if (!cur->is_array()) return TypeError("cannot set " + PathToString(path) + ": step " + std::to_string(s.index) + " indexes a non-array");
      Array& arr = cur->as_array();
      uint64_t idx = static_cast<uint64_t>(s.index);
      if (idx > arr.size()) return TypeError("cannot set " + PathToString(path) + ": index " + std::to_string(idx) + " is past the end of the array");
      if (idx == arr.size()) arr.emplace_back();
      cur = &arr[idx];
    } else {
      if (!cur->is_object()) return TypeError("cannot set " + PathToString(path) + ": field " + s.name + " is inside a non-object");
      Value* member = cur->find(s.name);
      if (member == nullptr) {
        Object& obj = cur->as_object();
        obj.push_back(Member{s.name, Value()});
        member = &obj.back().value;
      }
      cur = member;
    }
    if (last) *cur = std::move(value);
  }
  return Status::Ok();
}

namespace {

bool IsIdPath(const Expr& e) {
  return e.op == Expr::Op::kPath && e.path.size() == 1 && !e.path[0].is_index && e.path[0].name == "_id";
}

void Normalize(std::vector<DocId>* ids) {
  std::sort(ids->begin(), ids->end());
  ids->erase(std::unique(ids->begin(), ids->end()), ids->end());
}

}  // namespace

std::optional<std::vector<DocId>> CandidateIds(const Expr& c) {
  switch (c.op) {
    case Expr::Op::kFalse:
      return std::vector<DocId>{};
    case Expr::Op::kEq: {
      const Expr* lit = IsIdPath(c.args[0]) ? &c.args[1] : IsIdPath(c.args[1]) ? &c.args[0] : nullptr;
      if (lit == nullptr || lit->op != Expr::Op::kLiteral) return std::nullopt;
      std::vector<DocId> ids;
      DocId id;
      if (DocId::FromValue(lit->literal, &id)) ids.push_back(std::move(id));
      return ids;
    }
    case Expr::Op::kIn: {
      if (!IsIdPath(c.args[0])) return std::nullopt;
      std::vector<DocId> ids;
      for (size_t i = 1; i < c.args.size(); ++i) {
        if (c.args[i].op != Expr::Op::kLiteral) return std::nullopt;
        DocId id;
        if (DocId::FromValue(c.args[i].literal, &id)) ids.push_back(std::move(id));
      }
      Normalize(&ids);
      return ids;
    }
    case Expr::Op::kAnd: {
      std::optional<std::vector<DocId>> best;
      for (const Expr& a : c.args) {
        auto ids = CandidateIds(a);
        if (ids && (!best || ids->size() < best->size())) best = std::move(ids);
      }
      return best;
    }
    case Expr::Op::kOr: {
      std::vector<DocId> all;
      for (const Expr& a : c.args) {
        auto ids = CandidateIds(a);
        if (!ids) return std::nullopt;
        all.insert(all.end(), ids->begin(), ids->end());
      }
      Normalize(&all);
      return all;
    }
    default:
      return std::nullopt;
  }
}

std::string PathToString(const Path& path) {
  std::string out = "(f";
  for (const PathStep& s : path) {
    out += ' ';
    if (s.is_index) {
      out += std::to_string(s.index);
    } else {
      AppendJson(Value(s.name), &out);
    }
  }
  out += ')';
  return out;
}

}  // namespace parendb
