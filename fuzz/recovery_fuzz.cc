// Recovery of a mutated data directory. A small database (several log
// segments, a checkpoint, indexes, creates, updates, deletes, a dropped
// collection) is made once in memory; each input is a list of mutations of
// its files — bytes overwritten, inserted, cut off, a file removed. Then
// `parendb doctor` and an open must both either accept the directory or
// refuse it naming the file and offset, and agree. An accepted directory
// must be usable (a commit goes through) and reopen to the same contents.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <parendb/parendb.h>

#include "datadir/data_dir.h"
#include "wal/mem_file_system.h"

using namespace parendb;

namespace {

const char* kDir = "/db";

[[noreturn]] void Fail(std::string_view what, std::string_view detail) {
  std::fprintf(stderr, "recovery: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(detail.size()), detail.data());
  std::abort();
}

Options DbOptions() {
  Options o;
  o.data_dir = kDir;
  o.log_segment_bytes = 2048;  // several segments
  o.checkpoint_bytes = uint64_t{1} << 40;  // only when asked
  o.checkpoint_on_close = false;
  return o;
}

std::string Run(Database& db, std::string_view text) { return db.NewSession()->ExecuteText(text); }

// Every collection's documents and indexes, as text.
std::string Contents(Database& db) {
  std::string out = Run(db, "(colls)");
  for (const char* c : {"people", "events", "gone"}) {
    out += Run(db, std::string("(open q)(selects a q r (coll ") + c + ") true)(acquire q)(readall a)(close q)(indexes " + c + ")");
  }
  return out;
}

const std::map<std::string, std::string>& Template() {
  static const std::map<std::string, std::string> files = [] {
    MemFileSystem fs;
    std::string error;
    auto db = Database::Open(DbOptions(), &fs, &error);
    if (!db) Fail("making the template", error);
    Run(*db, "(mkcoll people)(mkcoll events)(mkcoll gone)(mkindex people (f email) unique)(mkindex events (f at))");
    for (int i = 0; i < 40; ++i) {
      std::string n = std::to_string(i);
      Run(*db, "(open t)(acquire t)(create p t (coll people)) {\"email\": \"u" + n + "@x\", \"age\": " + n +
                   "}(create e t (coll events)) {\"at\": " + std::to_string(i % 7) + ", \"tags\": [\"a\", {\"b\": null}]}"
                   "(create g t (coll gone)) {\"x\": " + n + "}(commit t)");
      if (i == 20) Run(*db, "(checkpoint)");
      if (i % 5 == 4) {
        Run(*db, "(open t)(select p t wn (coll people) (= (f _id) " + std::to_string(i - 2) +
                     "))(select e t wb (coll events) (= (f _id) " + std::to_string(i - 3) +
                     "))(acquire t)(update p (f email) \"moved" + n + "@x\")(delete e)(commit t)");
      }
    }
    Run(*db, "(rmcoll gone)(mkcoll gone)(rmindex events (f at))");
    db.reset();
    return fs.Files();
  }();
  return files;
}

uint32_t Take(const uint8_t*& p, const uint8_t* end, int bytes) {
  uint32_t v = 0;
  for (int i = 0; i < bytes && p < end; ++i) v |= static_cast<uint32_t>(*p++) << (8 * i);
  return v;
}

// Applies the input's mutations: each is [op][file][offset:2][len:1][bytes].
void Mutate(const uint8_t* p, size_t size, std::map<std::string, std::string>* files) {
  const uint8_t* end = p + size;
  while (p < end && !files->empty()) {
    uint32_t op = Take(p, end, 1) % 6;
    auto it = files->begin();
    std::advance(it, Take(p, end, 1) % files->size());
    std::string& f = it->second;
    size_t offset = f.empty() ? 0 : Take(p, end, 2) % (f.size() + 1);
    size_t len = Take(p, end, 1) % 16 + 1;
    std::string bytes;
    for (size_t i = 0; i < len && p < end; ++i) bytes.push_back(static_cast<char>(*p++));
    switch (op) {
      case 0: f.replace(offset, std::min(bytes.size(), f.size() - offset), bytes); break;  // overwrite
      case 1: f.insert(offset, bytes); break;
      case 2: f.resize(offset); break;                                                     // torn/cut
      case 3: f.erase(offset, len); break;
      case 4: files->erase(it); break;
      case 5: if (offset < f.size()) f[offset] = static_cast<char>(f[offset] ^ (1 << (len % 8))); break;  // a bit flip
    }
  }
}

// A refusal must say which file and where.
void CheckRefusal(std::string_view what, const std::string& message, const std::map<std::string, std::string>& files) {
  bool names_file = false;
  for (const auto& [path, contents] : files) {
    names_file |= message.find(path.substr(path.rfind('/') + 1)) != std::string::npos;
  }
  if (!names_file || message.find("offset") == std::string::npos) Fail(std::string(what) + " refused without file and offset", message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::map<std::string, std::string> files = Template();
  Mutate(data, size, &files);

  MemFileSystem fs;
  if (!fs.MakeDir(kDir).ok()) Fail("mkdir", kDir);
  for (const auto& [path, contents] : files) fs.Put(path, contents);
  std::string report;
  int doctor = RunDoctor(kDir, false, &fs, &report);

  std::string error;
  auto db = Database::Open(DbOptions(), &fs, &error);
  if ((db != nullptr) != (doctor == 0)) {
    Fail("doctor and open disagree", "doctor:\n" + report + "open: " + (db ? "ok" : error));
  }
  if (!db) {
    CheckRefusal("open", error, files);
    CheckRefusal("doctor", report, files);
    return 0;
  }
  // Usable: a commit goes through; reopened: the same contents.
  std::string wrote = Run(*db, "(mkcoll added)(open t)(acquire t)(create a t (coll added)) {\"k\": 1}(commit t)");
  if (wrote.find("(ok committed)") == std::string::npos) Fail("a commit after recovery", wrote);
  std::string before = Contents(*db);
  db.reset();
  db = Database::Open(DbOptions(), &fs, &error);
  if (!db) Fail("reopening a recovered directory", error);
  std::string after = Contents(*db);
  if (after != before) Fail("reopened contents differ", "before:\n" + before + "after:\n" + after);
  return 0;
}
