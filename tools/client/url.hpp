// The URLs the client fetches: https://host[:port]/path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asioquic::tools {

struct Url {
  std::string host;  // name or IP literal, without brackets
  uint16_t port = 443;
  std::string authority;  // for :authority — host (IPv6 in brackets) and a non-default port
  std::string path;       // path and query, "/" at least; no fragment
};

/// Why a URL was refused.
enum class UrlError { none, unsupported_scheme, malformed };

/// Parses "https://host[:port][/path][?query][#fragment]"; without a scheme https is assumed.
/// On failure returns nullopt, sets `error` to the kind and `message` to the reason.
std::optional<Url> parse_url(std::string_view text, UrlError& error, std::string& message);

/// The file name -O uses: the last segment of the path, without the query. Empty if the path
/// ends with '/'.
std::string remote_file_name(const Url& url);

}  // namespace asioquic::tools
