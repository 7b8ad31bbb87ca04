// Executes every example in lang-docs/ and README.md. An example is a
// ```parendb block; its `;=> ` lines (comments to ParenDB, so a block pastes
// into the console as it is) are the responses the statements above them
// must give. Each file runs in one fresh in-memory database, block by block,
// so later examples build on earlier ones. A response written ending in "…"
// only has to start with the text before it.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "test_util.h"

using namespace parendb;
using namespace parendb::test;
namespace fs = std::filesystem;

namespace {

struct Block {
  int line = 0;
  std::string statements;
  std::vector<std::string> expected;
};

std::vector<Block> ExtractBlocks(const fs::path& file) {
  std::ifstream in(file);
  std::vector<Block> blocks;
  std::string line;
  int n = 0;
  bool inside = false;
  while (std::getline(in, line)) {
    ++n;
    if (!inside && line.rfind("```parendb", 0) == 0) {
      inside = true;
      blocks.push_back(Block{n + 1, "", {}});
    } else if (inside && line.rfind("```", 0) == 0) {
      inside = false;
    } else if (inside) {
      size_t arrow = line.find(";=> ");
      if (arrow != std::string::npos && line.find_first_not_of(' ') == arrow) {
        blocks.back().expected.push_back(line.substr(arrow + 4));
      } else {
        blocks.back().statements += line + "\n";
      }
    }
  }
  return blocks;
}

bool Matches(const std::string& got, const std::string& want) {
  const std::string ellipsis = "…";
  if (want.size() >= ellipsis.size() && want.compare(want.size() - ellipsis.size(), ellipsis.size(), ellipsis) == 0) {
    return got.rfind(want.substr(0, want.size() - ellipsis.size()), 0) == 0;
  }
  return got == want;
}

void RunFile(const fs::path& file) {
  auto blocks = ExtractBlocks(file);
  auto db = MemoryDb();
  auto s = db->NewSession();
  for (const Block& b : blocks) {
    auto got = Lines(*s, b.statements);
    INFO(file.filename().string() << ":" << b.line);
    REQUIRE(got.size() == b.expected.size());
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("response " << i + 1 << ": expected " << b.expected[i]);
      CHECK_MESSAGE(Matches(got[i], b.expected[i]), got[i]);
    }
  }
}

}  // namespace

TEST_SUITE("docs") {
  TEST_CASE("every example in lang-docs and the README gives its documented response") {
    fs::path root = PARENDB_SOURCE_DIR;
    std::vector<fs::path> files{root / "README.md"};
    for (const auto& entry : fs::directory_iterator(root / "lang-docs")) {
      if (entry.path().extension() == ".md") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) {
      INFO(f.filename().string());
      CHECK_FALSE(ExtractBlocks(f).empty());  // every page teaches by example
      RunFile(f);
    }
  }
}
