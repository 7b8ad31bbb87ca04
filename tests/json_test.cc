#include <doctest/doctest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstring>
#include <functional>
#include <random>
#include <vector>

#include "doc/json.h"

using namespace parendb;

namespace {

std::string RoundTrip(std::string_view text, ErrorCode* code = nullptr) {
  Value v;
  Status st = ParseJsonObject(text.data(), text.size(), text.size(), 256, &v);
  if (code) *code = st.code();
  if (!st.ok()) return std::string("ERR ") + std::string(st.code_name()) + ": " + st.message();
  std::string out;
  AppendJson(v, &out);
  return out;
}

// What Create stored before RenderJsonObject: the parsed tree without
// _id, rendered (its members between the braces), or the same error.
std::string ThroughTree(std::string_view text, int max_depth) {
  Value v;
  Status st = ParseJsonObject(text.data(), text.size(), text.size(), max_depth, &v);
  if (!st.ok()) return std::string("ERR ") + std::string(st.code_name()) + ": " + st.message();
  std::string id = "none";
  Object rest;
  for (Member& m : v.as_object()) {
    if (m.key == "_id") {
      id.clear();
      AppendJson(m.value, &id);
    } else {
      rest.push_back(std::move(m));
    }
  }
  std::string out;
  AppendJson(Value(std::move(rest)), &out);
  return id + " " + out.substr(1, out.size() - 2);
}

// The same from RenderJsonObject.
std::string Rendered(std::string_view text, int max_depth) {
  std::string members = "kept ";  // appended to, never replaced
  Value id;
  bool has_id;
  Status st = RenderJsonObject(text.data(), text.size(), text.size(), max_depth, &members, &id, &has_id);
  if (!st.ok()) return std::string("ERR ") + std::string(st.code_name()) + ": " + st.message();
  REQUIRE(members.rfind("kept ", 0) == 0);
  std::string id_text = "none";
  if (has_id) {
    id_text.clear();
    AppendJson(id, &id_text);
  }
  return id_text + " " + members.substr(5);
}

}  // namespace

TEST_SUITE("json") {
  TEST_CASE("objects keep member order; numbers keep their kind") {
    CHECK(RoundTrip(R"({"b": 1, "a": [true, null, "x"], "c": {"d": -2.5}})") ==
          R"({"b":1,"a":[true,null,"x"],"c":{"d":-2.5}})");
    CHECK(RoundTrip(R"({"i": 9223372036854775807, "j": -9223372036854775808})") ==
          R"({"i":9223372036854775807,"j":-9223372036854775808})");
    CHECK(RoundTrip(R"({"d": 2.0, "e": 1e3, "f": 0.1})") == R"({"d":2.0,"e":1000.0,"f":0.1})");
  }

  TEST_CASE("integers beyond 64 bits are doubles; beyond a double is bad-document") {
    CHECK(RoundTrip(R"({"u": 9223372036854775808})") == R"({"u":9223372036854776000.0})");
    CHECK(RoundTrip(R"({"big": 123456789012345678901234567890})") == R"({"big":1.2345678901234568e29})");
    ErrorCode code;
    RoundTrip(R"({"x": 1e999})", &code);
    CHECK(code == ErrorCode::kBadDocument);
  }

  TEST_CASE("a document with an integer wider than 64 bits: everything else in it as usual") {
    // The DOM refuses such a document whole; the On-Demand pass reads it.
    // 0e300 beside it once reached undefined behaviour in RapidJSON.
    const std::string big = "18446744073709551616";
    CHECK(RoundTrip(R"({"z": 0e300, "b": )" + big + R"(, "n": [-3, 1.5, "s\u00e9", {"t": true, "f": false, "x": null}]})") ==
          R"({"z":0.0,"b":18446744073709553000.0,"n":[-3,1.5,"sé",{"t":true,"f":false,"x":null}]})");
    CHECK(RoundTrip(R"({"i": -9223372036854775808, "b": -)" + big + "}") ==
          R"({"i":-9223372036854775808,"b":-18446744073709553000.0})");
    CHECK(RoundTrip(R"({"a": 1, "b": )" + big + R"(, "a": 2})") == "ERR bad-document: duplicate member \"a\"");
    CHECK(RoundTrip(R"({"b": )" + big + R"(, "x": 1e999})").rfind("ERR bad-document: number 1e999 is beyond", 0) == 0);
    ErrorCode code;
    std::string deep = "{\"b\": " + big + ", \"a\":" + std::string(300, '[') + std::string(300, ']') + "}";
    RoundTrip(deep, &code);
    CHECK(code == ErrorCode::kLimit);
    RoundTrip("{\"b\": " + big + ", \"a\": }", &code);
    CHECK(code == ErrorCode::kBadDocument);
    Value v;
    CHECK(ParseJson(big, 8, &v).ok());
    CHECK(v.as_double() == 18446744073709551616.0);
    CHECK(!ParseJson(big + " x", 8, &v).ok());
  }

  TEST_CASE("malformed, non-object, duplicate and too deep documents") {
    ErrorCode code;
    RoundTrip(R"({"a": })", &code);
    CHECK(code == ErrorCode::kBadDocument);
    RoundTrip(R"([1, 2])", &code);
    CHECK(code == ErrorCode::kBadDocument);
    CHECK(RoundTrip(R"({"a": 1, "a": 2})") == "ERR bad-document: duplicate member \"a\"");
    std::string deep = "{\"a\":";
    for (int i = 0; i < 300; ++i) deep += "[";
    for (int i = 0; i < 300; ++i) deep += "]";
    deep += "}";
    RoundTrip(deep, &code);
    CHECK(code == ErrorCode::kLimit);
    RoundTrip("{\"a\": \"\xff\"}", &code);
    CHECK(code == ErrorCode::kBadDocument);
  }

  TEST_CASE("strings escape what JSON requires and keep UTF-8") {
    std::string out;
    AppendJson(Value(std::string("q\"b\\n\n\x01\xC3\xA9")), &out);
    CHECK(out == "\"q\\\"b\\\\n\\n\\u0001\xC3\xA9\"");
  }

  TEST_CASE("a new document rendered without its tree is the text its tree renders") {
    std::string deep = "{\"a\":";
    for (int i = 0; i < 20; ++i) deep += "[";
    for (int i = 0; i < 20; ++i) deep += "]";
    deep += "}";
    std::string wide = "{";
    for (int i = 0; i < 40; ++i) wide += (i ? ",\"k" : "\"k") + std::to_string(i % 39) + "\": " + std::to_string(i);
    wide += "}";
    for (std::string text : std::vector<std::string>{
             R"({})", R"({"_id": 7})", R"({"_id": "s\u00e9\n"})", R"({"a": 1, "_id": 3, "b": [true, null, {"c": -2.5}]})",
             R"({"b": 1, "a": [true, null, "x"], "c": {"d": -2.5}, "e": {}, "f": []})",
             R"({"i": 9223372036854775807, "j": -9223372036854775808, "u": 9223372036854775808, "d": 2.0, "e": 1e3})",
             R"({"big": 123456789012345678901234567890, "_id": 1})", R"({"x": 1e999})", R"({"s": "q\"b\\\u0001é/\/"})",
             R"({"_id": 1.5})", R"({"_id": null})", R"({"_id": {"a": [1]}})", R"({"a": })", R"([1, 2])", R"("x")",
             R"({"a": 1, "a": 2})", R"({"_id": 1, "_id": 2})", R"({"o": {"a": 1, "b": {"a": 2}, "a": 3}})",
             "{\"a\": \"\xff\"}", deep, wide, R"({"_id": [[[[1]]]], "x": [[[[2]]]]})",
             // Written as they stand, minified (no escape, double or _id):
             R"({ "a" : [ 1 , -2 , { "b" : "x y" } ] , "c" : true , "d" : null })", R"({"z": 0, "m": -0})",
             R"({"z": 0, "s": "2024-01-05"})", R"({"z": 1, "m": "-0"})", R"({"s": " {"} "})", "{\n\t\"a\":\r 1 }",
             R"(  {"a": 1}  )", R"({"a": {"x": 1, "x": 2}})", R"({"a": [{"b": [{"c": []}]}]})",
             R"({"e": "é ☃ 𝄞", "k é": 1})", R"({"_id": 5, "a": 1})", R"({ "_id" : "s t" })", R"({"_id":-0,"a":1})",
             R"({"_id": 1.0, "a": 1})", R"({"_id": 1e2})", R"({"_id": [1], "a": 2})", R"({"a": 1, "_id": 2})",
             R"({"_id": 7, "a": 1, "_id": 8})", R"({"_id": "x", "b": {"_id": 1}})"}) {
      CAPTURE(text);
      for (int max_depth : {256, 4}) {
        CAPTURE(max_depth);
        CHECK(Rendered(text, max_depth) == ThroughTree(text, max_depth));
      }
    }
  }

  TEST_CASE("random documents: rendered without a tree, as their tree renders them") {
    // RenderJsonObject writes a document without backslashes from its own
    // text, minified, numbers rewritten as the tree writes them, and the
    // others through simdjson's tree; either way the text must be what the
    // parsed tree renders.
    std::mt19937 rng(20261207);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto space = [&] { static const char* ws[] = {"", "", " ", "\n", "\t ", "  "}; return std::string(ws[pick(6)]); };
    std::function<std::string(int)> value = [&](int depth) -> std::string {
      switch (pick(depth > 3 ? 5 : 7)) {
        case 0: return std::to_string(static_cast<int64_t>(rng()) - (1ll << 31));
        case 1: {
          static const char* s[] = {"0", "-0", "1.5", "-0.0", "1e3", "9223372036854775808", "12", "18446744073709551615",
                                    "-9223372036854775808", "-9223372036854775809", "1E+2", "2.5e-7", "1e20", "1e21",
                                    "0.000001", "0.0000001", "123456789012.5", "1.7976931348623157e308", "5e-324", "100.0",
                                    "-1e-327", "1e-400", "2.4703282292062328e-324"};
          if (pick(2) == 0) return s[pick(23)];
          // A number of random form: sign, digits, fraction, exponent.
          std::string n = pick(3) == 0 ? "-" : "";
          n += pick(4) == 0 ? "0" : std::to_string(1 + pick(999999));
          if (pick(2) == 0) n += "." + std::to_string(pick(100000));
          if (pick(3) == 0) n += std::string(pick(2) ? "e" : "E") + (pick(2) ? "-" : pick(2) ? "+" : "") + std::to_string(pick(40));
          return n;
        }
        case 2: { static const char* s[] = {"\"x\"", "\"-0\"", "\"a b\"", "\"q\\\"\"", "\"\\u00e9\"", "\"é\"", "\"\""}; return s[pick(7)]; }
        case 3: { static const char* s[] = {"true", "false", "null"}; return s[pick(3)]; }
        case 4: return "\"" + std::string(static_cast<size_t>(pick(40)), 'w') + "\"";
        case 5: {
          std::string a = "[" + space();
          int n = pick(4);
          for (int i = 0; i < n; ++i) a += (i ? "," + space() : "") + value(depth + 1) + space();
          return a + "]";
        }
        default: {
          std::string o = "{" + space();
          int n = pick(4);
          for (int i = 0; i < n; ++i) {
            static const char* keys[] = {"a", "b", "c", "_id", "k\\n"};
            o += (i ? "," + space() : "") + "\"" + keys[pick(depth == 1 ? 5 : 4)] + "\"" + space() + ":" + space() + value(depth + 1);
          }
          return o + space() + "}";
        }
      }
    };
    int fast = 0;
    for (int i = 0; i < 5000; ++i) {
      std::string text = value(1);
      if (text[0] != '{') text = "{\"v\":" + text + "}";
      if (pick(8) == 0) text = space() + text + space();
      CAPTURE(text);
      std::string rendered = Rendered(text, 8);
      CHECK(rendered == ThroughTree(text, 8));
      if (rendered.rfind("ERR", 0) != 0 && text.find('\\') == std::string::npos) ++fast;
    }
    CHECK(fast > 1000);  // the fast path's share of them was exercised
  }

  TEST_CASE("every control character is escaped, wherever it falls in a long string") {
    // RapidJSON 1.1.0's SSE2 scan let 0x1A-0x1F through raw (see json.cc).
    for (int c = 0; c < 0x20; ++c) {
      for (size_t at : {0, 5, 15, 16, 17, 31, 40}) {
        std::string s(48, 'x');
        s[at] = static_cast<char>(c);
        std::string out;
        AppendJson(Value(s), &out);
        for (char ch : out) CHECK_MESSAGE(static_cast<unsigned char>(ch) >= 0x20, "control ", c, " at ", at);
        Value back;
        REQUIRE(ParseJson(out, 16, &back).ok());
        CHECK(back.as_string() == s);
      }
    }
  }

  TEST_CASE("strings and keys are written byte for byte as RapidJSON's own writer writes them") {
    // json.cc escapes 16 bytes at a time; RapidJSON's scalar writer is the
    // reference (every byte value, at every offset around a 16-byte block,
    // then random strings).
    auto reference = [](const std::string& s, bool as_key) {
      rapidjson::StringBuffer buf;
      rapidjson::Writer<rapidjson::StringBuffer> w(buf);
      if (as_key) {
        w.StartObject();
        w.Key(s.data(), static_cast<rapidjson::SizeType>(s.size()));
        w.Int64(1);
        w.EndObject();
      } else {
        w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      }
      return std::string(buf.GetString(), buf.GetSize());
    };
    auto ours = [](const std::string& s, bool as_key) {
      std::string out;
      if (as_key) {
        Value v;
        v.make_object().push_back(Member{s, Value(int64_t{1})});
        AppendJson(v, &out);
      } else {
        AppendJson(Value(s), &out);
      }
      return out;
    };
    for (int c = 0; c < 256; ++c) {
      for (size_t at : {0, 1, 14, 15, 16, 17, 31, 32, 40, 47}) {
        std::string s(48, 'x');
        s[at] = static_cast<char>(c);
        for (bool key : {false, true}) {
          CAPTURE(c);
          CAPTURE(at);
          REQUIRE(ours(s, key) == reference(s, key));
        }
      }
    }
    std::mt19937 rng(42);
    for (int round = 0; round < 3000; ++round) {
      std::string s(rng() % 100, '\0');
      for (char& ch : s) ch = static_cast<char>(rng() % 4 == 0 ? rng() % 0x28 : rng() % 256);
      REQUIRE(ours(s, round % 2 == 1) == reference(s, round % 2 == 1));
    }
  }

  TEST_CASE("a deep document with a number too large for the fast parser is refused, not a stack overflow") {
    // 999…9 sends simdjson's DOM parser to the on-demand one, which recurses
    // once per level: it stops about where the DOM parser would (1,022
    // levels against 1,024), even for a caller that trusts the text (depth
    // 1<<20).
    std::string deep = "{\"n\": 99999999999999999999999, \"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
    Value v;
    Status st = ParseJson(deep, 1 << 20, &v);
    CHECK(st.code() == ErrorCode::kLimit);
    CHECK(st.message().find("1022") != std::string::npos);
    std::string edge = "{\"n\": 99999999999999999999999, \"a\": " + std::string(1020, '[') + std::string(1020, ']') + "}";
    CHECK(ParseJson(edge, 1 << 20, &v).ok());  // 1,021 levels with the object
    edge = "{\"n\": 99999999999999999999999, \"a\": " + std::string(1022, '[') + std::string(1022, ']') + "}";
    CHECK(ParseJson(edge, 1 << 20, &v).code() == ErrorCode::kLimit);
    std::string shallow = "{\"n\": 99999999999999999999999, \"a\": " + std::string(1000, '[') + std::string(1000, ']') + "}";
    CHECK(ParseJson(shallow, 1 << 20, &v).ok());
  }

  TEST_CASE("pretty output") {
    Value v;
    REQUIRE(ParseJson(R"({"a":[1,2]})", 10, &v).ok());
    std::string out;
    AppendJsonPretty(v, &out);
    CHECK(out == "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
  }
}
