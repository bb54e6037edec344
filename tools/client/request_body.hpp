// RequestBody: the body given with -d, sent in chunks so a large file is never read whole.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <asioquic/buffer.hpp>

#include "common/file_reader.hpp"

namespace asioquic::tools {

class RequestBody {
 public:
  /// A body given on the command line.
  explicit RequestBody(std::string text)
      : text_(std::make_shared<const std::string>(std::move(text))) {}
  /// Opens the file given as -d @FILE. On failure returns nullopt and sets `ec`.
  static std::optional<RequestBody> open_file(const std::string& path, std::error_code& ec);

  uint64_t size() const noexcept { return file_ ? file_->size() : text_->size(); }
  /// "-d @FILE"'s file name, or "" for a text body.
  const std::string& file_name() const noexcept { return path_; }

  /// At most `max` bytes from `offset` (a text body is shared, not copied). On a read error
  /// returns an empty Buffer and sets `ec`.
  Buffer chunk(uint64_t offset, size_t max, std::error_code& ec) const;

 private:
  RequestBody() = default;
  std::shared_ptr<const std::string> text_;
  std::shared_ptr<FileReader> file_;
  std::string path_;
};

}  // namespace asioquic::tools
