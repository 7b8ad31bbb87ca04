// A checkpoint's bytes (log_format.h), made from an engine's snapshot a
// piece at a time: DataDir writes them to a file, a backup sends them over
// the network. Either way memory holds one piece, not the database.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace parendb {

class CheckpointEncoder {
 public:
  // Takes a snapshot (Engine::BeginCheckpoint) of engine, which must
  // outlive the encoder; the snapshot is released once the last piece is
  // out, or when the encoder is destroyed.
  explicit CheckpointEncoder(Engine* engine);
  ~CheckpointEncoder();
  CheckpointEncoder(const CheckpointEncoder&) = delete;
  CheckpointEncoder& operator=(const CheckpointEncoder&) = delete;

  // The lsn of the last commit in the snapshot: the checkpoint's name.
  uint64_t lsn() const { return view_.lsn; }
  // Appends at least `at_least` bytes to *out (fewer only at the end);
  // false once everything has been appended.
  bool Next(size_t at_least, std::string* out);
  int64_t documents() const { return documents_; }  // encoded so far

 private:
  void EncodeCollectionStep(std::string* out);
  void Flush(std::string* out);
  void Release();

  Engine* engine_;
  Engine::CheckpointView view_;
  bool released_ = false;
  bool header_done_ = false;
  bool done_ = false;
  size_t collection_ = 0;      // the one being encoded
  bool collection_started_ = false;
  bool have_last_ = false;
  DocId last_;                 // the last _id encoded in this collection
  int64_t documents_ = 0;
  std::vector<LogRecord> records_;
  std::vector<std::pair<DocId, DocRef>> chunk_;
};

}  // namespace parendb
