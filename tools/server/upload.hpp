// The /upload endpoint: reads a request body and answers with its length and SHA-256.
#pragma once

#include <asio/awaitable.hpp>

#include <asioquic/h3/server.hpp>

#include "server/reply.hpp"

namespace asioquic::tools {

/// Reads the whole body of `req` as it arrives (nothing is kept but the running digest) and
/// answers 200 with `{"length": N, "sha256": "HEX"}`. If the body cannot be read (the client
/// reset the stream, the connection closed) nothing is sent and the error is kept in `reply`.
asio::awaitable<void> serve_upload(const h3::ServerRequest& req, Reply& reply);

}  // namespace asioquic::tools
