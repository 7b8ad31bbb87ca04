#include <doctest/doctest.h>

#include <random>

#include "doc/json.h"
#include "eval/expr.h"
#include "eval/literal_set.h"
#include "reader/reader.h"

using namespace parendb;

namespace {

Value Doc(std::string_view json) {
  Value v;
  REQUIRE(ParseJson(json, 64, &v).ok());
  return v;
}

// Compiles the condition in "(c COND)" form.
bool Cond(std::string_view cond, const Value& doc) {
  std::string text = "(c " + std::string(cond) + ")";
  DatumTree tree;
  size_t off;
  REQUIRE(StatementParser::Parse(text, &tree, &off).ok());
  Expr e;
  Status st = CompileCondition(tree, 2, &e);
  REQUIRE_MESSAGE(st.ok(), st.message());
  return Test(e, doc);
}

std::string Eval(std::string_view expr, const Value& doc) {
  std::string text = "(c " + std::string(expr) + ")";
  DatumTree tree;
  size_t off;
  REQUIRE(StatementParser::Parse(text, &tree, &off).ok());
  Expr e;
  Status st = CompileExpression(tree, 2, &e);
  if (!st.ok()) return "COMPILE " + std::string(st.code_name());
  Value scratch;
  const Value* v = Evaluate(e, doc, &scratch, &st);
  if (v == nullptr) return "ERR " + std::string(st.code_name()) + ": " + st.message();
  std::string out;
  AppendJson(*v, &out);
  return out;
}

Status CompileCond(std::string_view cond) {
  std::string text = "(c " + std::string(cond) + ")";
  DatumTree tree;
  size_t off;
  REQUIRE(StatementParser::Parse(text, &tree, &off).ok());
  Expr e;
  return CompileCondition(tree, 2, &e);
}

}  // namespace

TEST_SUITE("expr") {
  const Value& Sample() {
    static const Value doc = Doc(R"({"_id": 1, "age": 61, "name": "Ada", "score": 2.5, "big": 9007199254740993,
                            "tags": ["x", "y"], "address": {"city": "Oslo"}, "nothing": null, "first name": "A"})");
    return doc;
  }
#define doc Sample()

  TEST_CASE("comparisons: numbers numerically, strings by bytes, others false") {
    CHECK(Cond("(> (f age) 60)", doc));
    CHECK(Cond("(= (f age) 61.0)", doc));
    CHECK(Cond("(< (f score) 3)", doc));
    CHECK_FALSE(Cond("(= (f big) 9007199254740992.0)", doc));  // exact int/double comparison
    CHECK(Cond("(> (f big) 9007199254740992.0)", doc));
    CHECK(Cond("(< (f name) \"Adb\")", doc));
    CHECK(Cond("(< \"Z\" \"a\")", doc));
    CHECK(Cond("(> \"\xC3\xA9\" \"z\")", doc));  // bytes, not code page order
    CHECK_FALSE(Cond("(< (f name) 5)", doc));
    CHECK_FALSE(Cond("(>= (f name) 5)", doc));
    CHECK_FALSE(Cond("(< null 1)", doc));
    CHECK_FALSE(Cond("(< true false)", doc));
  }

  TEST_CASE("deep equality: objects regardless of member order, arrays in order") {
    Value d = Doc(R"({"o": {"a": 1, "b": [1, 2.0]}, "arr": [1, 2]})");
    CHECK(Cond("(= (f o) (f o))", d));
    Value e = Doc(R"({"x": {"b": [1.0, 2], "a": 1}, "y": {"b": [2, 1], "a": 1}, "o": {"a": 1, "b": [1, 2.0]}})");
    CHECK(Cond("(= (f x) (f o))", e));
    CHECK_FALSE(Cond("(= (f y) (f o))", e));
    CHECK(Cond("(!= (f y) (f o))", e));
    CHECK(Cond("(= (f nothing) null)", doc));
    CHECK(Cond("(= (f missing) null)", doc));  // unresolved paths are null
  }

  TEST_CASE("paths: names, strings, array indexes") {
    CHECK(Cond("(= (f address city) \"Oslo\")", doc));
    CHECK(Cond("(= (f tags 1) \"y\")", doc));
    CHECK(Cond("(= (f \"first name\") \"A\")", doc));
    CHECK(Cond("(= (f tags 5) null)", doc));
    CHECK(Cond("(exists (f nothing))", doc));
    CHECK_FALSE(Cond("(exists (f missing))", doc));
    CHECK_FALSE(Cond("(exists (f tags 2))", doc));
  }

  TEST_CASE("logic and in") {
    CHECK(Cond("(& (> (f age) 60) (= (f name) \"Ada\"))", doc));
    CHECK_FALSE(Cond("(& (> (f age) 60) (= (f name) \"Bob\"))", doc));
    CHECK(Cond("(| false (= (f name) \"Ada\"))", doc));
    CHECK(Cond("(! (= (f name) \"Bob\"))", doc));
    CHECK(Cond("(in (f name) \"Bob\" \"Ada\")", doc));
    CHECK(Cond("(in (f age) 1 61.0)", doc));
    CHECK_FALSE(Cond("(in (f age) 1 2)", doc));
    CHECK(Cond("true", doc));
    CHECK_FALSE(Cond("false", doc));
  }

  TEST_CASE("in with many literal values: the set answers exactly as the list") {
    // Literals of every kind, with numbers that are equal across kinds
    // (7 and 7.0, 0 and -0.0) and ones that are not quite (2^53 + 1).
    const std::vector<std::string> pool = {"0",    "7",     "-3",    "7.0",   "-0.0",  "0.5",  "1e19",
                                           "9007199254740993", "9007199254740992.0", "\"a\"", "\"b\"",
                                           "\"7\"", "true", "false", "null", "123456789012", "2.5e-3"};
    const std::vector<std::string> probes = {
        "0",  "7",    "-3",   "7.0",  "-0.0", "0.5",   "1e19", "10000000000000000000", "9007199254740993",
        "9007199254740992", "9007199254740992.0", "\"a\"", "\"b\"", "\"7\"", "\"c\"", "true", "false",
        "null", "[7]", "{\"x\": 1}", "123456789012", "0.0025", "3", "-1e300"};
    std::mt19937 rng(11);
    int with_set = 0, matches = 0;
    for (int round = 0; round < 60; ++round) {
      std::string cond = "(in (f v)";
      size_t n = LiteralSet::kMinLiterals + rng() % 12;
      for (size_t i = 0; i < n; ++i) {
        // Mostly from the pool; some filler that matches nothing probed.
        cond += ' ' + (rng() % 3 == 0 ? std::to_string(1000 + rng() % 50) : pool[rng() % pool.size()]);
      }
      cond += ')';
      std::string text = "(c " + cond + ")";
      DatumTree tree;
      size_t off;
      REQUIRE(StatementParser::Parse(text, &tree, &off).ok());
      Expr set_expr;
      REQUIRE(CompileCondition(tree, 2, &set_expr).ok());
      with_set += set_expr.in_set != nullptr;
      Expr list_expr = set_expr;
      list_expr.in_set = nullptr;  // the one-by-one comparison
      for (const std::string& p : probes) {
        Value probe = Doc("{\"v\": " + p + "}");
        bool expected = Test(list_expr, probe);
        CHECK_MESSAGE(Test(set_expr, probe) == expected, cond << " with v = " << p);
        matches += expected;
      }
    }
    CHECK(with_set == 60);
    CHECK(matches > 200);  // the probes do hit the lists
    // A short list, or one with an expression, is compared one by one.
    CHECK(Cond("(in (f age) 1 61.0)", Doc(R"({"age": 61})")));
    std::string mixed = "(in (f age) (+ 60 1)";
    for (int i = 0; i < 20; ++i) mixed += " " + std::to_string(i);
    CHECK(Cond(mixed + ")", Doc(R"({"age": 61})")));
  }

  TEST_CASE("arithmetic keeps integers, / gives doubles, errors are type") {
    CHECK(Eval("(+ (f age) 1 2)", doc) == "64");
    CHECK(Eval("(- (f age) 1)", doc) == "60");
    CHECK(Eval("(- (f age))", doc) == "-61");
    CHECK(Eval("(* 2 3)", doc) == "6");
    CHECK(Eval("(+ 1 0.5)", doc) == "1.5");
    CHECK(Eval("(/ 6 3)", doc) == "2.0");
    CHECK(Eval("(% 7 3)", doc) == "1");
    CHECK(Eval("(% -9223372036854775808 -1)", doc) == "0");
    CHECK(Eval("(+ 9223372036854775807 1)", doc).rfind("ERR type: integer overflow", 0) == 0);
    CHECK(Eval("(- -9223372036854775808)", doc).rfind("ERR type", 0) == 0);
    CHECK(Eval("(* 1e300 1e300)", doc).rfind("ERR type: arithmetic overflow", 0) == 0);
    CHECK(Eval("(/ 1 0)", doc).rfind("ERR type: division by zero", 0) == 0);
    CHECK(Eval("(/ 1 0.0)", doc).rfind("ERR type", 0) == 0);
    CHECK(Eval("(% 1 0)", doc).rfind("ERR type", 0) == 0);
    CHECK(Eval("(% 5.0 2)", doc).rfind("ERR type: % takes integers", 0) == 0);
    CHECK(Eval("(+ (f name) 1)", doc).rfind("ERR type: arithmetic on a non-number", 0) == 0);
    CHECK(Eval("(+ (f missing) 1)", doc).rfind("ERR type", 0) == 0);
    // In a condition a failing expression makes the comparison false.
    CHECK_FALSE(Cond("(= (+ (f name) 1) 1)", doc));
    CHECK_FALSE(Cond("(!= (+ (f name) 1) 1)", doc));
    CHECK_FALSE(Cond("(> (/ 1 0) 0)", doc));
  }

  TEST_CASE("malformed conditions are compile errors") {
    CHECK(CompileCond("(> 1)").code() == ErrorCode::kArity);
    CHECK(CompileCond("(~ 1 2)").code() == ErrorCode::kType);
    CHECK(CompileCond("5").code() == ErrorCode::kType);
    CHECK(CompileCond("(+ 1 2)").code() == ErrorCode::kType);
    CHECK(CompileCond("(exists 1)").code() == ErrorCode::kType);
    CHECK(CompileCond("(= (f) 1)").code() == ErrorCode::kArity);
    CHECK(CompileCond("(= (f 1.5) 1)").code() == ErrorCode::kType);
    CHECK(CompileCond("(= (f -1) 1)").code() == ErrorCode::kType);
    CHECK(CompileCond("(& (= 1 1) 5)").code() == ErrorCode::kType);
    CHECK(CompileCond("(= (- 1 2 3) 1)").code() == ErrorCode::kArity);
  }

  #undef doc
  TEST_CASE("assign creates intermediates and refuses _id") {
    Value d = Doc(R"({"_id": 1, "a": 1, "arr": [1]})");
    Path p{{false, 0, "b"}, {false, 0, "c"}};
    REQUIRE(Assign(p, Value(int64_t{5}), &d).ok());
    Path q{{false, 0, "arr"}, {true, 1, ""}};
    REQUIRE(Assign(q, Value(true), &d).ok());
    Path bad{{false, 0, "a"}, {false, 0, "x"}};
    CHECK(Assign(bad, Value(), &d).code() == ErrorCode::kType);
    Path past{{false, 0, "arr"}, {true, 5, ""}};
    CHECK(Assign(past, Value(), &d).code() == ErrorCode::kType);
    Path id{{false, 0, "_id"}};
    CHECK(Assign(id, Value(int64_t{2}), &d).code() == ErrorCode::kBadDocument);
    std::string out;
    AppendJson(d, &out);
    CHECK(out == R"({"_id":1,"a":1,"arr":[1,true],"b":{"c":5}})");
  }

  TEST_CASE("candidate ids from _id conditions") {
    auto ids = [](std::string_view cond) -> std::string {
      std::string text = "(c " + std::string(cond) + ")";
      DatumTree tree;
      size_t off;
      REQUIRE(StatementParser::Parse(text, &tree, &off).ok());
      Expr e;
      REQUIRE(CompileCondition(tree, 2, &e).ok());
      auto c = CandidateIds(e);
      if (!c) return "scan";
      std::string s;
      for (auto& id : *c) s += id.ToString() + " ";
      return s;
    };
    CHECK(ids("(= (f _id) 7)") == "7 ");
    CHECK(ids("(= 7.0 (f _id))") == "7 ");
    CHECK(ids("(= (f _id) 7.5)") == "");
    CHECK(ids("(in (f _id) 3 \"a\" 1 3)") == "1 3 \"a\" ");
    CHECK(ids("(& (> (f age) 1) (= (f _id) 2))") == "2 ");
    CHECK(ids("(| (= (f _id) 2) (= (f _id) 1))") == "1 2 ");
    CHECK(ids("(| (= (f _id) 2) (> (f age) 1))") == "scan");
    CHECK(ids("(> (f _id) 2)") == "scan");
  }
}
