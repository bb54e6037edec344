// The Range request header (RFC 9110 §14.2), single byte ranges only.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace asioquic::tools {

/// What a Range header asks of a representation of `size` bytes.
struct RangeRequest {
  enum class Kind {
    whole,          // no usable Range header: send everything (200)
    partial,        // send [offset, offset + length) (206)
    unsatisfiable,  // the range lies beyond the end (416)
  };
  Kind kind = Kind::whole;
  uint64_t offset = 0;
  uint64_t length = 0;
};

/// Interprets a Range header value for a representation of `size` bytes. A missing or
/// malformed header, another unit, or several ranges give Kind::whole (RFC 9110 lets a server
/// ignore Range); `bytes=a-b`, `bytes=a-` and `bytes=-n` give Kind::partial, clipped to the
/// size, or Kind::unsatisfiable when they select nothing.
RangeRequest parse_range(std::optional<std::string_view> header, uint64_t size);

}  // namespace asioquic::tools
