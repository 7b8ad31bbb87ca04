// The embedded API (include/parendb/parendb.h) over the engine and evaluator.
#include <parendb/parendb.h>

#include "api/engine_options.h"
#include "datadir/data_dir.h"
#include "engine/engine.h"
#include "eval/evaluator.h"

namespace parendb {

std::unique_ptr<Database> Database::Open(const Options& options, std::string* error) {
  return Open(options, FileSystem::Default(), error);
}

EngineOptions ToEngineOptions(const Options& options) {
  EngineOptions eo;
  eo.reader.max_bytes = options.max_statement_bytes;
  eo.reader.max_depth = options.max_depth;
  eo.lock_timeout = std::chrono::milliseconds(options.lock_timeout_ms);
  eo.max_transactions_per_session = options.max_transactions_per_session;
  eo.max_selections_per_transaction = options.max_selections_per_transaction;
  eo.on_progress = options.on_progress;
  eo.slow_transaction = std::chrono::milliseconds(std::max<int64_t>(0, options.slow_transaction_ms));
  eo.on_slow_transaction = options.on_slow_transaction;
  return eo;
}

std::unique_ptr<Database> Database::Open(const Options& options, FileSystem* fs, std::string* error) {
  EngineOptions eo = ToEngineOptions(options);
  std::unique_ptr<Database> db(new Database());
  if (options.data_dir.empty()) {
    db->engine_ = std::make_unique<Engine>(eo, std::make_unique<NoLog>());
    // A backup of a database in memory: its state as the backup began, as
    // a data directory holding one checkpoint.
    Engine* engine = db->engine_.get();
    engine->SetBackupHook([engine](std::unique_ptr<BackupStream>* out) {
      *out = MakeBackupStream(engine, nullptr, "", nullptr);
      return Status::Ok();
    });
    return db;
  }
  DataDirOptions d;
  d.dir = options.data_dir;
  d.engine = eo;
  if (options.sync_mode == "full") {
    d.sync = SyncMode::kFull;
  } else if (options.sync_mode == "async") {
    d.sync = SyncMode::kAsync;
  } else {
    *error = "unknown sync mode \"" + options.sync_mode + "\" (use full or async)";
    return nullptr;
  }
  d.sync_interval = std::chrono::milliseconds(std::max<int64_t>(1, options.sync_interval_ms));
  d.checkpoint_bytes = options.checkpoint_bytes;
  d.segment_bytes = options.log_segment_bytes;
  d.direct_io = options.log_direct_io;
  d.checkpoint_on_close = options.checkpoint_on_close;
  d.on_checkpoint = options.on_checkpoint;
  d.fs = fs;
  Status st = DataDir::Open(d, &db->data_dir_);
  if (!st.ok()) {
    *error = st.message();
    return nullptr;
  }
  return db;
}

Database::~Database() {
  data_dir_.reset();
  engine_.reset();
}

Engine* Database::engine() { return data_dir_ ? data_dir_->engine() : engine_.get(); }

std::unique_ptr<Session> Database::NewSession() {
  return std::unique_ptr<Session>(new Session(std::make_unique<Evaluator>(engine())));
}

Session::Session(std::unique_ptr<Evaluator> evaluator) : evaluator_(std::move(evaluator)) {}
Session::~Session() = default;

void Session::Run(std::string_view statements) {
  Evaluator& e = *evaluator_;
  e.ClearOutput();
  e.reader().ResetPosition();
  e.Feed(statements);
  while (e.blocked()) e.WaitAndResume();
  e.FinishInput();
}

std::string Session::ExecuteText(std::string_view statements) {
  Run(statements);
  std::string out = evaluator_->output();  // a copy, so the evaluator keeps its buffer
  evaluator_->ClearOutput();
  return out;
}

std::vector<Response> Session::Execute(std::string_view statements) {
  Run(statements);
  Evaluator& e = *evaluator_;
  std::vector<Response> out;
  out.reserve(e.marks().size());
  for (const ResponseMark& m : e.marks()) {
    Response::Kind kind = m.kind == ResponseKind::kOk     ? Response::Kind::kOk
                          : m.kind == ResponseKind::kJson ? Response::Kind::kJson
                                                          : Response::Kind::kError;
    out.emplace_back(kind, e.output().substr(m.begin, m.size),
                     m.kind == ResponseKind::kError ? std::string(ErrorCodeName(m.code)) : std::string());
  }
  e.ClearOutput();
  return out;
}

}  // namespace parendb
