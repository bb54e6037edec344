// --secret-file: the listener's static secret (ServerSettings::static_secret) kept in a file, so
// that session tickets, Retry tokens and stateless resets outlive a restart.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace asioquic::tools {

/// Reads a 32-byte secret written as 64 hex digits (`openssl rand -hex 32 > FILE`); surrounding
/// white space is allowed. Returns nullopt with `error` set when the file cannot be read or
/// holds anything else.
std::optional<std::array<uint8_t, 32>> read_secret_file(const std::string& path,
                                                        std::string& error);

}  // namespace asioquic::tools
