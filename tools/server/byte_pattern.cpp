#include "server/byte_pattern.hpp"

#include <algorithm>

#include "server/ranged_body.hpp"

namespace asioquic::tools {

BytePattern::BytePattern() {
  // One period plus a chunk, so a chunk starting anywhere in the period is contiguous.
  std::vector<uint8_t> v(kPeriod + kBodyChunk);
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<uint8_t>((i % kPeriod) % 251);
  bytes_ = std::make_shared<const std::vector<uint8_t>>(std::move(v));
}

Buffer BytePattern::chunk(uint64_t offset, size_t max) const {
  const auto phase = static_cast<size_t>(offset % kPeriod);
  const size_t n = std::min(max, kBodyChunk);
  return Buffer::shared(bytes_, {bytes_->data() + phase, n});
}

}  // namespace asioquic::tools
