// parendb import's input splitter (src/import_export/document_scanner) fed
// the same bytes whole and in random chunks: the documents, their lines and
// the errors must not depend on where the input was split. And each
// document it hands on must be exactly what the server's reader takes as
// the document of a create statement, with the next statement read intact
// after it (or the document refused with an error, and the next statement
// still read) — so no input line can run into, or smuggle in, a statement.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "import_export/document_scanner.h"
#include "reader_stream.h"

using namespace parendb;

namespace {

// Documents as "LINE:doc", errors as "LINE!error".
std::vector<std::string> Split(std::string_view text, const std::vector<size_t>& cuts) {
  DocumentScanner scanner;
  std::vector<std::string> out;
  size_t next_cut = 0, fed = 0;
  std::string error;
  while (true) {
    std::string_view doc;
    DocumentScanner::Result r = scanner.Next(&doc, &error);
    if (r == DocumentScanner::Result::kDocument) {
      out.push_back(std::to_string(scanner.line()) + ":" + std::string(doc));
    } else if (r == DocumentScanner::Result::kBad) {
      out.push_back(std::to_string(scanner.line()) + "!" + error);
      if (!scanner.can_go_on()) break;
    } else if (r == DocumentScanner::Result::kNeedMore) {
      if (fed == text.size()) {
        scanner.Finish();
        continue;
      }
      size_t to = next_cut < cuts.size() ? cuts[next_cut++] : text.size();
      scanner.Append(text.substr(fed, to - fed));
      fed = to;
    } else {
      break;
    }
  }
  return out;
}

[[noreturn]] void Fail(const char* what, std::string_view detail) {
  std::fprintf(stderr, "import: %s: %.*s\n", what, static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void CheckReaderAgrees(std::string_view doc) {
  std::string stream = "(create d0 t (coll c)) ", one_line;
  DocumentScanner::AppendOneLine(doc, &one_line);  // as import sends it
  stream += one_line;
  stream += "\n(ping)\n";
  std::vector<std::string> items = test::ReadStream(stream, {});
  // The reader may refuse the document (nested too deep): then with an
  // error, and the next statement still read whole.
  bool same = items.size() == 3 && (items[1] == "doc:" + one_line || items[1].rfind("ERR ", 0) == 0);
  if (!same || items[2] != "(sym:ping)") {
    std::string got;
    for (const std::string& i : items) got += "[" + i + "] ";
    Fail("the reader reads the document differently", got);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  uint32_t seed = data[0] | (data[1] << 8) | 1u;  // the first two bytes choose the cuts
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  std::vector<std::string> whole = Split(text, {});
  std::vector<size_t> cuts;
  for (size_t at = 0; at < text.size();) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;  // xorshift
    at += 1 + seed % 16;
    if (at < text.size()) cuts.push_back(at);
  }
  if (Split(text, cuts) != whole) Fail("documents depend on the split", text);
  for (const std::string& item : whole) {
    size_t colon = item.find_first_of(":!");
    if (item[colon] == ':') CheckReaderAgrees(std::string_view(item).substr(colon + 1));
  }
  return 0;
}
