#include "server/ranged_body.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <string>

#include "server/range.hpp"

namespace asioquic::tools {
namespace {

// `n` bytes of `body` from `offset`, sharing it.
Buffer slice(const std::shared_ptr<const std::string>& body, uint64_t offset, size_t n) {
  return Buffer::shared(body, {reinterpret_cast<const uint8_t*>(body->data()) + offset, n});
}

// The response a GET or HEAD for `size` bytes gets: status, header section and the part of the
// representation that goes in the body.
struct RangedPlan {
  int status = 200;
  h3::Fields fields;
  uint64_t offset = 0;
  uint64_t length = 0;  // content-length; no body is sent for HEAD
  bool head = false;
};

RangedPlan plan_ranged(const h3::ServerRequest& req, std::string_view content_type, uint64_t size) {
  RangedPlan p;
  p.head = req.method() == "HEAD";
  const RangeRequest range = parse_range(h3::find(req.headers(), "range"), size);
  // Room for every field, Reply's `server` included: the vector is allocated once.
  p.fields.reserve(5);
  h3::add(p.fields, "content-type", content_type);
  h3::add(p.fields, "accept-ranges", "bytes");
  p.length = size;
  if (range.kind == RangeRequest::Kind::unsatisfiable) {
    p.status = 416;
    p.length = 0;  // nothing of the representation is sent
    p.fields.push_back({"content-range", "bytes */" + std::to_string(size)});
  } else if (range.kind == RangeRequest::Kind::partial) {
    p.status = 206;
    p.offset = range.offset;
    p.length = range.length;
    p.fields.push_back({"content-range", "bytes " + std::to_string(p.offset) + "-" +
                                             std::to_string(p.offset + p.length - 1) + "/" +
                                             std::to_string(size)});
  }
  std::array<char, 24> digits;
  const auto end = std::to_chars(digits.data(), digits.data() + digits.size(), p.length).ptr;
  h3::add(p.fields, "content-length", std::string_view(digits.data(), end - digits.data()));
  return p;
}

// Whether the plan's body (if any) goes out in the same operation as the headers.
bool in_one_piece(const RangedPlan& p) {
  return p.head || p.length <= kBodyChunk;
}

// The body of a one-piece plan over `body`: the slice it names, empty for HEAD or no bytes.
Buffer one_piece_body(const RangedPlan& p, const std::shared_ptr<const std::string>& body) {
  if (p.head || p.length == 0) return {};
  return slice(body, p.offset, static_cast<size_t>(p.length));
}

}  // namespace

ChunkSource memory_source(std::shared_ptr<const std::string> body) {
  return [body = std::move(body)](uint64_t offset, size_t max, std::error_code&) {
    return slice(body, offset, static_cast<size_t>(std::min<uint64_t>(max, body->size() - offset)));
  };
}

asio::awaitable<void> send_body(Reply& reply, const ChunkSource& source, uint64_t offset,
                                uint64_t length) {
  const uint64_t end = offset + length;
  while (offset < end) {
    std::error_code ec;
    const auto want = static_cast<size_t>(std::min<uint64_t>(kBodyChunk, end - offset));
    Buffer chunk = source(offset, want, ec);
    if (ec || chunk.empty() || chunk.size() > want) {
      reply.abort(ec ? ec : std::make_error_code(std::errc::io_error));
      co_return;
    }
    offset += chunk.size();
    if (co_await reply.write(std::move(chunk))) co_return;
  }
  co_await reply.finish();
}

asio::awaitable<void> send_ranged(Reply& reply, const h3::ServerRequest& req,
                                  std::string_view content_type, uint64_t size,
                                  const ChunkSource& source) {
  RangedPlan p = plan_ranged(req, content_type, size);
  if (in_one_piece(p)) {
    Buffer body;
    if (!p.head && p.length > 0) {
      std::error_code ec;
      body = source(p.offset, static_cast<size_t>(p.length), ec);
      if (ec || body.size() != p.length) {  // unreadable, or shorter than its size said
        reply.abort(ec ? ec : std::make_error_code(std::errc::io_error));
        co_return;
      }
    }
    co_await reply.complete(p.status, std::move(p.fields), std::move(body));
    co_return;
  }
  if (co_await reply.send_headers(p.status, std::move(p.fields))) co_return;
  co_await send_body(reply, source, p.offset, p.length);
}

std::optional<WholeResponse> whole_response(const h3::ServerRequest& req,
                                            std::string_view content_type,
                                            const std::shared_ptr<const std::string>& body) {
  RangedPlan p = plan_ranged(req, content_type, body->size());
  if (!in_one_piece(p)) return std::nullopt;
  Buffer part = one_piece_body(p, body);
  return WholeResponse{p.status, std::move(p.fields), std::move(part)};
}

asio::awaitable<void> send_ranged(Reply& reply, const h3::ServerRequest& req,
                                  std::string_view content_type,
                                  std::shared_ptr<const std::string> body) {
  RangedPlan p = plan_ranged(req, content_type, body->size());
  if (in_one_piece(p)) {
    Buffer part = one_piece_body(p, body);
    co_await reply.complete(p.status, std::move(p.fields), std::move(part));
    co_return;
  }
  if (co_await reply.send_headers(p.status, std::move(p.fields))) co_return;
  const ChunkSource source = memory_source(std::move(body));
  co_await send_body(reply, source, p.offset, p.length);
}

}  // namespace asioquic::tools
