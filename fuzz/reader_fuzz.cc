// The reader fed the same bytes whole and in random chunks: the items read
// (statements, documents, errors with their positions) must not depend on
// where the input was split. Whole input takes the one-pass parser; chunks
// take the resumable scan and then the full parser, so this also checks
// the two parsers against each other. Small limits, so they are crossed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "reader_stream.h"

using namespace parendb;

namespace {

void Fail(std::string_view text, const std::vector<std::string>& a, const std::vector<std::string>& b) {
  std::fprintf(stderr, "reader: items depend on the split of %zu bytes\n", text.size());
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    std::fprintf(stderr, "  whole: %s\n  split: %s\n", i < a.size() ? a[i].c_str() : "<none>",
                 i < b.size() ? b[i].c_str() : "<none>");
  }
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // The first two bytes choose the cuts; the rest is the stream.
  uint32_t seed = data[0] | (data[1] << 8) | 1u;
  std::string_view text(reinterpret_cast<const char*>(data + 2), size - 2);
  const ReaderLimits limits{512, 12};
  std::vector<std::string> whole = test::ReadStream(text, {}, limits);
  std::vector<size_t> cuts;
  for (size_t at = 0; at < text.size();) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;  // xorshift
    at += 1 + seed % 24;
    if (at < text.size()) cuts.push_back(at);
  }
  std::vector<std::string> split = test::ReadStream(text, cuts, limits);
  if (split != whole) Fail(text, whole, split);
  if (text.size() <= 96) {  // and a byte at a time
    cuts.clear();
    for (size_t at = 1; at < text.size(); ++at) cuts.push_back(at);
    split = test::ReadStream(text, cuts, limits);
    if (split != whole) Fail(text, whole, split);
  }
  return 0;
}
