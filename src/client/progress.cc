#include "client/progress.h"

#include <unistd.h>

#include <cstdio>

namespace parendb {

std::string WithCommas(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Progress::Progress(std::string what, std::string unit)
    : what_(std::move(what)), unit_(std::move(unit)), terminal_(isatty(STDERR_FILENO) != 0) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
}

double Progress::Seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Update(uint64_t done, double fraction) {
  if (!terminal_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  drawn_ = true;
  double seconds = Seconds();
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::string line = what_ + ": " + WithCommas(done) + " " + unit_ + "  " + WithCommas(static_cast<uint64_t>(rate)) + "/s";
  if (fraction >= 0) {
    int width = 24, filled = static_cast<int>(fraction * width);
    line += "  [" + std::string(static_cast<size_t>(filled), '=') + std::string(static_cast<size_t>(width - filled), ' ') + "] ";
    line += std::to_string(static_cast<int>(fraction * 100)) + "%";
    if (fraction > 0.001) {
      auto left = static_cast<int64_t>(seconds / fraction - seconds);
      char eta[32];
      std::snprintf(eta, sizeof eta, "  ETA %lld:%02lld", static_cast<long long>(left / 60), static_cast<long long>(left % 60));
      line += eta;
    }
  }
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
}

void Progress::Finish(const std::string& summary, uint64_t done) {
  if (drawn_) std::fprintf(stderr, "\r\033[K");
  double seconds = Seconds();
  double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  std::fprintf(stderr, "%s (%.2f s, %s %s/s)\n", summary.c_str(), seconds, WithCommas(static_cast<uint64_t>(rate)).c_str(),
               unit_.c_str());
}

}  // namespace parendb
