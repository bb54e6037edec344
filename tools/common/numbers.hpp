// Parsing numbers given on the command line or in requests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

namespace asioquic::tools {

/// Parses a non-negative decimal integer (digits only, no sign or spaces); nullopt if `text` is
/// empty, has another character or overflows 64 bits.
std::optional<uint64_t> parse_count(std::string_view text);

/// Parses a non-negative number of seconds with an optional fraction ("2", "0.25"), rounded
/// to milliseconds; nullopt if malformed or above a year.
std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text);

}  // namespace asioquic::tools
