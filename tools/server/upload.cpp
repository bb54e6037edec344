#include "server/upload.hpp"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <optional>

#include "server/sha256.hpp"

namespace asioquic::tools {

using asio::experimental::as_tuple;

// The most one read takes: the bytes are handed over as received, so this bounds nothing we
// allocate, only how often the loop runs.
constexpr size_t kReadMax = 256 * 1024;

asio::awaitable<void> serve_upload(const h3::ServerRequest& req, Reply& reply, BodyDigest digest) {
  std::optional<Sha256> sha;
  if (digest == BodyDigest::sha256) sha.emplace();
  uint64_t length = 0;
  while (req.has_body()) {
    auto [ec, b] = co_await req.async_read_buffer(kReadMax, as_tuple(asio::use_awaitable));
    if (sha) sha->update(b.bytes());
    length += b.size();
    if (ec == asio::error::eof) break;
    if (ec) {
      reply.abort(ec);
      co_return;
    }
  }
  std::string body = "{\"length\": " + std::to_string(length);
  if (sha) body += ", \"sha256\": \"" + sha->hex_digest() + "\"";
  body += "}\n";
  h3::Fields fields{{"content-type", "application/json"}};
  co_await reply.respond(200, std::move(fields), std::move(body));
}

}  // namespace asioquic::tools
