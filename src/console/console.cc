// The console's loop over either an embedded evaluator or a server (a
// Backend). At a terminal, an entry — every line up to the one that
// completes its last statement — is sent only once it is complete (so
// Ctrl-C drops an entry that was never sent), one statement at a time.
#include "console/console.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>

#include "client/connection.h"
#include "console/completion.h"
#include "console/line_editor.h"
#include "console/response_counter.h"
#include "doc/json.h"
#include "engine/engine.h"
#include "eval/evaluator.h"
#include "eval/statement.h"

namespace parendb {
namespace {

// Where statements go and answers come from.
class Backend {
 public:
  virtual ~Backend() = default;
  // Runs text holding `responses` statements (complete ones), calling each
  // with every answer line in order; false when the connection is gone.
  virtual bool Run(std::string_view text, size_t responses, const std::function<void(std::string_view)>& each) = 0;
  virtual std::vector<std::string> Collections() = 0;
  // A new entry: error positions count from its first line.
  virtual void NewEntry() {}
  // The input is over: what it still completes is answered to each.
  virtual void Finish(const std::function<void(std::string_view)>& each) = 0;
  virtual std::string where() const = 0;
};

class EmbeddedBackend : public Backend {
 public:
  explicit EmbeddedBackend(Engine* engine) : engine_(engine), e_(engine) {}
  bool Run(std::string_view text, size_t, const std::function<void(std::string_view)>& each) override {
    e_.Feed(text);
    while (e_.blocked()) e_.WaitAndResume();
    for (const ResponseMark& m : e_.marks()) each(std::string_view(e_.output().data() + m.begin, m.size));
    e_.ClearOutput();
    return !e_.must_close();
  }
  std::vector<std::string> Collections() override { return engine_->CollectionNames(); }
  void NewEntry() override { e_.reader().ResetPosition(); }
  void Finish(const std::function<void(std::string_view)>& each) override {
    e_.FinishInput();
    for (const ResponseMark& m : e_.marks()) each(std::string_view(e_.output().data() + m.begin, m.size));
    e_.ClearOutput();
  }
  std::string where() const override { return "an embedded database"; }

 private:
  Engine* engine_;
  Evaluator e_;
};

class RemoteBackend : public Backend {
 public:
  RemoteBackend(ServerConnection* c, std::string address) : c_(c), address_(std::move(address)) {}
  bool Run(std::string_view text, size_t responses, const std::function<void(std::string_view)>& each) override {
    // Once the statement is sent, Ctrl-C writes (cancel) to the socket (not
    // before: it would land inside a statement still being written): a
    // waiting acquire ends at once, and the server answers every (cancel)
    // with one line more. A press during the send is acted on after it.
    const int cancels_before = InterruptGuard::cancels_sent();
    const int presses_before = InterruptGuard::presses();
    if (!c_->Send(text)) return Closed();
    InterruptGuard::SetCancelSocket(c_->native_handle());
    if (InterruptGuard::presses() != presses_before) InterruptGuard::CancelNow();
    auto expected = [&] { return responses + static_cast<size_t>(InterruptGuard::cancels_sent() - cancels_before); };
    size_t read = 0;
    std::string line;
    auto read_until_expected = [&] {
      for (; read < expected(); ++read) {
        if (!c_->ReadLine(&line)) return false;
        each(line);
      }
      return true;
    };
    bool ok = read_until_expected();
    InterruptGuard::SetCancelSocket(-1);
    // A Ctrl-C just as the last answer came: its (cancel) is answered too.
    if (ok) ok = read_until_expected();
    return ok ? true : Closed();
  }
  std::vector<std::string> Collections() override {
    std::vector<std::string> names;
    std::string line;
    if (!c_->Send("(colls)\n") || !c_->ReadLine(&line)) return names;
    Value v;
    if (!ParseJson(line, 4, &v).ok() || !v.is_array()) return names;
    for (const Value& n : v.as_array()) {
      if (n.is_string()) names.push_back(n.as_string());
    }
    return names;
  }
  void Finish(const std::function<void(std::string_view)>&) override { c_->ShutdownSend(); }
  std::string where() const override { return address_; }

 private:
  bool Closed() {
    std::fprintf(stderr, "parendb: the server closed the connection\n");
    return false;
  }
  ServerConnection* c_;
  std::string address_;
};

struct Printer {
  bool pretty = false;
  bool colour = false;  // errors in red: stdout is a terminal (and NO_COLOR is not set)

  void Line(std::string_view line) const {
    if (pretty && !line.empty() && line[0] != '(') {  // a JSON response
      Value v;
      if (ParseJson(line, 1 << 20, &v).ok()) {
        std::string text;
        AppendJsonPretty(v, &text);
        std::fprintf(stdout, "%s\n", text.c_str());
        return;
      }
    }
    bool error = colour && line.rfind("(error ", 0) == 0;
    if (error) std::fputs("\033[1;31m", stdout);
    std::fwrite(line.data(), 1, line.size(), stdout);
    if (error) std::fputs("\033[0m", stdout);
    std::fputc('\n', stdout);
  }
};

bool ColourWanted() {
  const char* term = std::getenv("TERM");
  return isatty(STDOUT_FILENO) && std::getenv("NO_COLOR") == nullptr && !(term != nullptr && std::string(term) == "dumb");
}

void PrintHelp() {
  std::printf("Statements (end each with its closing parenthesis; a JSON object follows create/updateall):\n");
  for (const StatementHelp& h : StatementHelpTable()) {
    std::printf("  %-11s %s\n  %-11s   %s\n", std::string(h.name).c_str(), std::string(h.summary).c_str(), "",
                std::string(h.example).c_str());
  }
  std::printf(
      "Conditions: true false (= A B) (!= A B) (< A B) (<= A B) (> A B) (>= A B)\n"
      "            (& C …) (| C …) (! C) (exists (f …)) (in A V …)\n"
      "Expressions: literals, (f name …), (+ A B …) (- A B) (- A) (* A B …) (/ A B) (%% A B)\n"
      "Console commands: :help  :pretty on|off  :timing on|off  :quit  (Ctrl-D also quits)\n"
      "Keys: Tab completes statement, collection and command names; Ctrl-C drops the\n"
      "      entry being typed, and ends a waiting acquire on a server (lock-timeout).\n");
}

// Text cut into pieces that are each answered in full once sent: a
// statement each (with the blanks before it), or two where a create lacks
// its document (see ResponseCounter::Piece).
struct Unit {
  std::string_view text;
  size_t answers;
};
std::vector<Unit> SplitStatements(std::string_view text) {
  std::vector<Unit> units;
  size_t from = 0;
  for (const ResponseCounter::Piece& p : SplitIntoPieces(text)) {
    units.push_back(Unit{text.substr(from, p.end - from), p.answers});
    from = p.end;
  }
  return units;
}

// One entry, a statement at a time: each is sent once the one before is
// answered, so that a (cancel) sent by Ctrl-C finds nothing queued before
// it on the server and ends a waiting acquire at once. (A person types
// slower than a round trip; --file and piped input are pipelined.)
bool RunEntry(Backend& b, std::string_view entry, bool timing, const Printer& p) {
  auto print = [&](std::string_view line) { p.Line(line); };
  for (const Unit& unit : SplitStatements(entry)) {
    auto start = std::chrono::steady_clock::now();
    bool ok = b.Run(unit.text, unit.answers, print);
    if (timing) {
      double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
      std::printf("Time: %.3f ms\n", ms);
    }
    std::fflush(stdout);
    if (!ok) return false;
  }
  return true;
}

int RunInteractive(Backend& b, const ConsoleOptions& options) {
  std::string history = options.history_file;
  if (history.empty()) {
    const char* home = std::getenv("HOME");
    history = std::string(home != nullptr ? home : ".") + "/.parendb_history";
  }
  Printer p{options.pretty, ColourWanted()};
  bool timing = false;
  InterruptGuard interrupts;
  std::vector<std::string> collections = b.Collections();
  bool collections_stale = false;
  LineEditor editor("parendb", history, [&](const std::string& before) {
    if (collections_stale) {  // refreshed when Tab needs them, not after every entry
      collections = b.Collections();
      collections_stale = false;
    }
    return Complete(before, collections);
  });
  std::printf("ParenDB %s console on %s. :help lists the statements; Tab completes; Ctrl-D quits.\n", PARENDB_VERSION,
              b.where().c_str());
  std::string entry;  // the lines of the entry being typed
  auto counter = std::make_unique<ResponseCounter>();  // over entry
  while (true) {
    std::string line;
    LineEditor::Result r = editor.Read(entry.empty() ? "parendb> " : "     ...> ", &line);
    if (r == LineEditor::Result::kEnd) break;
    if (r == LineEditor::Result::kInterrupted) {
      entry.clear();  // never sent: nothing to undo
      counter = std::make_unique<ResponseCounter>();
      continue;
    }
    if (entry.empty() && !line.empty() && line[0] == ':') {
      editor.AddHistory(line);
      if (line == ":quit" || line == ":q") break;
      if (line == ":help" || line == ":h") {
        PrintHelp();
      } else if (line == ":pretty on" || line == ":pretty") {
        p.pretty = true;
      } else if (line == ":pretty off") {
        p.pretty = false;
      } else if (line == ":timing on" || line == ":timing") {
        timing = true;
      } else if (line == ":timing off") {
        timing = false;
      } else {
        std::printf("unknown console command %s (try :help)\n", line.c_str());
      }
      continue;
    }
    entry += line + "\n";
    counter->Feed(line + "\n");
    if (counter->NeedsMore() && !counter->fatal()) continue;
    std::string text = std::move(entry);
    entry.clear();
    counter = std::make_unique<ResponseCounter>();
    std::string remembered = text.substr(0, text.size() - 1);
    if (remembered.find_first_not_of(" \t\n") != std::string::npos) editor.AddHistory(remembered);
    b.NewEntry();
    if (!RunEntry(b, text, timing, p)) return 1;
    collections_stale = true;
  }
  b.Finish([&](std::string_view line) { p.Line(line); });
  std::printf("\n");
  return 0;
}

// --file: the script, pipelined; or with stop_on_error, one statement at a
// time until one is answered with an error.
int RunFile(Backend& b, const ConsoleOptions& options) {
  std::ifstream in(options.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "parendb console: cannot read %s\n", options.file.c_str());
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string script = ss.str();
  Printer p{options.pretty, ColourWanted()};
  std::vector<Unit> units = SplitStatements(script);
  auto print = [&](std::string_view line) { p.Line(line); };
  if (!options.stop_on_error) {
    size_t answers = 0;
    for (const Unit& u : units) answers += u.answers;
    bool ok = b.Run(script, answers, print);
    b.Finish(print);
    std::fflush(stdout);
    return ok ? 0 : 1;
  }
  size_t offset = 0;
  for (const Unit& unit : units) {
    bool failed = false;
    bool ok = b.Run(unit.text, unit.answers, [&](std::string_view line) {
      p.Line(line);
      failed = failed || line.rfind("(error ", 0) == 0;
    });
    if (!ok) return 1;
    if (failed) {
      size_t first = unit.text.find_first_not_of(" \t\r\n");
      size_t at = offset + (first == std::string_view::npos ? 0 : first);
      size_t line_no = 1 + static_cast<size_t>(std::count(script.begin(), script.begin() + static_cast<long>(at), '\n'));
      std::fflush(stdout);
      std::fprintf(stderr, "parendb console: stopped at the first error, the statement on line %zu of %s\n", line_no,
                   options.file.c_str());
      return 1;
    }
    offset += unit.text.size();
  }
  b.Finish(print);
  std::fflush(stdout);
  return 0;
}

// stdin is not a terminal: read and answer as it comes, pipelined.
int RunPiped(Backend& b, const ConsoleOptions& options) {
  Printer p{options.pretty, false};
  ResponseCounter counter;
  char buf[1 << 16];
  ssize_t n;
  while ((n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0) {
    std::string_view chunk(buf, static_cast<size_t>(n));
    size_t complete = counter.Feed(chunk);
    if (!b.Run(chunk, complete, [&](std::string_view line) { p.Line(line); })) return 1;
    std::fflush(stdout);
    if (counter.fatal()) return 1;
  }
  b.Finish([&](std::string_view line) { p.Line(line); });
  std::fflush(stdout);
  return 0;
}

int RunWith(Backend& b, const ConsoleOptions& options) {
  if (!options.file.empty()) return RunFile(b, options);
  if (!isatty(STDIN_FILENO)) return RunPiped(b, options);
  return RunInteractive(b, options);
}

}  // namespace

int RunRemoteConsole(const std::string& address, const std::string& password, const ConsoleOptions& options) {
  ServerConnection remote;
  std::string error;
  if (!remote.Connect(address, &error) || (!password.empty() && !remote.Authenticate(password, &error))) {
    std::fprintf(stderr, "parendb: %s\n", error.c_str());
    return 1;
  }
  RemoteBackend b(&remote, address);
  return RunWith(b, options);
}

int RunConsole(Database* db, const ConsoleOptions& options) {
  EmbeddedBackend b(db->engine());
  return RunWith(b, options);
}

}  // namespace parendb
