// ProgressBar: curl-like download progress on a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>

namespace asioquic::tools {

/// One line, redrawn in place, for all downloads together: percentage and bar (when every
/// size is known), bytes, speed and time. Does nothing when disabled.
class ProgressBar {
 public:
  /// Draws on `out` (a terminal) if `enabled`; `columns` is the terminal's width.
  ProgressBar(std::ostream& out, bool enabled, int columns);

  /// A download of `bytes` began (content-length).
  void expect(uint64_t bytes);
  /// A download of unknown size began: no percentage from now on.
  void expect_unknown();
  /// `bytes` more arrived; redraws at most ten times a second.
  void received(uint64_t bytes);
  /// Ends the current line so that a message can be printed; the next update redraws.
  void interrupt();
  /// Draws the final state and ends the line (if anything was drawn).
  void finish();

 private:
  /// Redraws the line in place.
  void draw();

  std::ostream& out_;
  const bool enabled_;
  const int columns_;
  const std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_{};
  uint64_t total_ = 0;
  bool total_known_ = true;
  uint64_t done_ = 0;
  bool drawn_ = false;
};

}  // namespace asioquic::tools
