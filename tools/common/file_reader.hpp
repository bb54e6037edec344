// FileReader: a regular file open for reading at any offset, for streaming it in chunks.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <system_error>

#include <asioquic/buffer.hpp>

namespace asioquic::tools {

class FileReader {
 public:
  /// Opens `path` for reading. On failure (missing, unreadable, not a regular file) returns
  /// null and sets `ec` (std::errc::is_a_directory or ...::invalid_argument for a directory or
  /// a special file).
  static std::shared_ptr<FileReader> open(const std::filesystem::path& path, std::error_code& ec);

  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;
  ~FileReader();

  /// The size when the file was opened.
  uint64_t size() const noexcept { return size_; }

  /// Reads up to `max` bytes at `offset` into a new Buffer (fewer at the end of the file).
  /// On a read error, or no bytes where the file was longer when opened (it shrank), returns
  /// an empty Buffer and sets `ec`.
  Buffer read(uint64_t offset, size_t max, std::error_code& ec) const;

 private:
  FileReader(int fd, uint64_t size) : fd_(fd), size_(size) {}
  int fd_;
  uint64_t size_;
};

}  // namespace asioquic::tools
