#include "client/url.hpp"

#include <algorithm>
#include <cctype>

#include <asio/ip/address.hpp>

#include "common/numbers.hpp"

namespace asioquic::tools {

std::optional<Url> parse_url(std::string_view text, UrlError& error, std::string& message) {
  auto fail = [&](UrlError e, std::string m) {
    error = e;
    message = std::move(m);
    return std::nullopt;
  };
  error = UrlError::none;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
      return fail(UrlError::malformed, "the URL contains a space or control character");
  }
  if (const auto colon = text.find("://"); colon != std::string_view::npos) {
    std::string scheme(text.substr(0, colon));
    std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (scheme != "https") {
      return fail(UrlError::unsupported_scheme,
                  "scheme '" + scheme + "' is not supported (HTTP/3 needs https://)");
    }
    text.remove_prefix(colon + 3);
  }
  text = text.substr(0, text.find('#'));
  const auto path_start = text.find_first_of("/?");
  const std::string_view authority = text.substr(0, path_start);
  Url url;
  url.path = path_start == std::string_view::npos ? "/" : std::string(text.substr(path_start));
  if (url.path.front() == '?') url.path = std::string("/") + url.path;
  if (authority.find('@') != std::string_view::npos)
    return fail(UrlError::malformed, "user names in URLs are not supported");

  std::string_view port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail(UrlError::malformed, "unclosed '[' in host");
    url.host = std::string(authority.substr(1, close - 1));
    asio::error_code ec;
    (void)asio::ip::make_address_v6(url.host, ec);
    if (ec) return fail(UrlError::malformed, "'" + url.host + "' is not an IPv6 address");
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':'))
      return fail(UrlError::malformed, "unexpected text after ']'");
    if (!rest.empty()) port_text = rest.substr(1);
  } else {
    const auto colon = authority.find(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail(UrlError::malformed, "no host name");
  if (!port_text.empty()) {
    const auto port = parse_count(port_text);
    if (!port || *port == 0 || *port > 65535)
      return fail(UrlError::malformed, "port '" + std::string(port_text) + "' is not 1-65535");
    url.port = static_cast<uint16_t>(*port);
  }
  url.authority = authority.starts_with('[') ? "[" + url.host + "]" : url.host;
  if (url.port != 443) url.authority.append(":").append(std::to_string(url.port));
  return url;
}

std::string remote_file_name(const Url& url) {
  const std::string_view path = std::string_view(url.path).substr(0, url.path.find('?'));
  return std::string(path.substr(path.rfind('/') + 1));
}

}  // namespace asioquic::tools
