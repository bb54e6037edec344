#include "client/progress_bar.hpp"

#include <algorithm>
#include <cstdio>
#include <string>

namespace asioquic::tools {
namespace {

// "12.3 MiB" and the like.
std::string human(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (bytes >= 1024 && u < 4) {
    bytes /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[u]);
  return buf;
}

// "h:mm:ss".
std::string clock_time(double seconds) {
  const auto s = static_cast<long>(seconds);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  return buf;
}

}  // namespace

ProgressBar::ProgressBar(std::ostream& out, bool enabled, int columns)
    : out_(out), enabled_(enabled), columns_(std::max(columns, 40)) {}

void ProgressBar::expect(uint64_t bytes) {
  total_ += bytes;
}

void ProgressBar::expect_unknown() {
  total_known_ = false;
}

void ProgressBar::received(uint64_t bytes) {
  done_ += bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::interrupt() {
  if (!enabled_ || !drawn_) return;
  out_ << "\n";
  drawn_ = false;
}

void ProgressBar::finish() {
  if (!enabled_ || (!drawn_ && done_ == 0)) return;
  draw();
  out_ << "\n" << std::flush;
}

void ProgressBar::draw() {
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double speed = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  // Fixed-width fields keep the bar from changing length while it is redrawn.
  const bool percent = total_known_ && total_ > 0;
  char tail[128];
  std::snprintf(tail, sizeof tail, "  %10s%s%10s  %10s/s  %s",
                human(static_cast<double>(done_)).c_str(), percent ? " / " : "   ",
                percent ? human(static_cast<double>(total_)).c_str() : "", human(speed).c_str(),
                clock_time(elapsed).c_str());
  std::string eta(12, ' ');
  if (percent && speed > 0 && done_ < total_)
    eta = " ETA " + clock_time(static_cast<double>(total_ - done_) / speed);
  const std::string right = std::string(tail) + eta;

  std::string line;
  if (percent) {
    const double frac = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    char pct[16];
    std::snprintf(pct, sizeof pct, "%5.1f%% ", frac * 100);
    const int width = std::max(10, columns_ - 1 - 7 - 2 - static_cast<int>(right.size()));
    const int fill = static_cast<int>(frac * width);
    line = std::string(pct) + "[" + std::string(fill, '#') + std::string(width - fill, '-') + "]";
  }
  line += right;
  if (static_cast<int>(line.size()) < columns_ - 1) line.resize(columns_ - 1, ' ');
  out_ << "\r" << line << std::flush;
  drawn_ = true;
}

}  // namespace asioquic::tools
