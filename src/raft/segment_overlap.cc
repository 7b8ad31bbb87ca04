#include "raft/segment_overlap.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <functional>
#include <memory>
#include <tuple>

#include "raft/entry.h"
#include "wal/file.h"

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

// A closed segment as libraft 0.15 writes it (its uv_encoding format 1): an
// 8-byte format version, then write batches, each two 32-bit checksums, an
// entry count n, n headers of 16 bytes (term, type, 3 unused bytes, size)
// and the entries' bytes, each padded to 8. Little-endian throughout.
struct Layout {
  std::string bytes;                 // the whole file
  std::vector<size_t> batch_ends;    // the offset after each batch
  std::vector<uint64_t> entries_by;  // entries in the batches up to each end
  std::vector<uint64_t> terms;       // every entry's term, in order
};

uint64_t Load64(const std::string& b, size_t at) { return raft_entry::GetU64(b.data() + at); }
uint32_t Load32(const std::string& b, size_t at) { return raft_entry::GetU32(b.data() + at); }

// Reads a segment's batches; false (with why) unless they cover the whole
// file and hold exactly the entries its name says.
bool ReadLayout(const std::string& path, const Segment& s, Layout* out, std::string* why) {
  Status read = FileSystem::Default()->ReadFile(path, &out->bytes);
  if (!read.ok()) return *why = read.message(), false;
  const std::string& b = out->bytes;
  if (b.size() < 8 || Load64(b, 0) != 1) return *why = s.name + " is not in libraft's segment format 1", false;
  size_t at = 8;
  uint64_t count = 0;
  while (at < b.size()) {
    if (b.size() - at < 16) return *why = s.name + " ends inside a batch header", false;
    uint64_t n = Load64(b, at + 8);
    if (n == 0 || n > (b.size() - at - 16) / 16) return *why = s.name + " has a batch of " + std::to_string(n) + " entries", false;
    size_t data = at + 16 + 16 * n;
    size_t end = data;
    for (uint64_t i = 0; i < n; ++i) {
      size_t h = at + 16 + 16 * i;
      out->terms.push_back(Load64(b, h));
      uint64_t size = Load32(b, h + 12);
      end += (size + 7) / 8 * 8;
      if (end > b.size()) return *why = s.name + " ends inside an entry", false;
    }
    count += n;
    at = end;
    out->batch_ends.push_back(at);
    out->entries_by.push_back(count);
  }
  if (count != s.end - s.first + 1) {
    return *why = s.name + " holds " + std::to_string(count) + " entries, not the " + std::to_string(s.end - s.first + 1) +
                  " its name says",
           false;
  }
  return true;
}

struct PlannedTrim {
  Segment from;
  Segment to;
  size_t bytes = 0;  // the prefix kept
  std::string data;  // the whole original file
};

// Plans cutting `older` before `newer`'s first entry (see the header).
bool PlanTrim(const std::string& dir, const Segment& older, const Segment& newer, PlannedTrim* plan, std::string* why) {
  Layout old_layout, new_layout;
  if (!ReadLayout(dir + "/" + older.name, older, &old_layout, why)) return false;
  if (!ReadLayout(dir + "/" + newer.name, newer, &new_layout, why)) return false;
  const uint64_t keep = newer.first - older.first;
  auto at = std::find(old_layout.entries_by.begin(), old_layout.entries_by.end(), keep);
  if (at == old_layout.entries_by.end()) {
    return *why = "entry " + std::to_string(newer.first) + " shares a write batch with the one before it in " + older.name,
           false;
  }
  if (old_layout.terms[keep - 1] > new_layout.terms.front()) {
    return *why = "the term would go down across the cut (" + std::to_string(old_layout.terms[keep - 1]) + " before " +
                  std::to_string(new_layout.terms.front()) + ")",
           false;
  }
  char name[40];
  std::snprintf(name, sizeof name, "%016llu-%016llu", static_cast<unsigned long long>(older.first),
                static_cast<unsigned long long>(newer.first - 1));
  plan->from = older;
  plan->to = Segment{older.first, newer.first - 1, name};
  plan->bytes = old_layout.batch_ends[static_cast<size_t>(at - old_layout.entries_by.begin())];
  plan->data = std::move(old_layout.bytes);
  return true;
}

// Writes len bytes of data to path and syncs them.
Status WriteSynced(FileSystem* fs, const std::string& path, const char* data, size_t len) {
  std::unique_ptr<WritableFile> f;
  Status st = fs->OpenWritable(path, false, &f);
  if (st.ok()) st = f->Append(std::string_view(data, len));
  if (st.ok()) st = f->Sync();
  Status closed = f ? f->Close() : Status::Ok();
  return st.ok() ? closed : st;
}

// A "trimming-NAME" left by a repair a crash interrupted: renamed into
// place once the original is gone (it was synced before the original
// moved), dropped while the original is still there (the repair runs again).
// *names, the directory's listing, is kept up to date.
Status FinishInterruptedTrims(FileSystem* fs, const std::string& raft_dir, std::vector<std::string>* names) {
  bool changed = false;
  for (std::string& name : *names) {
    Segment target;
    if (name.rfind("trimming-", 0) != 0 || !ParseClosed(name.substr(9), &target)) continue;
    bool original_there = std::any_of(names->begin(), names->end(), [&](const std::string& other) {
      Segment s;
      return ParseClosed(other, &s) && s.first == target.first;
    });
    const std::string from = raft_dir + "/" + name;
    Status st = original_there ? fs->Remove(from) : fs->Rename(from, raft_dir + "/" + target.name);
    if (!st.ok()) return st;
    name = original_there ? std::string() : target.name;
    changed = true;
  }
  return changed ? fs->SyncDir(raft_dir) : Status::Ok();
}

}  // namespace

Status RepairOverlappingSegments(const std::string& raft_dir, Repair* done, const std::function<Status()>& before_cut) {
  *done = Repair{};
  FileSystem* files = FileSystem::Default();
  std::vector<std::string> names;
  Status st = files->ListDir(raft_dir, &names);
  if (st.ok()) st = FinishInterruptedTrims(files, raft_dir, &names);
  if (!st.ok()) return st;
  std::vector<Segment> closed;
  std::vector<std::string> open;  // libraft's "open-N": entries after the closed segments
  std::tuple<uint64_t, uint64_t, uint64_t> newest{0, 0, 0};
  for (const std::string& name : names) {
    Segment s;
    std::tuple<uint64_t, uint64_t, uint64_t> key;
    if (ParseClosed(name, &s)) {
      closed.push_back(std::move(s));
    } else if (name.rfind("open-", 0) == 0) {
      open.push_back(name);
    } else if (ParseSnapshotMeta(name, &key) &&
               std::find(names.begin(), names.end(), name.substr(0, name.size() - 5)) != names.end()) {
      newest = std::max(newest, key);
    }
  }
  const uint64_t snapshot_index = std::get<1>(newest);
  std::sort(open.begin(), open.end());

  std::sort(closed.begin(), closed.end(), [](const Segment& a, const Segment& b) {
    return std::tie(a.first, a.end) < std::tie(b.first, b.end);
  });
  std::vector<Segment> kept;
  std::vector<std::string> moved;  // names of the segments set aside
  std::vector<PlannedTrim> trims;
  auto refuse = [&](const Segment& older, const Segment& newer, const std::string& why) {
    return Status(ErrorCode::kIo,
                  "the Raft log in " + raft_dir + " has overlapping segments " + older.name + " and " + newer.name +
                      " past its newest snapshot (index " + std::to_string(snapshot_index) +
                      "), which libraft 0.15 leaves after an interrupted truncation and cannot load, and the older "
                      "cannot be cut back (" + why + "); move " + raft_dir +
                      " aside and start this node again: it starts empty and catches up from the others");
  };
  for (size_t i = 0; i < closed.size(); ++i) {
    Segment& s = closed[i];
    bool set_aside_s = false;
    // Of two overlapping segments the older (lower first index) holds the
    // entries the truncation should have removed.
    while (!kept.empty() && s.first <= kept.back().end) {
      if (kept.back().first == s.first) {
        // Two that start at one index: nothing on disk tells which was
        // written last (docs/replication.md). Behind the snapshot, which
        // holds every entry either could give, both go aside — keeping
        // one as spare entries for lagging followers could keep a dead
        // branch's. Past it, the log is cut before them: both, every
        // later segment and the open ones go aside.
        if (s.end > snapshot_index) {
          done->cut_from = s.first;
          moved.push_back(kept.back().name);
          kept.pop_back();
          for (size_t j = i; j < closed.size(); ++j) moved.push_back(closed[j].name);
          break;
        }
        set_aside_s = true;
      } else if (kept.back().end > snapshot_index) {
        PlannedTrim trim;
        std::string why;
        if (!PlanTrim(raft_dir, kept.back(), s, &trim, &why)) return refuse(kept.back(), s, why);
        kept.back() = trim.to;  // now ends before s
        trims.push_back(std::move(trim));
        break;
      }
      moved.push_back(kept.back().name);
      kept.pop_back();
    }
    if (done->cut_from != 0) break;
    if (set_aside_s) {
      moved.push_back(s.name);
    } else {
      kept.push_back(std::move(s));
    }
  }
  if (done->cut_from != 0) {
    moved.insert(moved.end(), open.begin(), open.end());
    // Entries past the snapshot are about to go: the node must hold back
    // its vote first, lest a crash in between let it vote without them.
    if (before_cut) st = before_cut();
    if (!st.ok()) return *done = Repair{}, st;
  }
  for (const std::string& name : moved) {
    st = files->Rename(raft_dir + "/" + name, raft_dir + "/overlap-" + name);
    if (!st.ok()) return st;
    done->set_aside.push_back(name);
  }
  for (const PlannedTrim& t : trims) {
    // The copy, and its name, are durable before the original moves: a
    // crash in between leaves one of the two in place (FinishInterruptedTrims).
    const std::string copy = raft_dir + "/trimming-" + t.to.name;
    st = WriteSynced(files, copy, t.data.data(), t.bytes);
    if (st.ok()) st = files->SyncDir(raft_dir);
    if (st.ok()) st = files->Rename(raft_dir + "/" + t.from.name, raft_dir + "/overlap-" + t.from.name);
    if (st.ok()) st = files->Rename(copy, raft_dir + "/" + t.to.name);
    if (!st.ok()) return st;
    done->trimmed.push_back(Repair::Trim{t.from.name, t.to.name, t.from.end - t.to.end});
  }
  if (!moved.empty() || !trims.empty()) return files->SyncDir(raft_dir);
  return Status::Ok();
}

}  // namespace parendb::raft_segments
