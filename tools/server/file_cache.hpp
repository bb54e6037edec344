// FileCache: the contents of small files under --root, kept in memory for a short while so
// that a popular file costs no open/stat/read/close per request (a 1 KiB GET spent five
// file-system calls before it; gtlsserver, too, serves from memory).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace asioquic::tools {

class FileCache {
 public:
  using Clock = std::chrono::steady_clock;

  /// Files up to `max_file` bytes are cached, `budget` bytes in all, each for `ttl` after it
  /// was read: a file changed on disk is served in its new form at most `ttl` later.
  explicit FileCache(size_t max_file = 64 * 1024, size_t budget = 64u << 20,
                     Clock::duration ttl = std::chrono::seconds(1))
      : max_file_(max_file), budget_(budget), ttl_(ttl) {}

  /// The contents of `path` if they were read less than `ttl` before `now`; null otherwise.
  std::shared_ptr<const std::string> find(const std::filesystem::path& path, Clock::time_point now);

  /// Remembers `contents` as read from `path` at `now` (ignored above `max_file`). When the
  /// budget is exceeded, expired entries go first, then everything else.
  void store(const std::filesystem::path& path, std::shared_ptr<const std::string> contents,
             Clock::time_point now);

  size_t max_file() const noexcept { return max_file_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> contents;
    Clock::time_point read_at;
  };

  const size_t max_file_;
  const size_t budget_;
  const Clock::duration ttl_;
  std::mutex mutex_;  // the server may run handlers on several threads
  std::unordered_map<std::string, Entry> entries_;
  size_t bytes_ = 0;
};

}  // namespace asioquic::tools
