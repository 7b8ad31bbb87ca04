// Helpers shared by the test files.
#pragma once

#include <string>
#include <vector>

#include <parendb/parendb.h>

namespace parendb::test {

// Response lines of executing text on a session.
inline std::vector<std::string> Lines(Session& s, std::string_view text) {
  std::vector<std::string> out;
  for (const Response& r : s.Execute(text)) out.push_back(r.text());
  return out;
}

// The single response of one statement.
inline std::string One(Session& s, std::string_view text) {
  auto lines = Lines(s, text);
  return lines.size() == 1 ? lines[0] : "<" + std::to_string(lines.size()) + " responses>";
}

inline std::unique_ptr<Database> MemoryDb(Options o = {}) {
  std::string error;
  auto db = Database::Open(o, &error);
  if (!db) throw std::runtime_error(error);
  return db;
}

// True when line is (error CODE …).
inline bool IsError(const std::string& line, std::string_view code) {
  return line.rfind("(error " + std::string(code) + " ", 0) == 0;
}

}  // namespace parendb::test
