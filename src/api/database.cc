// The embedded API (include/parendb/parendb.h) over the engine and evaluator.
#include <parendb/parendb.h>

#include "engine/engine.h"
#include "eval/evaluator.h"

namespace parendb {

std::unique_ptr<Database> Database::Open(const Options& options, std::string* error) {
  EngineOptions eo;
  eo.reader.max_bytes = options.max_statement_bytes;
  eo.reader.max_depth = options.max_depth;
  eo.lock_timeout = std::chrono::milliseconds(options.lock_timeout_ms);
  eo.max_transactions_per_session = options.max_transactions_per_session;
  eo.max_selections_per_transaction = options.max_selections_per_transaction;
  if (!options.data_dir.empty()) {
    *error = "durable data directories arrive with the write-ahead log; open in memory (empty data_dir)";
    return nullptr;
  }
  std::unique_ptr<Database> db(new Database());
  db->engine_ = std::make_unique<Engine>(eo, std::make_unique<NoLog>());
  return db;
}

Database::~Database() = default;

std::unique_ptr<Session> Database::NewSession() {
  return std::unique_ptr<Session>(new Session(std::make_unique<Evaluator>(engine_.get())));
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
