#include "raft/segment_overlap.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <system_error>
#include <tuple>

namespace parendb::raft_segments {
namespace {

struct Segment {
  uint64_t first = 0, end = 0;
  std::string name;
};

// libraft's names: "%016llu-%016llu" for a closed segment (inclusive range).
bool ParseClosed(const std::string& name, Segment* s) {
  unsigned long long first = 0, end = 0;
  int used = 0;
  if (name.size() != 33 || std::sscanf(name.c_str(), "%16llu-%16llu%n", &first, &end, &used) != 2 ||
      used != 33 || first > end) {
    return false;
  }
  *s = Segment{first, end, name};
  return true;
}

// "snapshot-TERM-INDEX-TIMESTAMP.meta" with its data file beside it: the
// newest by (term, index, timestamp), as libraft's loader picks it.
bool ParseSnapshotMeta(const std::string& name, std::tuple<uint64_t, uint64_t, uint64_t>* key) {
  unsigned long long term = 0, index = 0, stamp = 0;
  int used = 0;
  if (std::sscanf(name.c_str(), "snapshot-%llu-%llu-%llu.meta%n", &term, &index, &stamp, &used) != 3 ||
      static_cast<size_t>(used) != name.size()) {
    return false;
  }
  *key = {term, index, stamp};
  return true;
}

}  // namespace

Status SetAsideOverlappingSegments(const std::string& raft_dir, std::vector<std::string>* set_aside) {
  namespace fs = std::filesystem;
  set_aside->clear();
  std::vector<Segment> closed;
  std::tuple<uint64_t, uint64_t, uint64_t> newest{0, 0, 0};
  std::error_code ec;
  for (fs::directory_iterator it(raft_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    Segment s;
    std::tuple<uint64_t, uint64_t, uint64_t> key;
    if (ParseClosed(name, &s)) {
      closed.push_back(std::move(s));
    } else if (ParseSnapshotMeta(name, &key) &&
               fs::exists(it->path().parent_path() / name.substr(0, name.size() - 5), ec)) {
      newest = std::max(newest, key);
    }
  }
  if (ec) return Status(ErrorCode::kIo, "cannot list " + raft_dir + ": " + ec.message());
  const uint64_t snapshot_index = std::get<1>(newest);

  std::sort(closed.begin(), closed.end(), [](const Segment& a, const Segment& b) {
    return std::tie(a.first, a.end) < std::tie(b.first, b.end);
  });
  std::vector<Segment> kept;
  std::vector<Segment> moved;
  for (Segment& s : closed) {
    // Of two overlapping segments the older (lower first index) holds the
    // entries the truncation should have removed; it may go only if the
    // snapshot holds everything in it.
    while (!kept.empty() && s.first <= kept.back().end) {
      if (kept.back().end > snapshot_index) {
        return Status(ErrorCode::kIo,
                      "the Raft log in " + raft_dir + " has overlapping segments " + kept.back().name + " and " + s.name +
                          " past its newest snapshot (index " + std::to_string(snapshot_index) +
                          "), which libraft 0.15 leaves after an interrupted truncation and cannot load; move " +
                          raft_dir + " aside and start this node again: it starts empty and catches up from the others");
      }
      moved.push_back(std::move(kept.back()));
      kept.pop_back();
    }
    kept.push_back(std::move(s));
  }
  for (const Segment& s : moved) {
    fs::rename(fs::path(raft_dir) / s.name, fs::path(raft_dir) / ("overlap-" + s.name), ec);
    if (ec) return Status(ErrorCode::kIo, "cannot set aside " + raft_dir + "/" + s.name + ": " + ec.message());
    set_aside->push_back(s.name);
  }
  return Status::Ok();
}

}  // namespace parendb::raft_segments
