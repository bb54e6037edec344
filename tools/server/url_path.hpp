// Request paths: percent-decoding, percent-encoding for links, and the segments a path may
// map to under a served directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::tools {

/// The path of a request target: the part before any '?' or '#'.
std::string_view target_path(std::string_view target);

/// Decodes %XX escapes. Returns nullopt on a malformed escape or a decoded NUL byte.
std::optional<std::string> percent_decode(std::string_view text);

/// Escapes every byte but unreserved characters (RFC 3986) and '/', for use in a link.
std::string percent_encode_path(std::string_view path);

/// The segments of a decoded absolute path, without empty and "." segments. Returns nullopt
/// if the path does not start with '/' or has a ".." segment (it would leave the served
/// directory) — checked after decoding, so "%2e%2e" is refused as well.
std::optional<std::vector<std::string>> safe_segments(std::string_view decoded_path);

}  // namespace asioquic::tools
