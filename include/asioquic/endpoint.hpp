// Parsing "ADDR:PORT" as used by the tools and examples.
#pragma once

#include <string_view>
#include <system_error>

#include <asio/ip/udp.hpp>

namespace asioquic {

/// Parses "1.2.3.4:443", "[::1]:443" or "::1" with `default_port`. Errors: errc::invalid_argument.
asio::ip::udp::endpoint parse_endpoint(std::string_view text, std::error_code& ec,
                                       uint16_t default_port = 0);

}  // namespace asioquic
