#include "client/request_body.hpp"

#include <algorithm>

namespace asioquic::tools {

std::optional<RequestBody> RequestBody::open_file(const std::string& path, std::error_code& ec) {
  auto file = FileReader::open(path, ec);
  if (!file) return std::nullopt;
  RequestBody b;
  b.file_ = std::move(file);
  b.path_ = path;
  return b;
}

Buffer RequestBody::chunk(uint64_t offset, size_t max, std::error_code& ec) const {
  if (file_) return file_->read(offset, max, ec);
  const auto n = static_cast<size_t>(std::min<uint64_t>(max, text_->size() - offset));
  return Buffer::shared(text_, {reinterpret_cast<const uint8_t*>(text_->data()) + offset, n});
}

}  // namespace asioquic::tools
