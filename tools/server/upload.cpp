#include "server/upload.hpp"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <optional>
#include <vector>

#include "server/sha256.hpp"

namespace asioquic::tools {

using asio::experimental::as_tuple;

asio::awaitable<void> serve_upload(const h3::ServerRequest& req, Reply& reply, BodyDigest digest) {
  std::optional<Sha256> sha;
  if (digest == BodyDigest::sha256) sha.emplace();
  uint64_t length = 0;
  std::vector<uint8_t> buf(64 * 1024);
  while (req.has_body()) {
    auto [ec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(asio::use_awaitable));
    if (sha) sha->update({buf.data(), n});
    length += n;
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
