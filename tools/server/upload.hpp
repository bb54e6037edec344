// The /upload and /discard endpoints: read a request body as it arrives and answer with its
// length (and, for /upload, its SHA-256).
#pragma once

#include <asio/awaitable.hpp>

#include <asioquic/h3/server.hpp>

#include "server/reply.hpp"

namespace asioquic::tools {

/// What serve_upload() computes over the body besides its length.
enum class BodyDigest { sha256, none };

/// Reads the whole body of `req` as it arrives (nothing is kept but the running digest) and
/// answers 200 with `{"length": N, "sha256": "HEX"}`, or `{"length": N}` for BodyDigest::none
/// (an upload sink that costs the server nothing but the transport, for speed tests). If the
/// body cannot be read (the client reset the stream, the connection closed) nothing is sent
/// and the error is kept in `reply`.
asio::awaitable<void> serve_upload(const h3::ServerRequest& req, Reply& reply, BodyDigest digest);

}  // namespace asioquic::tools
