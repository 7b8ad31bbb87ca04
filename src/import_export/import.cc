// parendb import: documents from JSON Lines or a JSON array, in batched
// transactions, pipelined. Each batch is one transaction,
//   (open iN)(acquire iN)(create d0 iN (coll C)) {…}\n … (commit iN)\n
// so a batch is applied whole or not at all: any error closes its
// transaction, and the commit after it then fails too.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <vector>

#include "client/progress.h"
#include "import_export/document_scanner.h"
#include "import_export/import_export.h"

namespace parendb {
namespace {

std::atomic<bool> g_interrupted{false};

void OnInterrupt(int) {
  if (g_interrupted.exchange(true)) _exit(130);  // a second Ctrl-C: at once
}

// "(error CODE …)" -> CODE; empty for any other response.
std::string_view ErrorCode(std::string_view line) {
  if (line.rfind("(error ", 0) != 0) return {};
  line.remove_prefix(7);
  return line.substr(0, line.find(' '));
}

struct Doc {
  size_t offset;  // in Batch::docs_text
  size_t size;
  int64_t line;
};

struct Batch {
  std::string docs_text;  // the documents, back to back
  std::vector<Doc> docs;
  int attempts = 0;  // sent again after a conflict
  std::string_view Text(const Doc& d) const { return std::string_view(docs_text).substr(d.offset, d.size); }
};

constexpr int kMaxAttempts = 100;

class Importer {
 public:
  // One lane per connection: batches go round the lanes, and each lane's
  // answers come back in its own order.
  struct Lane {
    std::unique_ptr<StatementChannel> channel;
    std::deque<Batch> in_flight;
  };
  Importer(const ImportOptions& options, std::vector<Lane> lanes) : o_(options), lanes_(std::move(lanes)) {}

  int Run(int fd, uint64_t total_bytes);

 private:
  bool Add(std::string_view doc, int64_t line);
  // Sends on `lane` (-1: the next lane round).
  bool SendBatch(Batch batch, int lane = -1);
  bool Settle(Lane& lane);  // reads the lane's oldest batch's answers
  bool Retry(Batch batch, int lane);
  bool Resend(Batch batch, int lane);
  static Batch Without(const Batch& batch, size_t from, size_t to);  // docs [from, to) left out
  bool InFlight() const;
  bool Fail(const std::string& message);

  const ImportOptions& o_;
  std::vector<Lane> lanes_;
  size_t next_lane_ = 0;
  Batch current_;
  std::string statements_;
  uint64_t seq_ = 0;
  uint64_t imported_ = 0;
  uint64_t skipped_ = 0;
  bool failed_ = false;
  int64_t stop_line_ = 0;  // the earliest bad document's line, in stop mode
  struct Committed {
    int64_t first_line, last_line;
    size_t docs;
  };
  std::vector<Committed> committed_;  // for the summary: what went in after the stop line
  bool lost_ = false;  // the connection closed: nothing more will be answered
  std::string coll_clause_;
};

bool Importer::Fail(const std::string& message) {
  std::fprintf(stderr, "parendb import: %s\n", message.c_str());
  failed_ = true;
  return false;
}

bool Importer::Add(std::string_view doc, int64_t line) {
  current_.docs.push_back(Doc{current_.docs_text.size(), doc.size(), line});
  DocumentScanner::AppendOneLine(doc, &current_.docs_text);
  if (static_cast<int64_t>(current_.docs.size()) < o_.batch) return true;
  return SendBatch(std::move(current_));
}

bool Importer::InFlight() const {
  for (const Lane& lane : lanes_) {
    if (!lane.in_flight.empty()) return true;
  }
  return false;
}

bool Importer::SendBatch(Batch batch, int lane_index) {
  current_ = Batch();
  if (batch.docs.empty()) return true;
  Lane& lane = lanes_[lane_index >= 0 ? static_cast<size_t>(lane_index) : next_lane_++ % lanes_.size()];
  std::string txn = "i" + std::to_string(seq_++ % 1000);
  statements_.clear();
  statements_ += "(open " + txn + ")(acquire " + txn + ")";
  for (size_t k = 0; k < batch.docs.size(); ++k) {
    statements_ += "(create d";
    statements_ += std::to_string(k);
    statements_ += ' ';
    statements_ += txn;
    statements_ += coll_clause_;
    statements_ += batch.Text(batch.docs[k]);
    statements_ += '\n';  // the document is one line: refused, the server skips to here
  }
  statements_ += "(commit " + txn + ")\n";
  if (!lane.channel->Send(statements_)) {
    lost_ = true;
    return Fail("the server closed the connection");
  }
  lane.in_flight.push_back(std::move(batch));
  while (static_cast<int64_t>(lane.in_flight.size()) > o_.window) {
    if (!Settle(lane)) return false;
  }
  return true;
}

bool Importer::Settle(Lane& lane) {
  Batch batch = std::move(lane.in_flight.front());
  lane.in_flight.pop_front();
  int lane_index = static_cast<int>(&lane - lanes_.data());
  std::string line, first_error;
  size_t answers = batch.docs.size() + 3, failed_at = 0;
  for (size_t i = 0; i < answers; ++i) {
    if (!lane.channel->ReadResponse(&line)) {
      lost_ = true;
      return Fail("the server closed the connection before answering lines " + std::to_string(batch.docs.front().line) +
                  "-" + std::to_string(batch.docs.back().line) + "; whether they are in is unknown");
    }
    if (first_error.empty() && line.rfind("(error ", 0) == 0) {
      first_error = line;
      failed_at = i;
    }
  }
  const Doc& first = batch.docs.front();
  const Doc& last = batch.docs.back();
  if (first_error.empty()) {
    imported_ += batch.docs.size();
    committed_.push_back(Committed{first.line, last.line, batch.docs.size()});
    return true;
  }
  bool in_create = failed_at >= 2 && failed_at < answers - 1;
  std::string_view code = ErrorCode(first_error);
  if (code == "conflict") return Retry(std::move(batch), lane_index);
  if (!in_create) return Fail("lines " + std::to_string(first.line) + "-" + std::to_string(last.line) + ": " + first_error);
  size_t bad_index = failed_at - 2;
  const Doc& bad = batch.docs[bad_index];
  std::string message = "line " + std::to_string(bad.line) + ": " + first_error;
  bool skippable = code == "bad-document" || code == "duplicate-id" || code == "duplicate-key";
  if (!o_.skip_bad || !skippable) {
    if (stop_line_ > 0 && bad.line > stop_line_) return false;  // after the stop: left out, like the rest
    // The import stops at the earliest bad document; everything before it
    // goes in (as with a bad line found here), sent again after the batches
    // in flight.
    Fail(message);
    stop_line_ = bad.line;
    SendBatch(Without(batch, bad_index, batch.docs.size()), lane_index);
    return false;
  }
  std::fprintf(stderr, "parendb import: skipped %s\n", message.c_str());
  ++skipped_;
  // The batch without the bad document, sent after those in flight.
  return Resend(Without(batch, bad_index, bad_index + 1), lane_index);
}

Batch Importer::Without(const Batch& batch, size_t from, size_t to) {
  Batch rest;
  rest.attempts = batch.attempts;
  for (size_t k = 0; k < batch.docs.size(); ++k) {
    if (k >= from && k < to) continue;
    const Doc& d = batch.docs[k];
    rest.docs.push_back(Doc{rest.docs_text.size(), d.size, d.line});
    rest.docs_text.append(batch.Text(d));
  }
  return rest;
}

bool Importer::Resend(Batch batch, int lane_index) {
  Batch pending = std::move(current_);
  bool ok = SendBatch(std::move(batch), lane_index);
  current_ = std::move(pending);
  return ok;
}

// A conflict is a lock another transaction holds — most often another lane
// of this import creating the same _id (or unique key) in a batch still in
// flight. Once the other lanes' batches are settled the batch is sent again,
// and then it either goes in or meets the duplicate as a bad document.
bool Importer::Retry(Batch batch, int lane_index) {
  if (stop_line_ > 0 && batch.docs.front().line > stop_line_) return false;  // past the stop: left out
  if (++batch.attempts > kMaxAttempts) {
    return Fail("lines " + std::to_string(batch.docs.front().line) + "-" + std::to_string(batch.docs.back().line) +
                ": still conflicting with another transaction after " + std::to_string(kMaxAttempts) + " attempts");
  }
  for (Lane& other : lanes_) {
    while (&other != &lanes_[static_cast<size_t>(lane_index)] && !other.in_flight.empty() && !lost_) Settle(other);
  }
  if (lost_) return false;
  return Resend(std::move(batch), lane_index);
}

int Importer::Run(int fd, uint64_t total_bytes) {
  coll_clause_ = " (coll " + o_.collection + ")) ";
  std::string line;
  if (o_.create) {
    StatementChannel* channel = lanes_[0].channel.get();
    if (!channel->Send("(mkcoll " + o_.collection + ")\n") || !channel->ReadResponse(&line)) {
      Fail("the server closed the connection");
      return 1;
    }
    if (line != "(ok mkcoll)" && ErrorCode(line) != "collection-exists") {
      Fail("cannot create collection " + o_.collection + ": " + line);
      return 1;
    }
  }
  Progress progress("importing into " + o_.collection, "documents");
  DocumentScanner scanner;
  std::vector<char> chunk(1 << 20);
  bool input_done = false;
  std::string error;
  while (!failed_ && !g_interrupted) {
    std::string_view doc;
    DocumentScanner::Result r = scanner.Next(&doc, &error);
    if (r == DocumentScanner::Result::kDocument) {
      if (!Add(doc, scanner.line())) break;
      progress.Update(imported_, total_bytes > 0 ? static_cast<double>(scanner.consumed()) / total_bytes : -1);
    } else if (r == DocumentScanner::Result::kBad) {
      std::string message = "line " + std::to_string(scanner.line()) + ": " + error;
      if (o_.skip_bad && scanner.can_go_on()) {
        std::fprintf(stderr, "parendb import: skipped %s\n", message.c_str());
        ++skipped_;
        continue;
      }
      Fail(message);
      stop_line_ = scanner.line();
      SendBatch(std::move(current_));  // what came before it goes in
    } else if (r == DocumentScanner::Result::kNeedMore) {
      ssize_t n = ::read(fd, chunk.data(), chunk.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        Fail(std::string("cannot read the input: ") + std::strerror(errno));
        break;
      }
      if (n == 0) {
        scanner.Finish();
      } else {
        scanner.Append(std::string_view(chunk.data(), static_cast<size_t>(n)));
      }
    } else {
      input_done = true;
      break;
    }
  }
  // What was read is sent (unless something failed), and everything sent is
  // settled: each batch's outcome is known before the summary.
  if (!failed_ && !g_interrupted) SendBatch(std::move(current_));
  while (InFlight() && !lost_) {
    for (Lane& lane : lanes_) {
      if (!lane.in_flight.empty() && !lost_) Settle(lane);
    }
  }
  std::string summary = "imported " + WithCommas(imported_) + " documents into " + o_.collection;
  if (skipped_ > 0) summary += ", skipped " + WithCommas(skipped_) + " bad ones";
  if (stop_line_ > 0 && !lost_) {
    summary = "stopped at line " + std::to_string(stop_line_) + ": " + summary + "; every document before that line is in";
    uint64_t after = 0;
    std::string lines;
    for (const Committed& c : committed_) {
      if (c.first_line < stop_line_) continue;
      after += c.docs;
      lines += (lines.empty() ? "" : ", ") + std::to_string(c.first_line) + "-" + std::to_string(c.last_line);
    }
    if (after > 0) {
      summary += ", and " + WithCommas(after) + " after it, in batches sent before the error was known (lines " + lines + ")";
    }
  } else if (failed_) {
    summary = "stopped: " + summary;
  }
  if (g_interrupted) summary = "interrupted: " + summary + " (whole batches only, in input order)";
  progress.Finish(summary, imported_);
  if (failed_) return 1;
  if (g_interrupted) return 130;
  return input_done ? 0 : 1;
}

}  // namespace

int RunImport(const ImportOptions& options) {
  int fd = STDIN_FILENO;
  if (!options.file.empty() && options.file != "-") {
    fd = ::open(options.file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      std::fprintf(stderr, "parendb import: cannot open %s: %s\n", options.file.c_str(), std::strerror(errno));
      return 1;
    }
  }
  struct stat st {};
  uint64_t total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? static_cast<uint64_t>(st.st_size) : 0;
  std::unique_ptr<Database> database;
  std::string error;
  std::vector<Importer::Lane> lanes;
  // A database opened here runs each batch at Send: more sessions would not overlap anything.
  int64_t connections = options.channel.connect.empty() ? 1 : options.connections;
  for (int64_t i = 0; i < connections; ++i) {
    auto channel = OpenChannel(options.channel, &database, &error);
    if (channel == nullptr) {
      std::fprintf(stderr, "parendb import: %s\n", error.c_str());
      return 1;
    }
    lanes.push_back(Importer::Lane{std::move(channel), {}});
  }
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sa.sa_flags = SA_RESTART;  // a blocked read of an answer goes on; the loop sees the flag
  sigaction(SIGINT, &sa, nullptr);
  Importer importer(options, std::move(lanes));
  int code = importer.Run(fd, total);
  if (fd != STDIN_FILENO) ::close(fd);
  return code;
}

}  // namespace parendb
