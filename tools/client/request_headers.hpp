// The header section of the client's requests.
#pragma once

#include <cstdint>
#include <optional>

#include <asioquic/h3/fields.hpp>

#include "client/options.hpp"
#include "client/url.hpp"

namespace asioquic::tools {

/// The method: -X if given, else HEAD with -I, POST with a body, GET otherwise.
std::string request_method(const ClientOptions& options);

/// The request's fields: pseudo-headers from `url` and the method, then user-agent, accept
/// and — with a body of `body_size` bytes — content-type and content-length, each replaced or
/// removed by a -H of the same name; other -H fields are appended, and -H 'host: h' sets
/// :authority. Never fails.
h3::Fields request_headers(const ClientOptions& options, const Url& url,
                           std::optional<uint64_t> body_size);

}  // namespace asioquic::tools
