// BytePattern: the generated body of /bytes/N, served from one shared buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <asioquic/buffer.hpp>

namespace asioquic::tools {

/// Byte i of every generated body is (i mod kPeriod) mod 251: cheap to reproduce when checking
/// a download, and its period (a prime) lines up with no chunk or packet size, so a misplaced
/// chunk shows.
class BytePattern {
 public:
  static constexpr uint64_t kPeriod = 65521;

  /// Builds the shared buffer (one period plus the largest chunk).
  BytePattern();

  /// At most `max` bytes (up to the largest body chunk) of the body from `offset`, referring to
  /// the shared buffer without copying. Never fails.
  Buffer chunk(uint64_t offset, size_t max) const;

 private:
  std::shared_ptr<const std::vector<uint8_t>> bytes_;
};

}  // namespace asioquic::tools
