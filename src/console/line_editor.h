// The console's line editing on a terminal (libedit's own API, not its
// readline emulation, so that Ctrl-C can be told from Ctrl-D): history
// kept in a file, Tab completion from a callback, and Ctrl-C cancelling the
// line being typed.
#pragma once

#include <functional>

#include "console/completion.h"
#include <memory>
#include <string>
#include <vector>

namespace parendb {

class LineEditor {
 public:
  enum class Result { kLine, kInterrupted, kEnd };
  // complete: the candidates for the text before the cursor (see
  // completion.h for what the fields mean).
  using Completer = std::function<struct Completions(const std::string& before_cursor)>;

  LineEditor(const char* program, std::string history_file, Completer complete);
  ~LineEditor();  // saves the history
  LineEditor(const LineEditor&) = delete;
  LineEditor& operator=(const LineEditor&) = delete;

  // Reads a line (without its newline) after showing prompt. kInterrupted:
  // Ctrl-C was pressed (the line is dropped); kEnd: Ctrl-D on an empty
  // line, or the terminal went away.
  Result Read(const std::string& prompt, std::string* line);
  void AddHistory(const std::string& entry);

  struct State;  // line_editor.cc (public for libedit's C callbacks there)

 private:
  std::unique_ptr<State> s_;
};

// Ctrl-C while the console runs: a SIGINT handler (installed by the
// guard, the previous one restored after) that counts presses and, while
// a socket is set, writes "(cancel)\n" to it.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  // While fd >= 0, each Ctrl-C sends (cancel) to it; -1 stops that.
  static void SetCancelSocket(int fd);
  // Sends (cancel) to that socket now (for a press that came before it was set).
  static void CancelNow();
  // Presses so far, and (cancel)s written so far.
  static int presses();
  static int cancels_sent();
};

}  // namespace parendb
