// Progress of long command-line work (import, export, backup) on stderr: a
// line redrawn in place, at most ten times a second, when stderr is a
// terminal; nothing until the summary line otherwise (logs stay clean).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace parendb {

class Progress {
 public:
  // `what`: "importing people"; `unit`: "documents".
  Progress(std::string what, std::string unit);
  // Reports `done` units so far; `fraction` in [0, 1] when the total is
  // known (for the percentage and ETA), negative when not.
  void Update(uint64_t done, double fraction);
  // Ends the in-place line and prints the summary: "imported 1000000
  // documents into people in 4.21 s (237,530 documents/s)".
  void Finish(const std::string& summary, uint64_t done);
  double Seconds() const;

 private:
  std::string what_;
  std::string unit_;
  bool terminal_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// 1234567 -> "1,234,567".
std::string WithCommas(uint64_t n);

}  // namespace parendb
