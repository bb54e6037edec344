// FileCache: the contents of small files under --root, kept in memory for a short while so
// that a popular file costs no open/stat/read/close per request (a 1 KiB GET spent five
// file-system calls before it; gtlsserver, too, serves from memory).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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

  struct Hit {
    std::shared_ptr<const std::string> contents;  // null: not cached, or expired
    std::string_view type;                        // the content type stored with it
  };

  /// What was stored under `key` if it was read less than `ttl` before `now`. The key is the
  /// caller's name for the contents (asioquic-server uses the request's path as received, so
  /// a hit skips decoding and checking it: only a path that passed once is ever stored).
  Hit find(std::string_view key, Clock::time_point now);

  /// Remembers `contents` (of content type `type`, which must outlive the cache: a static
  /// string) as read at `now` under `key`; ignored above `max_file`. When the budget is
  /// exceeded, expired entries go first, then everything else.
  void store(std::string_view key, std::shared_ptr<const std::string> contents,
             std::string_view type, Clock::time_point now);

  size_t max_file() const noexcept { return max_file_; }

 private:
  struct Entry {
    std::shared_ptr<const std::string> contents;
    std::string_view type;
    Clock::time_point read_at;
  };
  // Lookups by string_view without building a std::string.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view k) const noexcept {
      return std::hash<std::string_view>{}(k);
    }
  };

  const size_t max_file_;
  const size_t budget_;
  const Clock::duration ttl_;
  std::mutex mutex_;  // the server may run handlers on several threads
  std::unordered_map<std::string, Entry, KeyHash, std::equal_to<>> entries_;
  size_t bytes_ = 0;
};

}  // namespace asioquic::tools
