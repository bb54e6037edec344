#include "asioquic/endpoint.hpp"

#include <charconv>
#include <string>

#include "asioquic/error.hpp"

namespace asioquic {

asio::ip::udp::endpoint parse_endpoint(std::string_view text, std::error_code& ec,
                                       uint16_t default_port) {
  std::string_view host = text;
  std::string_view port;
  bool has_port = false;  // a ':' separates a port, which must then not be empty
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) {
      ec = make_error_code(errc::invalid_argument);
      return {};
    }
    host = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') {
        ec = make_error_code(errc::invalid_argument);
        return {};
      }
      port = text.substr(close + 2);
      has_port = true;
    }
  } else if (text.find(':') == text.rfind(':') && text.find(':') != std::string_view::npos) {
    // Exactly one colon: v4 or name with a port. More colons: a bare IPv6 address.
    host = text.substr(0, text.find(':'));
    port = text.substr(text.find(':') + 1);
    has_port = true;
  }
  uint16_t p = default_port;
  if (has_port) {
    const auto r = std::from_chars(port.data(), port.data() + port.size(), p);
    if (r.ec != std::errc() || r.ptr != port.data() + port.size()) {
      ec = make_error_code(errc::invalid_argument);
      return {};
    }
  }
  asio::error_code aec;
  const auto addr = asio::ip::make_address(std::string(host), aec);
  if (aec) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  return {addr, p};
}

}  // namespace asioquic
