// The client's side of (backup begin)/(backup next): pieces of the
// server's files arrive base64-encoded, a window of them asked for ahead,
// and are written under temporary names (".tmp"), then synced and renamed
// once every piece is in. A marker file (BACKUP-INCOMPLETE) is made before
// the first and removed after the last: a server refuses a directory that
// has it, so a backup cut short, even by SIGKILL, never opens as a smaller
// database.
#include "backup/backup.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <thread>

#include "base/base64.h"
#include "client/progress.h"
#include "datadir/data_dir.h"
#include "doc/json.h"
#include "doc/value.h"
#include "wal/file.h"
#include "wal/log_writer.h"

namespace parendb {
namespace {

// The only names a server may give: a data directory's checkpoint or log segment.
bool SafeFileName(const std::string& name) {
  uint64_t lsn;
  return ParseCheckpointName(name, &lsn) || ParseSegmentName(name, &lsn);
}

int64_t IntField(const Value& v, std::string_view key) {
  const Value* f = v.find(key);
  return f != nullptr && f->is_int() ? f->as_int() : -1;
}

class Backup {
 public:
  Backup(const BackupOptions& options, StatementChannel* channel) : o_(options), channel_(channel) {}
  ~Backup() {
    if (!finished_) RemovePartial();
  }
  int Run();

 private:
  int Fail(const std::string& message) {
    std::fprintf(stderr, "parendb backup: %s\n", message.c_str());
    return 1;
  }
  bool PrepareDest(std::string* error);
  bool Answer(Value* v, std::string* error);
  bool ReadPiece(std::string* error);
  void Pace(double seconds);
  bool Write(const std::string& name, std::string_view bytes, std::string* error);
  bool Complete(std::string* error);
  bool MarkUnfinished(std::string* error);
  std::string Marker() const { return o_.dest + "/" + std::string(kBackupIncomplete); }
  void RemovePartial();

  const BackupOptions& o_;
  StatementChannel* channel_;
  FileSystem* fs_ = FileSystem::Default();
  bool created_dest_ = false;
  bool finished_ = false;
  std::map<std::string, std::unique_ptr<WritableFile>> files_;  // by final name, in order written
  std::string line_, raw_;
  bool is_piece_ = false;
  std::string piece_file_;
  int64_t piece_documents_ = 0;
  uint64_t bytes_ = 0;
};

bool Backup::PrepareDest(std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(o_.dest, ec)) {
    if (!fs::is_directory(o_.dest, ec) || !fs::is_empty(o_.dest, ec)) {
      *error = o_.dest + " exists and is not an empty directory (a backup goes into a new one)";
      return false;
    }
    return true;
  }
  if (!fs::create_directories(o_.dest, ec)) {
    *error = "cannot create " + o_.dest + ": " + ec.message();
    return false;
  }
  created_dest_ = true;
  return true;
}

// Until every file is in, DEST holds a marker that makes a server refuse to
// open it: a backup tool killed midway leaves no directory that opens as a
// smaller (or empty) database.
bool Backup::MarkUnfinished(std::string* error) {
  std::unique_ptr<WritableFile> f;
  Status st = fs_->OpenWritable(Marker(), false, &f);
  if (st.ok()) st = f->Append("parendb backup is writing this directory, or died doing it: it is not a database yet\n");
  if (st.ok()) st = f->Sync();
  if (st.ok()) st = f->Close();
  if (st.ok()) st = fs_->SyncDir(o_.dest);
  if (!st.ok()) *error = st.message();
  return st.ok();
}

// A piece, {"file":"NAME","documents":N,"data":"BASE64"}, is taken apart
// here rather than parsed into a Value: it is a megabyte and a half of one
// string. Its bytes go to raw_.
bool Backup::ReadPiece(std::string* error) {
  std::string_view l = line_;
  auto field = [&](std::string_view key, char end, std::string_view* out) {
    size_t at = l.find(key);
    if (at == std::string_view::npos) return false;
    at += key.size();
    size_t stop = l.find(end, at);
    if (stop == std::string_view::npos) return false;
    *out = l.substr(at, stop - at);
    return true;
  };
  std::string_view file, documents, data;
  if (!field("{\"file\":\"", '"', &file) || !field("\"documents\":", ',', &documents) ||
      !field("\"data\":\"", '"', &data)) {
    *error = "unreadable piece from the server: " + line_.substr(0, 120);
    return false;
  }
  piece_file_.assign(file);
  piece_documents_ = std::atoll(std::string(documents).c_str());
  raw_.clear();
  if (!DecodeBase64(data, &raw_)) {
    *error = "a piece of " + piece_file_ + " is not base64";
    return false;
  }
  return true;
}

// Reads one answer: a piece (is_piece_), another JSON object (*v), or false
// with the server's error.
bool Backup::Answer(Value* v, std::string* error) {
  if (!channel_->ReadResponse(&line_)) {
    *error = "the server closed the connection";
    return false;
  }
  is_piece_ = line_.rfind("{\"file\":", 0) == 0;
  if (is_piece_) return ReadPiece(error);
  if (line_.empty() || line_[0] != '{') {
    *error = line_.rfind("(error unknown-statement", 0) == 0 ? "the server does not know (backup): it is older than this tool"
                                                             : "the server answered " + line_.substr(0, 300);
    return false;
  }
  Status st = ParseJson(line_, 8, v);
  if (!st.ok() || !v->is_object()) {
    *error = "unreadable answer from the server: " + line_.substr(0, 120);
    return false;
  }
  return true;
}

bool Backup::Write(const std::string& name, std::string_view bytes, std::string* error) {
  if (!SafeFileName(name)) {
    *error = "the server named a file \"" + name.substr(0, 80) + "\", which is not a data directory's file";
    return false;
  }
  auto it = files_.find(name);
  if (it == files_.end()) {
    std::unique_ptr<WritableFile> f;
    Status st = fs_->OpenWritable(o_.dest + "/" + name + ".tmp", false, &f);
    if (!st.ok()) {
      *error = st.message();
      return false;
    }
    it = files_.emplace(name, std::move(f)).first;
  }
  Status st = it->second->Append(bytes);
  if (st.ok()) st = it->second->WriteBehind();  // steady writing, not all at the final sync
  if (!st.ok()) {
    *error = st.message();
    return false;
  }
  bytes_ += bytes.size();
  return true;
}

// Every piece is in: sync every file, give each its name, and only then
// remove the marker, so DEST opens only once all of it is durable.
bool Backup::Complete(std::string* error) {
  for (auto& [name, f] : files_) {
    Status st = f->Sync();
    if (st.ok()) st = f->Close();
    if (!st.ok()) {
      *error = st.message();
      return false;
    }
  }
  for (auto& [name, f] : files_) {
    Status st = fs_->Rename(o_.dest + "/" + name + ".tmp", o_.dest + "/" + name);
    if (!st.ok()) {
      *error = st.message();
      return false;
    }
  }
  Status st = fs_->SyncDir(o_.dest);
  if (st.ok()) st = fs_->Remove(Marker());  // only now does DEST open
  if (st.ok()) st = fs_->SyncDir(o_.dest);
  if (!st.ok()) {
    *error = st.message();
    return false;
  }
  finished_ = true;
  return true;
}

// With --max-rate: waits until the bytes written so far are on schedule.
void Backup::Pace(double seconds) {
  if (o_.max_rate_bytes <= 0) return;
  double due = static_cast<double>(bytes_) / static_cast<double>(o_.max_rate_bytes);
  if (due > seconds) std::this_thread::sleep_for(std::chrono::duration<double>(due - seconds));
}

void Backup::RemovePartial() {
  std::error_code ec;
  for (auto& [name, f] : files_) {
    if (f) (void)f->Close();
    std::filesystem::remove(o_.dest + "/" + name + ".tmp", ec);
    std::filesystem::remove(o_.dest + "/" + name, ec);
  }
  std::filesystem::remove(Marker(), ec);
  if (created_dest_) std::filesystem::remove(o_.dest, ec);
}

int Backup::Run() {
  std::string error;
  if (!PrepareDest(&error) || !MarkUnfinished(&error)) return Fail(error);
  Value v;
  if (!channel_->Send("(backup begin)\n") || !Answer(&v, &error)) return Fail(error);
  const int64_t total = IntField(v, "documents");
  Progress progress("backing up into " + o_.dest, "documents");
  int outstanding = 0;
  for (; outstanding < o_.window; ++outstanding) {
    if (!channel_->Send("(backup next)\n")) return Fail("the server closed the connection");
  }
  Value done;
  while (outstanding > 0) {
    if (!Answer(&v, &error)) return Fail(error);
    --outstanding;
    if (is_piece_ && !done.is_null()) return Fail("the server sent a piece after saying it was done");
    if (!done.is_null()) continue;  // asked for past the end: the same answer again
    if (!is_piece_) {
      if (v.find("done") == nullptr) return Fail("unexpected answer from the server: " + line_.substr(0, 120));
      done = std::move(v);
      continue;
    }
    if (!Write(piece_file_, raw_, &error)) return Fail(error);
    Pace(progress.Seconds());
    int64_t docs = piece_documents_;
    progress.Update(static_cast<uint64_t>(std::max<int64_t>(docs, 0)), total > 0 ? std::min(1.0, static_cast<double>(docs) / total) : -1);
    if (!channel_->Send("(backup next)\n")) return Fail("the server closed the connection");
    ++outstanding;
  }
  (void)channel_->Send("(backup end)\n");  // frees the server's side at once
  if (!Complete(&error)) return Fail(error);
  int64_t documents = IntField(done, "documents");
  int64_t records = IntField(done, "log_records");
  char tail[200];
  std::snprintf(tail, sizeof tail, " (a checkpoint through log record %" PRId64 ", then %" PRId64
                " log records through %" PRId64 "; %.1f MB)",
                IntField(done, "checkpoint_lsn"), records, IntField(done, "last_lsn"), static_cast<double>(bytes_) / 1e6);
  uint64_t n = static_cast<uint64_t>(std::max<int64_t>(documents, 0));
  progress.Finish("backed up " + WithCommas(n) + (n == 1 ? " document" : " documents") + " into " + o_.dest + tail, n);
  return 0;
}

}  // namespace

int RunBackup(const BackupOptions& options) {
  // A backup is background work: it gets the cores the server's clients
  // leave idle (on the same host), not theirs.
  (void)setpriority(PRIO_PROCESS, 0, 19);
  std::unique_ptr<Database> database;
  std::string error;
  std::unique_ptr<StatementChannel> channel = OpenChannel(options.channel, &database, &error);
  if (channel == nullptr) {
    std::fprintf(stderr, "parendb backup: %s\n", error.c_str());
    return 1;
  }
  Backup backup(options, channel.get());
  return backup.Run();
}

}  // namespace parendb
