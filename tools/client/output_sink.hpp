// OutputSink: where one response goes — stdout or a file created when the response arrives.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <system_error>

namespace asioquic::tools {

class OutputSink {
 public:
  /// Standard output.
  OutputSink() = default;
  /// A file, created (or truncated) by open().
  explicit OutputSink(std::string path) : path_(std::move(path)) {}
  OutputSink(OutputSink&& o) noexcept;
  OutputSink& operator=(OutputSink&&) = delete;
  OutputSink(const OutputSink&) = delete;
  ~OutputSink();

  bool is_stdout() const noexcept { return path_.empty(); }
  /// The file name, or "stdout".
  std::string name() const { return is_stdout() ? "stdout" : path_; }

  /// Opens the file for writing (nothing for stdout). Returns the system error on failure.
  std::error_code open();
  /// Writes all of `bytes`, retrying short writes. Returns the system error (ENOSPC, EPIPE, ...)
  /// on failure.
  std::error_code write(std::span<const uint8_t> bytes);
  /// Closes the file, reporting a deferred write error. Returns the system error on failure.
  std::error_code close();

 private:
  std::string path_;
  int fd_ = -1;  // -1: not open (a file) or stdout
};

}  // namespace asioquic::tools
