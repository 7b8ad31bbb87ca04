// The slow-transaction log: a transaction that held its locks at least
// EngineOptions::slow_transaction is described when it ends, with its
// statements (truncated) and how long it waited for its locks. Only
// sessions of an engine with the option set keep anything.
#include <cinttypes>
#include <cstdio>

#include "eval/evaluator.h"
#include "eval/evaluator_state.h"

namespace parendb {
namespace {

constexpr size_t kStatementBytes = 120;   // each statement's text is cut here
constexpr size_t kStatementsKept = 16;    // per transaction; later ones are counted

// The length of the statement at the start of text (through its closing
// parenthesis), or text.size() when it does not end within text.
size_t StatementLength(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')' && --depth == 0) {
      return i + 1;
    }
  }
  return text.size();
}

double Millis(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

}  // namespace

void Evaluator::CaptureStatementText() {
  std::string_view rest;
  statement_text_.clear();
  if (!reader_.PeekStatementStart(&rest) || rest.empty() || rest[0] != '(') return;
  std::string_view window = rest.substr(0, kStatementBytes + 1);
  size_t n = StatementLength(window);
  if (n > kStatementBytes) {
    statement_text_.assign(window.substr(0, kStatementBytes));
    statement_text_ += "…";
  } else {
    statement_text_.assign(window.substr(0, n));
  }
  for (char& c : statement_text_) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';  // one log line
  }
}

void Evaluator::DispatchNoted(const char* doc, size_t doc_len, size_t doc_cap) {
  // The transaction the statement belongs to, before it runs (a commit
  // may end it); (open t) makes its transaction, so it is noted after.
  auto note = [&](Transaction* t) {
    if (t == nullptr || statement_text_.empty()) return;
    if (t->statements.size() < kStatementsKept) {
      t->statements.push_back(statement_text_);
    } else {
      ++t->statements_dropped;
    }
  };
  Transaction* t = nullptr;
  if (stmt_->kind != StatementKind::kOpen) {
    if (!stmt_->txn.empty()) {
      t = FindTransaction(stmt_->txn);
    } else if (!stmt_->selection.empty()) {
      if (Selection* s = FindSelection(stmt_->selection)) t = s->txn;
    }
    note(t);
  }
  DispatchTimed(doc, doc_len, doc_cap);
  if (stmt_->kind == StatementKind::kOpen) note(FindTransaction(stmt_->txn));
}

void Evaluator::NoteEnd(Transaction* t, bool committed) {
  if (t->acquired_at == std::chrono::steady_clock::time_point{}) return;  // held no locks
  auto now = std::chrono::steady_clock::now();
  const EngineOptions& o = engine_->options();
  if (now - t->acquired_at < o.slow_transaction) return;
  std::string line = "slow transaction " + t->name;
  if (!peer_.empty()) line += " from " + peer_;
  char numbers[160];
  std::snprintf(numbers, sizeof numbers, ": held its locks %.1f ms (waited %.1f ms for them%s), %s; ",
                Millis(now - t->acquired_at), Millis(t->acquired_at - t->acquire_began),
                t->attempts > 0 ? ", acquired again after a missed prediction" : "",
                committed ? "committed" : "closed without committing");
  line += numbers;
  line += std::to_string(t->statements.size() + t->statements_dropped) + " statements:";
  for (const std::string& s : t->statements) {
    line += ' ';
    line += s;
  }
  if (t->statements_dropped > 0) line += " … and " + std::to_string(t->statements_dropped) + " more";
  o.on_slow_transaction(line);
}

}  // namespace parendb
