// Hex digits: percent-encoding, session tickets, secrets and digests in the tools.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::tools {

/// The value of a hex digit (either case), or -1 if `c` is none.
int hex_value(char c);

/// Decodes hex digits of either case, two per byte; nullopt for an odd length or a character
/// that is not a hex digit. An empty `text` decodes to no bytes.
std::optional<std::vector<uint8_t>> decode_hex(std::string_view text);

/// Lower-case hex, two digits per byte.
std::string encode_hex(std::span<const uint8_t> bytes);

}  // namespace asioquic::tools
