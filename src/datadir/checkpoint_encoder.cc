#include "datadir/checkpoint_encoder.h"

#include "doc/json.h"
#include "wal/log_format.h"

namespace parendb {
namespace {
constexpr size_t kDocumentsPerFrame = 1024;
}

CheckpointEncoder::CheckpointEncoder(Engine* engine) : engine_(engine), view_(engine->BeginCheckpoint()) {}

CheckpointEncoder::~CheckpointEncoder() { Release(); }

void CheckpointEncoder::Release() {
  if (released_) return;
  released_ = true;
  engine_->EndCheckpoint(view_);
}

void CheckpointEncoder::Flush(std::string* out) {
  if (records_.empty()) return;
  AppendRecordsFrame(view_.lsn, records_, out);
  records_.clear();
}

bool CheckpointEncoder::Next(size_t at_least, std::string* out) {
  if (done_) return false;
  size_t start = out->size();
  if (!header_done_) {
    AppendFileHeader(kCheckpointMagic, view_.lsn, out);
    header_done_ = true;
  }
  while (out->size() - start < at_least && collection_ < view_.collections.size()) EncodeCollectionStep(out);
  if (collection_ == view_.collections.size() && out->size() - start < at_least) {
    LogRecord end;
    end.kind = LogRecord::Kind::kEnd;
    end.number = documents_;
    records_.push_back(std::move(end));
    Flush(out);
    done_ = true;
    Release();
  }
  return true;
}

// One frame's worth: the collection's record, a chunk of its documents, or
// (after the last chunk) its index definitions, which recovery builds last.
void CheckpointEncoder::EncodeCollectionStep(std::string* out) {
  const Collection& coll = *view_.collections[collection_];
  if (!collection_started_) {
    collection_started_ = true;
    have_last_ = false;
    LogRecord mk;
    mk.kind = LogRecord::Kind::kMakeCollection;
    mk.collection = coll.name();
    mk.number = coll.next_id();
    records_.push_back(std::move(mk));
    return Flush(out);
  }
  coll.ScanChunk(view_.ts, have_last_ ? &last_ : nullptr, kDocumentsPerFrame, &chunk_);
  for (auto& [id, doc] : chunk_) {
    LogRecord put;
    put.kind = LogRecord::Kind::kPut;
    put.collection = coll.name();
    put.id = id;
    put.doc = std::move(doc);
    records_.push_back(std::move(put));
  }
  documents_ += static_cast<int64_t>(chunk_.size());
  if (!chunk_.empty()) {
    last_ = chunk_.back().first;
    have_last_ = true;
  }
  bool last_chunk = chunk_.size() < kDocumentsPerFrame;
  chunk_.clear();
  Flush(out);
  if (!last_chunk) return;
  for (const IndexDef& def : view_.indexes[collection_]) {
    LogRecord mi;
    mi.kind = LogRecord::Kind::kMakeIndex;
    mi.collection = coll.name();
    AppendJson(PathToValue(def.path), &mi.path);
    mi.number = def.unique ? 1 : 0;
    records_.push_back(std::move(mi));
  }
  Flush(out);
  ++collection_;
  collection_started_ = false;
}

}  // namespace parendb
