#include <doctest/doctest.h>

#include <cstring>

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

  TEST_CASE("pretty output") {
    Value v;
    REQUIRE(ParseJson(R"({"a":[1,2]})", 10, &v).ok());
    std::string out;
    AppendJsonPretty(v, &out);
    CHECK(out == "{\n  \"a\": [\n    1,\n    2\n  ]\n}");
  }
}
