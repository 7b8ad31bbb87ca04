#include "wal/mem_file_system.h"

namespace parendb {
namespace {

Status NotFound(const std::string& path) { return Status(ErrorCode::kIo, "cannot open " + path + ": No such file or directory"); }

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

// Appends go straight to the shared contents, under the file system's
// mutex (a rename or a read may happen meanwhile on another thread).
class MemWritableFile final : public WritableFile {
 public:
  MemWritableFile(MemFileSystem* fs, std::shared_ptr<std::string> contents) : fs_(fs), contents_(std::move(contents)) {}
  Status Append(std::string_view data) override {
    std::lock_guard lock(fs_->mu_);
    contents_->append(data);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  uint64_t size() const override {
    std::lock_guard lock(fs_->mu_);
    return contents_->size();
  }

 private:
  MemFileSystem* fs_;
  std::shared_ptr<std::string> contents_;
};

Status MemFileSystem::OpenWritable(const std::string& path, bool append, std::unique_ptr<WritableFile>* out,
                                   size_t /*preallocate*/, bool /*direct*/) {
  std::lock_guard lock(mu_);
  if (dirs_.count(Parent(path)) == 0) return NotFound(path);
  Contents& c = files_[path];
  if (!c) c = std::make_shared<std::string>();
  if (!append) c->clear();
  *out = std::make_unique<MemWritableFile>(this, c);
  return Status::Ok();
}

Status MemFileSystem::ReadFile(const std::string& path, std::string* out) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound(path);
  *out = *it->second;
  return Status::Ok();
}

Status MemFileSystem::ListDir(const std::string& dir, std::vector<std::string>* names) {
  std::lock_guard lock(mu_);
  if (dirs_.count(dir) == 0) return NotFound(dir);
  names->clear();
  for (const auto& [path, contents] : files_) {
    if (Parent(path) == dir) names->push_back(path.substr(dir.size() + 1));
  }
  return Status::Ok();
}

Status MemFileSystem::Rename(const std::string& from, const std::string& to) {
  std::lock_guard lock(mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return NotFound(from);
  Contents c = it->second;
  files_.erase(it);
  files_[to] = std::move(c);
  return Status::Ok();
}

Status MemFileSystem::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  return files_.erase(path) == 1 ? Status::Ok() : NotFound(path);
}

Status MemFileSystem::Truncate(const std::string& path, uint64_t size) {
  std::lock_guard lock(mu_);
  auto it = files_.find(path);
  if (it == files_.end()) return NotFound(path);
  it->second->resize(size);
  return Status::Ok();
}

Status MemFileSystem::MakeDir(const std::string& dir) {
  std::lock_guard lock(mu_);
  dirs_.insert(dir);
  return Status::Ok();
}

std::map<std::string, std::string> MemFileSystem::Files() const {
  std::lock_guard lock(mu_);
  std::map<std::string, std::string> out;
  for (const auto& [path, contents] : files_) out.emplace(path, *contents);
  return out;
}

void MemFileSystem::Put(const std::string& path, std::string contents) {
  std::lock_guard lock(mu_);
  dirs_.insert(Parent(path));
  files_[path] = std::make_shared<std::string>(std::move(contents));
}

}  // namespace parendb
