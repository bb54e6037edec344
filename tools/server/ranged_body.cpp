#include "server/ranged_body.hpp"

#include <algorithm>
#include <string>

#include "server/range.hpp"

namespace asioquic::tools {

ChunkSource memory_source(std::shared_ptr<const std::string> body) {
  return [body = std::move(body)](uint64_t offset, size_t max, std::error_code&) {
    const auto n = static_cast<size_t>(std::min<uint64_t>(max, body->size() - offset));
    return Buffer::shared(body, {reinterpret_cast<const uint8_t*>(body->data()) + offset, n});
  };
}

asio::awaitable<std::error_code> send_body(Reply& reply, const ChunkSource& source, uint64_t offset,
                                           uint64_t length) {
  const uint64_t end = offset + length;
  while (offset < end) {
    std::error_code ec;
    const auto want = static_cast<size_t>(std::min<uint64_t>(kBodyChunk, end - offset));
    Buffer chunk = source(offset, want, ec);
    if (ec || chunk.empty() || chunk.size() > want) {
      reply.abort(ec ? ec : std::make_error_code(std::errc::io_error));
      co_return reply.error();
    }
    offset += chunk.size();
    if (auto wec = co_await reply.write(std::move(chunk))) co_return wec;
  }
  co_return co_await reply.finish();
}

asio::awaitable<std::error_code> send_ranged(Reply& reply, const h3::ServerRequest& req,
                                             std::string_view content_type, uint64_t size,
                                             const ChunkSource& source) {
  const bool head = req.method() == "HEAD";
  const RangeRequest range = parse_range(h3::find(req.headers(), "range"), size);
  h3::Fields fields{{"content-type", std::string(content_type)}, {"accept-ranges", "bytes"}};
  if (range.kind == RangeRequest::Kind::unsatisfiable) {
    fields.push_back({"content-range", "bytes */" + std::to_string(size)});
    co_return co_await reply.respond(416, std::move(fields), std::string(), head);
  }
  uint64_t offset = 0;
  uint64_t length = size;
  int status = 200;
  if (range.kind == RangeRequest::Kind::partial) {
    offset = range.offset;
    length = range.length;
    status = 206;
    fields.push_back({"content-range", "bytes " + std::to_string(offset) + "-" +
                                           std::to_string(offset + length - 1) + "/" +
                                           std::to_string(size)});
  }
  fields.push_back({"content-length", std::to_string(length)});
  if (head || length <= kBodyChunk) {
    // One chunk or none: headers, body and end go out together.
    Buffer body;
    if (!head && length > 0) {
      std::error_code ec;
      body = source(offset, static_cast<size_t>(length), ec);
      if (ec || body.size() != length) {  // unreadable, or shorter than its size said
        reply.abort(ec ? ec : std::make_error_code(std::errc::io_error));
        co_return reply.error();
      }
    }
    co_return co_await reply.complete(status, std::move(fields), std::move(body));
  }
  if (auto ec = co_await reply.send_headers(status, std::move(fields))) co_return ec;
  co_return co_await send_body(reply, source, offset, length);
}

}  // namespace asioquic::tools
