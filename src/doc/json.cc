#include "doc/json.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <unordered_set>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

// Not RAPIDJSON_SSE2: RapidJSON 1.1.0's SSE2 scan of strings compares with
// 0x19 where it means "below 0x20", so the control characters 0x1A-0x1F in
// a 16-byte chunk were written raw — a response that is not JSON (found by
// the session fuzzer: an error message quoting "2\x1b\x1b…"). Fixed upstream
// after 1.1.0, which is what Debian ships; the scalar escape table is right.
#include <rapidjson/internal/dtoa.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>

namespace parendb {
namespace {

// RapidJSON's writer with its strings escaped 16 bytes at a time: a run
// with nothing to escape is copied as one block (RapidJSON's scalar path
// pushes each byte through its stack, and rendering a created ~1 KB
// document was most of an insert's instructions). The escapes are
// RapidJSON's own — \" \\ \b \f \n \r \t, \u00XX (upper-case hex) for
// the other control characters, every other byte as it is — so the text is
// byte for byte what the base writer writes (tests/json_test.cc compares
// them over every byte value at every offset).
class JsonWriter : public rapidjson::Writer<rapidjson::StringBuffer> {
 public:
  using Base = rapidjson::Writer<rapidjson::StringBuffer>;
  explicit JsonWriter(rapidjson::StringBuffer& out) : Base(out) {}

  bool String(const char* str, rapidjson::SizeType length, bool copy = false) {
    (void)copy;
    Prefix(rapidjson::kStringType);
    WriteEscaped(str, length);
    return EndValue(true);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy = false) { return String(str, length, copy); }

 private:
  void WriteEscaped(const char* p, size_t length) {
    rapidjson::StringBuffer& os = *os_;
    rapidjson::PutReserve(os, 2 + length * 6);  // every byte as \u00XX at worst
    os.PutUnsafe('"');
    const char* end = p + length;
    for (;;) {
      const char* run = p;
#ifdef __SSE2__
      while (end - p >= 16) {
        __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
        __m128i control = _mm_cmpeq_epi8(_mm_max_epu8(s, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f));  // s <= 0x1f
        __m128i special = _mm_or_si128(_mm_cmpeq_epi8(s, _mm_set1_epi8('"')), _mm_cmpeq_epi8(s, _mm_set1_epi8('\\')));
        int hits = _mm_movemask_epi8(_mm_or_si128(control, special));
        if (hits != 0) {
          p += __builtin_ctz(static_cast<unsigned>(hits));
          break;
        }
        p += 16;
      }
#endif
      while (p < end && !NeedsEscape(static_cast<unsigned char>(*p))) ++p;
      if (p > run) std::memcpy(os.PushUnsafe(static_cast<size_t>(p - run)), run, static_cast<size_t>(p - run));
      if (p == end) break;
      Escape(static_cast<unsigned char>(*p++), os);
    }
    os.PutUnsafe('"');
  }
  static bool NeedsEscape(unsigned char c) { return c < 0x20 || c == '"' || c == '\\'; }
  static void Escape(unsigned char c, rapidjson::StringBuffer& os) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    os.PutUnsafe('\\');
    switch (c) {
      case '"': os.PutUnsafe('"'); return;
      case '\\': os.PutUnsafe('\\'); return;
      case '\b': os.PutUnsafe('b'); return;
      case '\f': os.PutUnsafe('f'); return;
      case '\n': os.PutUnsafe('n'); return;
      case '\r': os.PutUnsafe('r'); return;
      case '\t': os.PutUnsafe('t'); return;
      default:
        os.PutUnsafe('u');
        os.PutUnsafe('0');
        os.PutUnsafe('0');
        os.PutUnsafe(kHex[c >> 4]);
        os.PutUnsafe(kHex[c & 0xf]);
    }
  }
};

// RapidJSON output stream that appends straight into a std::string.
struct StringSink {
  typedef char Ch;
  std::string* s;
  void Put(char c) { s->push_back(c); }
  void Flush() {}
};

Status BadDocument(std::string msg) { return Status(ErrorCode::kBadDocument, std::move(msg)); }

Status LimitError(int max_depth) {
  return Status(ErrorCode::kLimit, "document nested deeper than " + std::to_string(max_depth) + " levels");
}

Status FromSimdjson(simdjson::error_code e, int max_depth) {
  if (e == simdjson::DEPTH_ERROR) return LimitError(max_depth);
  return BadDocument(std::string("malformed JSON document: ") + simdjson::error_message(e));
}

// The keys of an object, in order, whichever form it has.
std::string_view KeyOf(const Member& m) { return m.key; }
std::string_view KeyOf(const simdjson::dom::key_value_pair& kv) { return kv.key; }

// Members: an Object or a simdjson object (the first duplicate by position
// is named either way).
template <typename Members>
Status CheckUniqueKeys(const Members& members) {
  auto duplicate = [](std::string_view key) { return BadDocument("duplicate member \"" + std::string(key) + "\""); };
  if (members.size() <= 16) {
    size_t i = 0;
    for (auto a = members.begin(); a != members.end(); ++a, ++i) {
      auto b = members.begin();
      for (size_t j = 0; j < i; ++j, ++b) {
        if (KeyOf(*a) == KeyOf(*b)) return duplicate(KeyOf(*a));
      }
    }
    return Status::Ok();
  }
  std::unordered_set<std::string_view> seen;
  for (const auto& m : members) {
    if (!seen.insert(KeyOf(m)).second) return duplicate(KeyOf(m));
  }
  return Status::Ok();
}

// Converts simdjson's DOM (parsed at SIMD speed, with runtime CPU dispatch)
// into Values.
Status FromDom(simdjson::dom::element e, int depth, int max_depth, bool check_keys, Value* out) {
  using T = simdjson::dom::element_type;
  if (depth > max_depth) return LimitError(max_depth);
  switch (e.type()) {
    case T::OBJECT: {
      simdjson::dom::object obj = e.get_object().value_unsafe();
      Object& members = out->make_object();
      members.reserve(obj.size());
      for (simdjson::dom::key_value_pair kv : obj) {
        Member& m = members.emplace_back();
        m.key.assign(kv.key);
        Status st = FromDom(kv.value, depth + 1, max_depth, check_keys, &m.value);
        if (!st.ok()) return st;
      }
      return check_keys ? CheckUniqueKeys(members) : Status::Ok();
    }
    case T::ARRAY: {
      simdjson::dom::array arr = e.get_array().value_unsafe();
      Array& items = out->make_array();
      items.reserve(arr.size());
      for (simdjson::dom::element item : arr) {
        Status st = FromDom(item, depth + 1, max_depth, check_keys, &items.emplace_back());
        if (!st.ok()) return st;
      }
      return Status::Ok();
    }
    case T::STRING:
      *out = Value(std::string(e.get_string().value_unsafe()));
      return Status::Ok();
    case T::INT64:
      *out = Value(e.get_int64().value_unsafe());
      return Status::Ok();
    case T::UINT64:  // above INT64_MAX: a double, per the contract
      *out = Value(static_cast<double>(e.get_uint64().value_unsafe()));
      return Status::Ok();
    case T::DOUBLE:
      *out = Value(e.get_double().value_unsafe());
      return Status::Ok();
    case T::BOOL:
      *out = Value(e.get_bool().value_unsafe());
      return Status::Ok();
    case T::NULL_VALUE:
      *out = Value();
      return Status::Ok();
  }
  return BadDocument("malformed JSON value");
}

// simdjson's On-Demand API, for the rare document its DOM refuses over a
// number: integers wider than 64 bits are doubles to On-Demand (and to the
// contract), while numbers beyond a double's range stay errors. (This was
// RapidJSON until fuzzing found undefined behaviour in its full-precision
// number parsing, e.g. a zero significand with a large exponent: 0e300.)
// V: an ondemand value or document. The number is read (consumed) either
// way, so the document can tell whether anything follows it.
template <typename V>
Status NumberFromOndemand(V& v, Value* out) {
  std::string_view token = v.raw_json_token();
  int64_t i;
  auto r = std::from_chars(token.data(), token.data() + token.size(), i);
  if (r.ec == std::errc() && (r.ptr == token.data() + token.size() || (*r.ptr != '.' && *r.ptr != 'e' && *r.ptr != 'E')) &&
      v.get_int64().get(i) == simdjson::SUCCESS) {
    *out = Value(i);
    return Status::Ok();
  }
  double d;
  if (v.get_double().get(d) != simdjson::SUCCESS) {
    return BadDocument("number " + std::string(token.substr(0, std::min<size_t>(token.find_first_of(" \t\r\n,]}"), 40))) +
                       " is beyond the range of a double");
  }
  *out = Value(d);
  return Status::Ok();
}

Status FromOndemand(simdjson::ondemand::value v, int depth, int max_depth, Value* out);

Status ObjectFromOndemand(simdjson::ondemand::object obj, int depth, int max_depth, Value* out) {
  Object members;
  for (auto field : obj) {
    std::string_view key;
    simdjson::ondemand::value value;
    if (auto e = field.unescaped_key().get(key); e) return FromSimdjson(e, max_depth);
    if (auto e = field.value().get(value); e) return FromSimdjson(e, max_depth);
    members.push_back(Member{std::string(key), Value()});
    Status st = FromOndemand(value, depth + 1, max_depth, &members.back().value);
    if (!st.ok()) return st;
  }
  Status st = CheckUniqueKeys(members);
  if (!st.ok()) return st;
  *out = Value(std::move(members));
  return Status::Ok();
}

Status ArrayFromOndemand(simdjson::ondemand::array arr, int depth, int max_depth, Value* out) {
  Array items;
  for (auto item : arr) {
    simdjson::ondemand::value value;
    if (auto e = item.get(value); e) return FromSimdjson(e, max_depth);
    Status st = FromOndemand(value, depth + 1, max_depth, &items.emplace_back());
    if (!st.ok()) return st;
  }
  *out = Value(std::move(items));
  return Status::Ok();
}

// V: an ondemand value or the document itself (for a top-level scalar).
template <typename V>
Status ScalarOrContainer(V& v, simdjson::ondemand::json_type type, int depth, int max_depth, Value* out) {
  using T = simdjson::ondemand::json_type;
  if (depth > max_depth) return LimitError(max_depth);
  switch (type) {
    case T::object: {
      simdjson::ondemand::object obj;
      if (auto e = v.get_object().get(obj); e) return FromSimdjson(e, max_depth);
      return ObjectFromOndemand(obj, depth, max_depth, out);
    }
    case T::array: {
      simdjson::ondemand::array arr;
      if (auto e = v.get_array().get(arr); e) return FromSimdjson(e, max_depth);
      return ArrayFromOndemand(arr, depth, max_depth, out);
    }
    case T::number:
      return NumberFromOndemand(v, out);
    case T::string: {
      std::string_view sv;
      if (auto e = v.get_string().get(sv); e) return FromSimdjson(e, max_depth);
      *out = Value(std::string(sv));
      return Status::Ok();
    }
    case T::boolean: {
      bool b;
      if (auto e = v.get_bool().get(b); e) return FromSimdjson(e, max_depth);
      *out = Value(b);
      return Status::Ok();
    }
    case T::null: {
      bool is_null = false;
      if (auto e = v.is_null().get(is_null); e || !is_null) return BadDocument("malformed JSON document: bad null");
      *out = Value();
      return Status::Ok();
    }
  }
  return BadDocument("malformed JSON value");
}

Status FromOndemand(simdjson::ondemand::value v, int depth, int max_depth, Value* out) {
  simdjson::ondemand::json_type type;
  if (auto e = v.type().get(type); e) return FromSimdjson(e, max_depth);
  return ScalarOrContainer(v, type, depth, max_depth, out);
}

Status ParseWithOndemand(const char* data, size_t len, int max_depth, Value* out) {
  // About as deep as the DOM parser goes (it stops at simdjson's default
  // depth with DEPTH_ERROR): this path recurses once per level, and a
  // "trusted" caller's 1<<20 let a deep array with one huge number in it
  // overflow the stack (found by the doc_text fuzzer). Two levels short of
  // it: the on-demand iterator counts the document and its own next level,
  // and must stay below its parser's maximum (debug builds assert it).
  max_depth = std::min(max_depth, static_cast<int>(simdjson::DEFAULT_MAX_DEPTH) - 2);
  simdjson::padded_string padded(data, len);
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  if (auto e = parser.iterate(padded).get(doc); e) return FromSimdjson(e, max_depth);
  simdjson::ondemand::json_type type;
  if (auto e = doc.type().get(type); e) return FromSimdjson(e, max_depth);
  Status st = ScalarOrContainer(doc, type, 1, max_depth, out);
  if (!st.ok()) return st;
  const char* rest;
  if (doc.current_location().get(rest) == simdjson::SUCCESS) return BadDocument("malformed JSON document: text after the value");
  return Status::Ok();
}

template <typename Writer>
void WriteValue(const Value& v, Writer& w) {
  switch (v.kind()) {
    case Value::Kind::kNull: w.Null(); break;
    case Value::Kind::kBool: w.Bool(v.as_bool()); break;
    case Value::Kind::kInt: w.Int64(v.as_int()); break;
    case Value::Kind::kDouble: w.Double(v.as_double()); break;
    case Value::Kind::kString: {
      const std::string& s = v.as_string();
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      break;
    }
    case Value::Kind::kArray:
      w.StartArray();
      for (const Value& item : v.as_array()) WriteValue(item, w);
      w.EndArray();
      break;
    case Value::Kind::kObject:
      w.StartObject();
      for (const Member& m : v.as_object()) {
        w.Key(m.key.data(), static_cast<rapidjson::SizeType>(m.key.size()));
        WriteValue(m.value, w);
      }
      w.EndObject();
      break;
  }
}

// Writes simdjson's DOM with the calls WriteValue makes for the Value
// FromDom builds from it, failing where FromDom fails and in the same
// order (depth first, then duplicate members), so text rendered either way
// is the same. With `id`, a top-level `_id` member is not written but
// converted into *id (and *has_id set).
template <typename Writer>
Status WriteDom(simdjson::dom::element e, int depth, int max_depth, Value* id, bool* has_id, Writer& w) {
  using T = simdjson::dom::element_type;
  if (depth > max_depth) return LimitError(max_depth);
  switch (e.type()) {
    case T::OBJECT: {
      simdjson::dom::object obj = e.get_object().value_unsafe();
      w.StartObject();
      for (simdjson::dom::key_value_pair kv : obj) {
        Status st;
        if (id != nullptr && kv.key == "_id") {
          *has_id = true;
          st = FromDom(kv.value, depth + 1, max_depth, true, id);
        } else {
          w.Key(kv.key.data(), static_cast<rapidjson::SizeType>(kv.key.size()));
          st = WriteDom(kv.value, depth + 1, max_depth, nullptr, nullptr, w);
        }
        if (!st.ok()) return st;
      }
      w.EndObject();
      return CheckUniqueKeys(obj);
    }
    case T::ARRAY: {
      simdjson::dom::array arr = e.get_array().value_unsafe();  // named: a range-for over the temporary dangles
      w.StartArray();
      for (simdjson::dom::element item : arr) {
        Status st = WriteDom(item, depth + 1, max_depth, nullptr, nullptr, w);
        if (!st.ok()) return st;
      }
      w.EndArray();
      return Status::Ok();
    }
    case T::STRING: {
      std::string_view s = e.get_string().value_unsafe();
      w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
      return Status::Ok();
    }
    case T::INT64: w.Int64(e.get_int64().value_unsafe()); return Status::Ok();
    case T::UINT64: w.Double(static_cast<double>(e.get_uint64().value_unsafe())); return Status::Ok();  // as FromDom
    case T::DOUBLE: w.Double(e.get_double().value_unsafe()); return Status::Ok();
    case T::BOOL: w.Bool(e.get_bool().value_unsafe()); return Status::Ok();
    case T::NULL_VALUE: w.Null(); return Status::Ok();
  }
  return BadDocument("malformed JSON value");
}

// A writer that writes nothing: WriteDom with it checks what WriteDom
// checks (the depth limit, duplicate keys) and takes out the _id, and
// renders nothing.
struct NoWriter {
  bool StartObject() { return true; }
  bool EndObject() { return true; }
  bool StartArray() { return true; }
  bool EndArray() { return true; }
  bool Key(const char*, rapidjson::SizeType) { return true; }
  bool String(const char*, rapidjson::SizeType) { return true; }
  bool Int64(int64_t) { return true; }
  bool Double(double) { return true; }
  bool Bool(bool) { return true; }
  bool Null() { return true; }
};

// The longest number WriteNumber writes (RapidJSON's Writer::WriteDouble
// renders into 25 bytes).
constexpr size_t kNumberRoom = 32;

// Writes the number token [p, q) of valid JSON as WriteDom writes the value
// simdjson parsed from it: an integer that fits 64 bits as it stands (but
// "-0" as "0"); anything else — a fraction, an exponent, an integer beyond
// int64 (simdjson's UINT64, which WriteDom writes as a double) — as
// RapidJSON writes the double it denotes. std::from_chars rounds correctly,
// as simdjson does, so the double is the same; but where the value is too
// small for a double it leaves it unset, where simdjson makes it a zero of
// the number's sign (found by fuzz/doc_text_fuzz.cc: "-1e-327"), so that
// gives nullptr and the caller renders the tree instead.
char* WriteNumber(const char* p, const char* q, char* o) {
  if (std::find_if(p, q, [](char c) { return c == '.' || c == 'e' || c == 'E'; }) == q) {
    int64_t i;
    auto r = std::from_chars(p, q, i);
    if (r.ec == std::errc() && r.ptr == q) {
      if (i == 0) {
        *o = '0';
        return o + 1;
      }
      std::memcpy(o, p, static_cast<size_t>(q - p));
      return o + (q - p);
    }
  }
  double d = 0;
  auto r = std::from_chars(p, q, d);
  if (r.ec != std::errc() || r.ptr != q) return nullptr;
  return rapidjson::internal::dtoa(d, o, rapidjson::Writer<rapidjson::StringBuffer>::kDefaultMaxDecimalPlaces);
}

// Appends valid JSON text that has no backslash without the whitespace
// between its tokens, numbers as WriteNumber writes them: that is the text
// WriteDom writes. Without escapes a string runs from a quote to the next,
// so strings go whole (memchr finds their ends; a new document's bytes are
// mostly in strings) and only what lies between them is looked at byte by
// byte. Only a number can come out longer than it went in, so there is
// always room for what is left of the text and one number more. False
// (*out as it was) where WriteNumber cannot write a number. (With
// simdjson::minify instead, RenderJsonObject ran 5,535 instructions for a
// ~1 KB document, against 4,354 with this.)
bool MinifyUnescaped(const char* p, const char* end, std::string* out) {
  size_t at = out->size();
  auto room = [&](char* o) {  // o, moved into a string with that room after it
    size_t used = static_cast<size_t>(o - out->data());
    size_t need = used + static_cast<size_t>(end - p) + kNumberRoom;
    if (need > out->size()) out->resize(std::max(need, 2 * out->size()));
    return out->data() + used;
  };
  char* o = room(out->data() + at);
  while (p < end) {
    char c = *p;
    if (c == '"') {
      const char* close = static_cast<const char*>(std::memchr(p + 1, '"', static_cast<size_t>(end - p - 1)));
      size_t n = static_cast<size_t>(close + 1 - p);  // the text parsed: the string is closed
      std::memcpy(o, p, n);
      o += n;
      p = close + 1;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const char* q = p + 1;
      while (q < end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' || *q == 'E' || *q == '+' || *q == '-')) ++q;
      o = WriteNumber(p, q, room(o));
      if (o == nullptr) {
        out->resize(at);
        return false;
      }
      p = q;
    } else {
      if (c != ' ' && c != '\n' && c != '\t' && c != '\r') *o++ = c;
      ++p;
    }
  }
  out->resize(static_cast<size_t>(o - out->data()));
  return true;
}

const char* SkipSpace(const char* p, const char* end) {
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) ++p;
  return p;
}

// Where a document's text goes on after a first member `_id` whose value
// is an integer or a string (the text valid and without backslashes), past
// the comma after it; nullptr if the text does not start that way.
const char* AfterLeadingId(const char* p, const char* end) {
  p = SkipSpace(p, end);
  if (end - p < 5 || std::memcmp(p, "\"_id\"", 5) != 0) return nullptr;
  p = SkipSpace(p + 5, end);
  if (p == end || *p != ':') return nullptr;
  p = SkipSpace(p + 1, end);
  if (p < end && *p == '"') {
    p = static_cast<const char*>(std::memchr(p + 1, '"', static_cast<size_t>(end - p - 1))) + 1;
  } else {
    const char* digits = p;
    while (p < end && (*p == '-' || (*p >= '0' && *p <= '9'))) ++p;
    if (p == digits) return nullptr;
  }
  p = SkipSpace(p, end);
  if (p < end && *p == ',') return p + 1;
  return p == end ? p : nullptr;  // a fraction or an exponent: not an integer
}

// RenderJsonObject's fast path for a document whose text has no backslash
// (nearly all): its members as WriteDom would write them, made from the
// text itself (MinifyUnescaped) instead of from simdjson's tree — a
// fraction of the work (callgrind: WriteDom took ~2,850 instructions of a
// ~1 KB document's ~24,000-instruction insert). An `_id` is taken this way
// only as the first member, where export and most clients put it. False,
// with *members unchanged, where it does not apply.
bool AppendAsItStands(const char* data, size_t len, simdjson::dom::element root, int max_depth, std::string* members,
                      Value* id, bool* has_id) {
  if (len < 2 || data[0] != '{' || data[len - 1] != '}') return false;  // whitespace around it
  if (std::memchr(data, '\\', len) != nullptr) return false;           // an escape may be written otherwise
  const char* rest = data + 1;
  const char* end = data + len - 1;
  NoWriter none;
  bool ok = WriteDom(root, 1, max_depth, id, has_id, none).ok();
  if (ok && *has_id) ok = (rest = AfterLeadingId(rest, end)) != nullptr;
  if (ok && MinifyUnescaped(rest, end, members)) return true;
  *has_id = false;  // the tree's rendering (or its error) follows
  return false;
}

simdjson::dom::parser& ThreadParser() {
  thread_local simdjson::dom::parser parser;
  return parser;
}

Status Parse(const char* data, size_t len, bool padded, int max_depth, bool object_only, Value* out,
             bool check_keys = true) {
  simdjson::dom::element root;
  auto error = ThreadParser().parse(data, len, !padded).get(root);
  if (error == simdjson::NUMBER_ERROR) {
    Status st = ParseWithOndemand(data, len, max_depth, out);
    if (st.ok() && object_only && !out->is_object()) return BadDocument("a document must be a JSON object");
    return st;
  }
  if (error) return FromSimdjson(error, max_depth);
  if (object_only && !root.is_object()) return BadDocument("a document must be a JSON object");
  return FromDom(root, 1, max_depth, check_keys, out);
}

}  // namespace

size_t JsonPadding() { return simdjson::SIMDJSON_PADDING; }

Status ParseJsonObject(const char* data, size_t len, size_t capacity, int max_depth, Value* out) {
  return Parse(data, len, capacity >= len + simdjson::SIMDJSON_PADDING, max_depth, true, out);
}

Status ParseTrustedJsonObject(const char* data, size_t len, size_t capacity, Value* out) {
  return Parse(data, len, capacity >= len + simdjson::SIMDJSON_PADDING, 1 << 20, true, out, false);
}

Status RenderJsonObject(const char* data, size_t len, size_t capacity, int max_depth, std::string* members, Value* id,
                        bool* has_id) {
  *has_id = false;
  thread_local rapidjson::StringBuffer buf;  // reused, as in AppendJson
  buf.Clear();
  JsonWriter w(buf);
  simdjson::dom::element root;
  auto error = ThreadParser().parse(data, len, capacity < len + simdjson::SIMDJSON_PADDING).get(root);
  if (error == simdjson::NUMBER_ERROR) {  // rare: through a Value, as Parse does
    Value v;
    Status st = ParseJsonObject(data, len, capacity, max_depth, &v);
    if (!st.ok()) return st;
    w.StartObject();
    for (Member& m : v.as_object()) {
      if (m.key == "_id") {
        *id = std::move(m.value);
        *has_id = true;
        continue;
      }
      w.Key(m.key.data(), static_cast<rapidjson::SizeType>(m.key.size()));
      WriteValue(m.value, w);
    }
    w.EndObject();
  } else {
    if (error) return FromSimdjson(error, max_depth);
    if (!root.is_object()) return BadDocument("a document must be a JSON object");
    if (AppendAsItStands(data, len, root, max_depth, members, id, has_id)) return Status::Ok();
    Status st = WriteDom(root, 1, max_depth, id, has_id, w);
    if (!st.ok()) return st;
  }
  if (buf.GetSize() > 2) members->append(buf.GetString() + 1, buf.GetSize() - 2);  // without the braces
  if (buf.GetSize() > (1u << 20)) buf.ShrinkToFit();
  return Status::Ok();
}

Status ParseJson(std::string_view text, int max_depth, Value* out) {
  return Parse(text.data(), text.size(), false, max_depth, false, out);
}

void AppendJson(const Value& v, std::string* out) { AppendJson(v, out, 0); }

std::string ToValidUtf8(std::string text) {
  if (simdjson::validate_utf8(text.data(), text.size())) return text;
  std::string out;
  for (size_t i = 0; i < text.size();) {
    unsigned char c = text[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len != 0 && i + len <= text.size() && simdjson::validate_utf8(text.data() + i, len)) {
      out.append(text, i, len);
      i += len;
      continue;
    }
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    out += hex;
    ++i;
  }
  return out;
}

void AppendJson(const Value& v, std::string* out, size_t spare) {
  // RapidJSON's own buffer takes its unchecked fast path per character; a
  // std::string sink would check capacity on every one. Reused per thread.
  thread_local rapidjson::StringBuffer buf;
  buf.Clear();
  JsonWriter w(buf);
  WriteValue(v, w);
  if (spare > 0) out->reserve(out->size() + buf.GetSize() + spare);
  out->append(buf.GetString(), buf.GetSize());
  if (buf.GetSize() > (1u << 20)) buf.ShrinkToFit();  // do not keep a huge document's buffer
}

void AppendJsonPretty(const Value& v, std::string* out) {
  StringSink sink{out};
  rapidjson::PrettyWriter<StringSink> w(sink);
  w.SetIndent(' ', 2);
  WriteValue(v, w);
}

}  // namespace parendb
