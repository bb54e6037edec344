// Sending a body of known size with GET/HEAD and Range semantics, chunk by chunk from a
// source, so only a bounded part of it is ever in memory.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/awaitable.hpp>

#include <asioquic/buffer.hpp>
#include <asioquic/h3/server.hpp>

#include "server/reply.hpp"

namespace asioquic::tools {

/// Produces body bytes starting at `offset`: at least one and at most `max`. On failure returns
/// an empty Buffer and sets `ec`.
using ChunkSource = std::function<Buffer(uint64_t offset, size_t max, std::error_code& ec)>;

/// A source over a body held in memory; its chunks share `body` instead of copying it.
ChunkSource memory_source(std::shared_ptr<const std::string> body);

/// Largest chunk asked of a source: big enough to keep the stream's send buffer full with few
/// writes, small enough that a connection holds little beyond the library's own buffer.
inline constexpr size_t kBodyChunk = 256 * 1024;

/// Sends `length` bytes of `source` from `offset` as the body, then the end of the stream.
/// Each write waits for room in the stream (back-pressure). If the source fails the stream is
/// reset, since the promised length can no longer be met. Errors are kept in `reply`.
asio::awaitable<void> send_body(Reply& reply, const ChunkSource& source, uint64_t offset,
                                uint64_t length);

/// Answers a GET or HEAD for a representation of `size` bytes read from `source`: 200 with all
/// of it, 206 with the single range the request's Range header selects, or 416 for a range
/// beyond the end; HEAD gets the same header section and no body. Errors are kept in `reply`.
/// `content_type` must outlive the returned awaitable.
asio::awaitable<void> send_ranged(Reply& reply, const h3::ServerRequest& req,
                                  std::string_view content_type, uint64_t size,
                                  const ChunkSource& source);

/// send_ranged for a body held in memory: a body or range of up to kBodyChunk goes out as a
/// slice that shares `body`, with no source, copy or extra coroutine.
asio::awaitable<void> send_ranged(Reply& reply, const h3::ServerRequest& req,
                                  std::string_view content_type,
                                  std::shared_ptr<const std::string> body);

/// What send_ranged answers for a body held in memory, when it goes out in one operation
/// (HEAD, or a body or range of up to kBodyChunk): status, header section (without `server`)
/// and the body, a slice sharing `body`.
struct WholeResponse {
  int status = 200;
  h3::Fields fields;
  Buffer body;
};

/// The WholeResponse for a GET or HEAD of `body`, or nothing if the response takes more than
/// one operation.
std::optional<WholeResponse> whole_response(const h3::ServerRequest& req,
                                            std::string_view content_type,
                                            const std::shared_ptr<const std::string>& body);

}  // namespace asioquic::tools
