// A whole session against an in-memory database. Invariants: exactly one
// response line per statement (as the console's ResponseCounter counts
// them, plus one for an unfinished statement at the end), every line
// well-formed — (ok …), (error CODE "…") with a code of the contract that
// is not internal, or one JSON value — the session still answers
// afterwards, and the same input fed in random chunks to a second fresh
// database gets the same answers (the evaluator's cached-statement path
// reads differently from the reader's). ASan/UBSan add: no crash, leak or
// undefined behaviour.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <parendb/parendb.h>

#include "base/status.h"
#include "console/response_counter.h"
#include "doc/json.h"
#include "doc/value.h"
#include "eval/evaluator.h"

using namespace parendb;

namespace {

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "session: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

bool KnownCode(std::string_view code) {
  for (int c = static_cast<int>(ErrorCode::kSyntax); c <= static_cast<int>(kLastErrorCode); ++c) {
    if (code == ErrorCodeName(static_cast<ErrorCode>(c))) return code != "internal";
  }
  return false;
}

void CheckLine(std::string_view line) {
  if (line.rfind("(ok ", 0) == 0 && line.back() == ')') return;
  if (line.rfind("(error ", 0) == 0) {
    size_t space = line.find(' ', 7);
    if (space == std::string_view::npos || !KnownCode(line.substr(7, space - 7))) Fail("bad error code", line);
    if (line.size() < space + 4 || line[space + 1] != '"' || line.substr(line.size() - 2) != "\")") {
      Fail("malformed error", line);
    }
    Value message;
    if (!ParseJson(line.substr(space + 1, line.size() - space - 2), 64, &message).ok()) {
      Fail("error message is not a JSON string", line);
    }
    return;
  }
  Value v;
  Status st = ParseJson(line, 1000, &v);
  if (!st.ok()) Fail("neither (ok …), (error …) nor JSON (" + st.message() + ")", line);
}

Options FuzzOptions() {
  Options o;
  o.max_statement_bytes = 4096;
  o.max_depth = 16;
  o.lock_timeout_ms = 1;  // a session's transactions may wait on each other
  o.max_transactions_per_session = 8;
  o.max_selections_per_transaction = 16;
  return o;
}

// The responses to text fed in chunks (cut where seed says) to a fresh
// evaluator, waiting out blocked acquires as the embedded API does.
std::string Chunked(Database& db, std::string_view text, uint32_t seed) {
  Evaluator e(db.engine());
  for (size_t at = 0; at < text.size();) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
    size_t n = std::min<size_t>(text.size() - at, 1 + seed % 32);
    e.Feed(text.substr(at, n));
    while (e.blocked()) e.WaitAndResume();
    at += n;
  }
  e.FinishInput();
  return e.output();
}

// (stats) counts things whose timing differs between runs.
std::string WithoutStats(const std::string& out) {
  std::string kept;
  for (size_t at = 0; at < out.size();) {
    size_t nl = out.find('\n', at);
    if (nl == std::string::npos) nl = out.size() - 1;
    if (out.compare(at, 11, "{\"commits\":") != 0) kept.append(out, at, nl + 1 - at);
    at = nl + 1;
  }
  return kept;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 8192) return 0;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Options options = FuzzOptions();
  std::string error;
  auto db = Database::Open(options, &error);
  if (!db) Fail("open", error);
  auto session = db->NewSession();
  std::string out = session->ExecuteText(text);

  ResponseCounter counter(ReaderLimits{options.max_statement_bytes, options.max_depth});
  size_t expected = counter.Feed(text);
  if (!counter.fatal() && counter.NeedsMore()) ++expected;

  size_t lines = 0;
  for (size_t at = 0; at < out.size();) {
    size_t nl = out.find('\n', at);
    if (nl == std::string::npos) Fail("response without its newline", out.substr(at));
    if (nl == at) Fail("empty response line", out);
    CheckLine(std::string_view(out).substr(at, nl - at));
    ++lines;
    at = nl + 1;
  }
  if (lines != expected) {
    Fail("responses", std::to_string(lines) + " for " + std::to_string(expected) + " statements:\n" + out);
  }
  std::string after = session->ExecuteText("(ping)");
  if (after != "(ok pong)\n") Fail("the session stopped answering", after);

  auto db2 = Database::Open(options, &error);
  if (!db2) Fail("open", error);
  std::string chunked = Chunked(*db2, text, static_cast<uint32_t>(size) * 2654435761u | 1);
  if (WithoutStats(chunked) != WithoutStats(out)) {
    Fail("answers depend on how the input was split", "whole:\n" + out + "chunked:\n" + chunked);
  }
  return 0;
}
