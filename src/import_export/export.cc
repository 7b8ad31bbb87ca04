// parendb export: collections out as JSON Lines, in _id order, from one
// read-only transaction — one consistent snapshot however long the export
// takes, and no lock that makes writers wait. The documents are read in
// pages, (readall S (skip K) (limit P)), two pages asked for ahead, so the
// memory of both sides stays flat for any size.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "client/progress.h"
#include "doc/json.h"
#include "doc/value.h"
#include "import_export/import_export.h"

namespace parendb {
namespace {

constexpr int kPagesAhead = 2;

struct Output {
  std::FILE* file = nullptr;
  bool owned = false;
  std::vector<char> buffer;
  ~Output() {
    if (owned && file != nullptr) std::fclose(file);
  }
};

// Writes each top-level element of the JSON array `page` (as the server
// renders it: compact, one line) as one line; returns how many.
size_t WriteElements(std::string_view page, std::FILE* out) {
  size_t count = 0, start = 1;
  int depth = 0;
  bool in_string = false;
  for (size_t i = 1; i + 1 < page.size(); ++i) {
    char c = page[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    } else if (c == ',' && depth == 0) {
      std::fwrite(page.data() + start, 1, i - start, out);
      std::fputc('\n', out);
      ++count;
      start = i + 1;
    }
  }
  if (page.size() > 2) {
    std::fwrite(page.data() + start, 1, page.size() - 1 - start, out);
    std::fputc('\n', out);
    ++count;
  }
  return count;
}

class Exporter {
 public:
  Exporter(const ExportOptions& options, StatementChannel* channel) : o_(options), channel_(channel) {}
  int Run();

 private:
  bool Ask(const std::string& statements, std::string* answer);
  bool Fail(const std::string& message) {
    std::fprintf(stderr, "parendb export: %s\n", message.c_str());
    return false;
  }
  bool OpenOutput(const std::string& collection, Output* out);
  bool ExportOne(size_t index, const std::string& collection, int64_t documents);

  const ExportOptions& o_;
  StatementChannel* channel_;
  uint64_t exported_ = 0;
};

bool Exporter::Ask(const std::string& statements, std::string* answer) {
  if (!channel_->Send(statements) || !channel_->ReadResponse(answer)) return Fail("the server closed the connection");
  return true;
}

bool Exporter::OpenOutput(const std::string& collection, Output* out) {
  std::string path = o_.all ? o_.out + "/" + collection + ".jsonl" : o_.out;
  if (path.empty() || path == "-") {
    out->file = stdout;
  } else {
    out->file = std::fopen(path.c_str(), "w");
    if (out->file == nullptr) return Fail("cannot write " + path + ": " + std::strerror(errno));
    out->owned = true;
  }
  out->buffer.resize(1 << 20);
  std::setvbuf(out->file, out->buffer.data(), _IOFBF, out->buffer.size());
  return true;
}

bool Exporter::ExportOne(size_t index, const std::string& collection, int64_t documents) {
  Output out;
  if (!OpenOutput(collection, &out)) return false;
  Progress progress("exporting " + collection, "documents");
  std::string sel = "s" + std::to_string(index), page;
  int64_t asked = 0, written = 0;
  auto ask_next = [&] {
    std::string statement =
        "(readall " + sel + " (skip " + std::to_string(asked) + ") (limit " + std::to_string(o_.page) + "))\n";
    asked += o_.page;
    return channel_->Send(statement);
  };
  int outstanding = 0;
  for (; outstanding < kPagesAhead; ++outstanding) {
    if (!ask_next()) return Fail("the server closed the connection");
  }
  bool done = false;
  while (outstanding > 0) {
    if (!channel_->ReadResponse(&page)) return Fail("the server closed the connection");
    --outstanding;
    if (page.empty() || page[0] != '[') return Fail("reading " + collection + ": " + page);
    if (done) continue;  // a page asked for past the end
    size_t n = WriteElements(page, out.file);
    written += static_cast<int64_t>(n);
    exported_ += n;
    progress.Update(static_cast<uint64_t>(written), documents > 0 ? static_cast<double>(written) / documents : -1);
    if (static_cast<int64_t>(n) < o_.page) {
      done = true;
    } else {
      if (!ask_next()) return Fail("the server closed the connection");
      ++outstanding;
    }
  }
  if (std::fflush(out.file) != 0 || std::ferror(out.file)) return Fail(std::string("writing the output: ") + std::strerror(errno));
  progress.Finish("exported " + WithCommas(static_cast<uint64_t>(written)) + " documents of " + collection,
                  static_cast<uint64_t>(written));
  return true;
}

int Exporter::Run() {
  std::vector<std::string> collections;
  std::string answer;
  if (o_.all) {
    if (!Ask("(colls)\n", &answer)) return 1;
    Value names;
    if (!ParseJson(answer, 1 << 30, &names).ok() || !names.is_array()) return Fail("(colls) answered " + answer), 1;
    for (const Value& n : names.as_array()) collections.push_back(n.as_string());
    if (mkdir(o_.out.c_str(), 0777) != 0 && errno != EEXIST) {
      return Fail("cannot make directory " + o_.out + ": " + std::strerror(errno)), 1;
    }
  } else {
    collections.push_back(o_.collection);
  }
  // One read-only transaction over every collection: one snapshot.
  std::string statements = "(open x)";
  for (size_t i = 0; i < collections.size(); ++i) {
    statements += "(selects s" + std::to_string(i) + " x r (coll " + collections[i] + ") true)";
  }
  statements += "(acquire x)";
  for (size_t i = 0; i < collections.size(); ++i) statements += "(explain s" + std::to_string(i) + ")";
  statements += "\n";
  if (!channel_->Send(statements)) return Fail("the server closed the connection"), 1;
  std::vector<int64_t> counts;
  std::string first_error;
  for (size_t i = 0; i < 2 + 2 * collections.size(); ++i) {
    if (!channel_->ReadResponse(&answer)) return Fail("the server closed the connection"), 1;
    if (answer.rfind("(error ", 0) == 0 && first_error.empty()) first_error = answer;
    if (i >= 2 + collections.size()) {
      Value v;
      int64_t n = -1;
      if (ParseJson(answer, 1 << 20, &v).ok() && v.is_object()) {
        for (const auto& [k, val] : v.as_object()) {
          if (k == "documents" && val.is_int()) n = val.as_int();
        }
      }
      counts.push_back(n);
    }
  }
  if (!first_error.empty()) return Fail(first_error), 1;
  for (size_t i = 0; i < collections.size(); ++i) {
    if (!ExportOne(i, collections[i], counts[i])) return 1;
  }
  Ask("(close x)\n", &answer);
  return 0;
}

}  // namespace

int RunExport(const ExportOptions& options) {
  std::unique_ptr<Database> database;
  std::string error;
  auto channel = OpenChannel(options.channel, &database, &error);
  if (channel == nullptr) {
    std::fprintf(stderr, "parendb export: %s\n", error.c_str());
    return 1;
  }
  Exporter exporter(options, channel.get());
  return exporter.Run();
}

}  // namespace parendb
