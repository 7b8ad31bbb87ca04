#include "console/line_editor.h"

#include <histedit.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <cwchar>

#include "console/completion.h"

namespace parendb {
namespace {

// Touched by the SIGINT handler: lock-free atomics (async-signal-safe).
std::atomic<int> g_presses{0};
std::atomic<int> g_cancels{0};
std::atomic<int> g_cancel_fd{-1};
static_assert(std::atomic<int>::is_always_lock_free);
struct sigaction g_previous;
pthread_t g_console_thread;

// Writes (cancel) to the cancel socket, if one is set; async-signal-safe.
void WriteCancel() {
  int fd = g_cancel_fd;
  if (fd < 0) return;
  static const char kCancel[] = "(cancel)\n";
  if (::write(fd, kCancel, sizeof kCancel - 1) == static_cast<ssize_t>(sizeof kCancel - 1)) ++g_cancels;
}

void OnInterrupt(int) {
  int saved = errno;
  // A process-wide signal may land on any thread (an embedded database has
  // several): only the console's thread has a read(2) to interrupt.
  if (!pthread_equal(pthread_self(), g_console_thread)) {
    pthread_kill(g_console_thread, SIGINT);
    errno = saved;
    return;
  }
  ++g_presses;
  WriteCancel();
  errno = saved;
}

}  // namespace

struct LineEditor::State {
  EditLine* el = nullptr;
  History* history = nullptr;
  HistEvent event;
  std::string history_file;
  std::string prompt;
  Completer complete;
};

namespace {

const char* PromptOf(EditLine* el) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  return static_cast<LineEditor::State*>(data)->prompt.c_str();
}

// Reads one character for libedit. Its own reader retries a read(2) that a
// signal interrupted, so Ctrl-C would only be noticed at the next key; this
// one gives up instead (el_gets then returns at once), and decodes UTF-8
// itself, as libedit's does.
std::atomic<int> g_presses_at_read{0};

int ReadChar(EditLine*, wchar_t* out) {
  std::mbstate_t state{};
  sigset_t interrupt, unblocked;
  sigemptyset(&interrupt);
  sigaddset(&interrupt, SIGINT);
  while (true) {
    // Ctrl-C is taken only inside ppoll, after the press count was looked
    // at: a press just before the wait interrupts it instead of being
    // missed until the next key.
    pthread_sigmask(SIG_BLOCK, &interrupt, &unblocked);
    if (g_presses != g_presses_at_read) {
      pthread_sigmask(SIG_SETMASK, &unblocked, nullptr);
      return -1;
    }
    pollfd p{STDIN_FILENO, POLLIN, 0};
    int ready = ppoll(&p, 1, nullptr, &unblocked);
    pthread_sigmask(SIG_SETMASK, &unblocked, nullptr);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    char c;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? 0 : -1;
    size_t r = std::mbrtowc(out, &c, 1, &state);
    if (r == static_cast<size_t>(-2)) continue;  // more bytes of this character
    if (r == static_cast<size_t>(-1)) {          // not valid here: take the byte as it is
      *out = static_cast<unsigned char>(c);
      state = std::mbstate_t{};
    }
    return 1;
  }
}

// Tab: the one candidate is inserted whole (with a space after it where
// more follows), several share a prefix that is inserted,
// and when nothing more can be inserted they are listed.
unsigned char OnTab(EditLine* el, int) {
  void* data = nullptr;
  el_get(el, EL_CLIENTDATA, &data);
  auto* s = static_cast<LineEditor::State*>(data);
  const LineInfo* li = el_line(el);
  std::string before(li->buffer, static_cast<size_t>(li->cursor - li->buffer));
  Completions c = s->complete(before);
  const std::vector<std::string>& words = c.words;
  if (words.empty()) return CC_REFRESH_BEEP;
  size_t typed = before.size() - c.word_start;
  std::string common = CommonPrefix(words);
  if (words.size() == 1) {
    std::string rest = words[0].substr(typed);
    if (c.space_after) rest += ' ';
    el_insertstr(el, rest.c_str());
    return CC_REFRESH;
  }
  if (common.size() > typed) {
    el_insertstr(el, common.substr(typed).c_str());
    return CC_REFRESH;
  }
  std::fputc('\n', stdout);
  for (const std::string& w : words) std::fprintf(stdout, "%s  ", w.c_str());
  std::fputc('\n', stdout);
  std::fflush(stdout);
  return CC_REDISPLAY;
}

}  // namespace

LineEditor::LineEditor(const char* program, std::string history_file, Completer complete) : s_(new State) {
  s_->history_file = std::move(history_file);
  s_->complete = std::move(complete);
  s_->history = history_init();
  history(s_->history, &s_->event, H_SETSIZE, 1000);
  history(s_->history, &s_->event, H_SETUNIQUE, 1);
  history(s_->history, &s_->event, H_LOAD, s_->history_file.c_str());
  s_->el = el_init(program, stdin, stdout, stderr);
  el_set(s_->el, EL_CLIENTDATA, s_.get());
  el_set(s_->el, EL_EDITOR, "emacs");
  el_set(s_->el, EL_SIGNAL, 0);  // our SIGINT handler, not libedit's
  el_set(s_->el, EL_PROMPT, &PromptOf);
  el_set(s_->el, EL_GETCFN, &ReadChar);
  el_set(s_->el, EL_HIST, history, s_->history);
  el_set(s_->el, EL_ADDFN, "parendb-complete", "complete a statement, collection or command", &OnTab);
  el_set(s_->el, EL_BIND, "^I", "parendb-complete", nullptr);
  el_source(s_->el, nullptr);  // ~/.editrc, as other libedit programs read it
}

LineEditor::~LineEditor() {
  history(s_->history, &s_->event, H_SAVE, s_->history_file.c_str());
  el_end(s_->el);
  history_end(s_->history);
}

LineEditor::Result LineEditor::Read(const std::string& prompt, std::string* line) {
  s_->prompt = prompt;
  int count = 0;
  int presses = g_presses;
  g_presses_at_read = presses;
  const char* text = el_gets(s_->el, &count);
  if (g_presses != presses) {
    // Ctrl-C: read(2) was interrupted; libedit keeps what was typed unless
    // told to forget it.
    el_reset(s_->el);
    std::fputs("^C\n", stdout);
    return Result::kInterrupted;
  }
  if (text == nullptr || count <= 0) return Result::kEnd;
  line->assign(text, static_cast<size_t>(count));
  while (!line->empty() && (line->back() == '\n' || line->back() == '\r')) line->pop_back();
  return Result::kLine;
}

void LineEditor::AddHistory(const std::string& entry) { history(s_->history, &s_->event, H_ENTER, entry.c_str()); }

InterruptGuard::InterruptGuard() {
  g_console_thread = pthread_self();
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = &OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: a blocked read returns EINTR, so el_gets stops
  sigaction(SIGINT, &sa, &g_previous);
}

InterruptGuard::~InterruptGuard() {
  g_cancel_fd = -1;
  sigaction(SIGINT, &g_previous, nullptr);
}

void InterruptGuard::SetCancelSocket(int fd) { g_cancel_fd = fd; }
void InterruptGuard::CancelNow() { WriteCancel(); }
int InterruptGuard::presses() { return g_presses; }
int InterruptGuard::cancels_sent() { return g_cancels; }

}  // namespace parendb
