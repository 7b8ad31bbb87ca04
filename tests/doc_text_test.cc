// Reading values out of stored JSON text (doc/json_text.h, doc/doc_view.h)
// against the parsed tree: the text walker must find exactly what Resolve
// finds in the tree the same text parses to.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "doc/doc_view.h"
#include "doc/json.h"
#include "doc/json_text.h"
#include "eval/expr.h"  // Assign: the tree side of the replacement test

using namespace parendb;

namespace {

Path P(std::initializer_list<PathStep> steps) { return Path(steps); }
PathStep N(std::string name) { return PathStep{false, 0, std::move(name)}; }
PathStep I(int64_t i) { return PathStep{true, i, {}}; }

// Same value and same kind (an int is not a double here: the text must
// read back exactly as the parser reads it), doubles bit for bit.
bool Same(const Value& a, const Value& b) {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kDouble: return std::bit_cast<uint64_t>(a.as_double()) == std::bit_cast<uint64_t>(b.as_double());
    case Value::Kind::kArray: {
      if (a.as_array().size() != b.as_array().size()) return false;
      for (size_t i = 0; i < a.as_array().size(); ++i) {
        if (!Same(a.as_array()[i], b.as_array()[i])) return false;
      }
      return true;
    }
    case Value::Kind::kObject: {
      if (a.as_object().size() != b.as_object().size()) return false;
      for (size_t i = 0; i < a.as_object().size(); ++i) {
        if (a.as_object()[i].key != b.as_object()[i].key || !Same(a.as_object()[i].value, b.as_object()[i].value)) return false;
      }
      return true;
    }
    default: return DeepEqual(a, b);
  }
}

// What the text says at path, as the stored-document view reads it.
std::string Lookup(std::string_view json, const Path& path) {
  Value slot;
  const Value* v = DocView::Text(json).Resolve(path, &slot);
  if (v == nullptr) return "absent";
  std::string out;
  AppendJson(*v, &out);
  return out;
}

class RandomDocs {
 public:
  explicit RandomDocs(uint32_t seed) : rng_(seed) {}

  Value Doc() {
    Value v;
    Object& o = v.make_object();
    o.push_back(Member{"_id", Value(static_cast<int64_t>(rng_() % 1000))});
    FillObject(&o, 0);
    return v;
  }
  // A name that may or may not be in a document.
  std::string Name() { return kNames[rng_() % std::size(kNames)]; }
  // A value to put into a document (a scalar, or a small object or array).
  Value NewValue() { return Any(2); }

 private:
  static constexpr const char* kNames[] = {"a", "b", "name", "age", "x\"y", "back\\slash", "tab\t", "é", "€uro",
                                           "a.b", "", "nul\x01", "emoji😀", "/"};
  Value Scalar() {
    switch (rng_() % 9) {
      case 0: return Value();
      case 1: return Value(rng_() % 2 == 0);
      case 2: return Value(static_cast<int64_t>(rng_()) - (int64_t{1} << 31));
      case 3: return Value(static_cast<int64_t>((uint64_t{rng_()} << 32) | rng_()));
      case 4: return Value(std::ldexp(static_cast<double>(rng_()) - 2e9, static_cast<int>(rng_() % 200) - 100));
      case 5: return Value(-0.0);
      case 6: return Value(static_cast<double>(rng_() % 100));  // integral doubles stay doubles
      default: {
        std::string s;
        for (int n = rng_() % 12; n > 0; --n) {
          static constexpr const char* kPieces[] = {"a", "\"", "\\", "\n", "\x1f", "é", "😀", "]", "}", ",", ":", " ", "{\"a\":1}"};
          s += kPieces[rng_() % std::size(kPieces)];
        }
        return Value(std::move(s));
      }
    }
  }
  Value Any(int depth) {
    uint32_t r = rng_() % 10;
    if (depth < 4 && r == 0) {
      Value v;
      FillObject(&v.make_object(), depth + 1);
      return v;
    }
    if (depth < 4 && r == 1) {
      Value v;
      Array& a = v.make_array();
      for (int n = rng_() % 5; n > 0; --n) a.push_back(Any(depth + 1));
      return v;
    }
    return Scalar();
  }
  void FillObject(Object* o, int depth) {
    for (int n = rng_() % 6; n > 0; --n) {
      std::string key = Name();
      bool taken = false;
      for (const Member& m : *o) taken = taken || m.key == key;
      if (!taken) o->push_back(Member{key, Any(depth)});
    }
  }

  std::mt19937 rng_;
};

// Every path into v (and, for each container, a few that do not resolve).
void Paths(const Value& v, Path* prefix, RandomDocs* names, std::vector<Path>* out) {
  out->push_back(*prefix);
  if (v.is_object()) {
    for (const Member& m : v.as_object()) {
      prefix->push_back(N(m.key));
      Paths(m.value, prefix, names, out);
      prefix->pop_back();
    }
    prefix->push_back(N(names->Name()));
    out->push_back(*prefix);
    prefix->back() = I(0);
    out->push_back(*prefix);
    prefix->pop_back();
  } else if (v.is_array()) {
    for (size_t i = 0; i < v.as_array().size(); ++i) {
      prefix->push_back(I(static_cast<int64_t>(i)));
      Paths(v.as_array()[i], prefix, names, out);
      prefix->pop_back();
    }
    for (int64_t bad : {static_cast<int64_t>(v.as_array().size()), int64_t{-1}}) {
      prefix->push_back(I(bad));
      out->push_back(*prefix);
      prefix->pop_back();
    }
    prefix->push_back(N("a"));
    out->push_back(*prefix);
    prefix->pop_back();
  } else {
    prefix->push_back(N("a"));
    out->push_back(*prefix);
    prefix->back() = I(0);
    out->push_back(*prefix);
    prefix->pop_back();
  }
}

}  // namespace

TEST_SUITE("doc") {
  TEST_CASE("members, elements and nested paths are found in the text") {
    std::string doc = R"({"_id":7,"name":"Ada","tags":["x",{"k":[1,2.5]}],"o":{"a":{"b":null}},"t":true})";
    CHECK(Lookup(doc, P({N("_id")})) == "7");
    CHECK(Lookup(doc, P({N("name")})) == "\"Ada\"");
    CHECK(Lookup(doc, P({N("tags"), I(1), N("k"), I(1)})) == "2.5");
    CHECK(Lookup(doc, P({N("o"), N("a"), N("b")})) == "null");
    CHECK(Lookup(doc, P({N("o")})) == R"({"a":{"b":null}})");
    CHECK(Lookup(doc, P({N("t")})) == "true");
    CHECK(Lookup(doc, P({})) == doc);
  }

  TEST_CASE("what the tree would not resolve is absent") {
    std::string doc = R"({"_id":1,"a":[1,2],"s":"[1]","o":{"0":1}})";
    CHECK(Lookup(doc, P({N("missing")})) == "absent");
    CHECK(Lookup(doc, P({N("a"), I(2)})) == "absent");
    CHECK(Lookup(doc, P({N("a"), I(-1)})) == "absent");
    CHECK(Lookup(doc, P({N("a"), N("0")})) == "absent");   // a name into an array
    CHECK(Lookup(doc, P({N("s"), I(0)})) == "absent");     // an index into a string
    CHECK(Lookup(doc, P({N("o"), I(0)})) == "absent");     // an index into an object
    CHECK(Lookup(doc, P({N("_id"), N("x")})) == "absent"); // a name into a number
  }

  TEST_CASE("keys and strings with escapes are compared and read unescaped") {
    Value v;
    REQUIRE(ParseJson(R"({"q\"k":1,"\u00e9":2,"\ud83d\ude00":"\u0041\n\"\\\/","a\\":{"\"":3}})", 8, &v).ok());
    std::string doc;
    AppendJson(v, &doc);
    CHECK(Lookup(doc, P({N("q\"k")})) == "1");
    CHECK(Lookup(doc, P({N("é")})) == "2");
    CHECK(Lookup(doc, P({N("😀")})) == R"("A\n\"\\/")");
    CHECK(Lookup(doc, P({N("a\\"), N("\"")})) == "3");
    // Escapes written with \u in stored text are compared unescaped too.
    CHECK(Lookup(R"({"\u0061":5})", P({N("a")})) == "5");
  }

  TEST_CASE("numbers read back with the parser's kinds") {
    Value slot;
    REQUIRE(ValueFromJsonText("9223372036854775807", &slot));
    CHECK(slot.is_int());
    REQUIRE(ValueFromJsonText("9223372036854775808", &slot));
    CHECK(slot.kind() == Value::Kind::kDouble);
    REQUIRE(ValueFromJsonText("-0", &slot));
    CHECK(slot.is_int());
    REQUIRE(ValueFromJsonText("2.0", &slot));
    CHECK(slot.kind() == Value::Kind::kDouble);
    REQUIRE(ValueFromJsonText("1e-320", &slot));  // subnormal
    CHECK(slot.as_double() > 0);
    CHECK_FALSE(ValueFromJsonText("1e999", &slot));
    CHECK_FALSE(ValueFromJsonText("12x", &slot));
    CHECK_FALSE(ValueFromJsonText("nul", &slot));
    CHECK_FALSE(ValueFromJsonText("\"\\ud800\"", &slot));  // a lone surrogate
  }

  TEST_CASE("broken text is malformed, never read past its end") {
    std::string_view found;
    for (std::string_view bad : {R"({"a":)", R"({"a")", R"({"a":1)", R"({"a":"x)", R"({"a":[1,2)", R"({"a":1 "b":2})", R"({a:1})", ""}) {
      std::string copy(bad);  // exactly sized: ASan sees any overread
      auto r = FindInJsonText(copy, P({N("b")}), &found);
      CHECK_MESSAGE(r == TextLookup::kMalformed, bad);
    }
  }

  TEST_CASE("differential: a value replaced in the text gives the bytes of assigning on the tree and rendering it") {
    RandomDocs gen(20261207);
    size_t replaced = 0, absent = 0;
    for (int round = 0; round < 2000; ++round) {
      Value tree = gen.Doc();
      std::string compact;
      AppendJson(tree, &compact);
      Value parsed;
      REQUIRE(ParseTrustedJsonObject(compact.data(), compact.size(), compact.size(), &parsed).ok());
      std::vector<Path> paths;
      Path prefix;
      Paths(parsed, &prefix, &gen, &paths);
      for (const Path& path : paths) {
        if (path.empty() || (!path[0].is_index && path[0].name == "_id")) continue;  // Assign refuses _id
        Value v = gen.NewValue();
        std::string out;
        TextLookup r = ReplaceInJsonText(compact, path, v, &out);
        bool exists = Resolve(path, parsed) != nullptr;
        REQUIRE_MESSAGE((r == TextLookup::kFound) == exists, compact);
        if (!exists) {
          ++absent;
          continue;
        }
        Value copy = parsed;
        REQUIRE(Assign(path, v, &copy).ok());
        std::string want;
        AppendJson(copy, &want);
        REQUIRE_MESSAGE(out == want, compact);
        ++replaced;
      }
    }
    CHECK(replaced > 5000);
    CHECK(absent > 1000);
    std::string out;
    CHECK(ReplaceInJsonText("{\"a\":1}", Path{}, Value(int64_t{2}), &out) == TextLookup::kAbsent);  // not the whole
  }

  TEST_CASE("differential: the text walker and the tree agree on random documents") {
    RandomDocs gen(20261206);
    size_t checked = 0, present = 0;
    for (int round = 0; round < 3000; ++round) {
      Value tree = gen.Doc();
      std::string compact, pretty;
      AppendJson(tree, &compact);
      AppendJsonPretty(tree, &pretty);
      Value parsed;  // the tree as the stored text parses (doubles as written)
      REQUIRE(ParseTrustedJsonObject(compact.data(), compact.size(), compact.size(), &parsed).ok());
      std::vector<Path> paths;
      Path prefix;
      Paths(parsed, &prefix, &gen, &paths);
      for (const Path& path : paths) {
        const Value* want = Resolve(path, parsed);
        for (const std::string& text : {compact, pretty}) {
          Value slot;
          const Value* got = DocView::Text(text).Resolve(path, &slot);
          REQUIRE_MESSAGE((got == nullptr) == (want == nullptr), text);
          if (want != nullptr) {
            REQUIRE_MESSAGE(Same(*got, *want), text);
            ++present;
          }
          ++checked;
        }
      }
    }
    CHECK(present > 10000);
    CHECK(checked > present);
  }
}
