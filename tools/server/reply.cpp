#include "server/reply.hpp"

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include "common/version.hpp"

namespace asioquic::tools {

using asio::experimental::as_tuple;

void Reply::begin(int status, h3::Fields& fields) {
  static const h3::Field server{"server", "asioquic-server/" + std::string(kVersion)};
  status_ = status;
  fields.push_back(server);
}

std::error_code Reply::sent(size_t n, std::error_code ec) {
  if (!ec) body_bytes_ += n;
  return note(ec);
}

std::error_code Reply::note(std::error_code ec) {
  if (ec && !error_) error_ = ec;
  return ec;
}

asio::awaitable<std::error_code> Reply::send_headers(int status, h3::Fields fields) {
  begin(status, fields);
  auto [ec] =
      co_await res_.async_send_headers(status, std::move(fields), as_tuple(asio::use_awaitable));
  co_return note(ec);
}

asio::awaitable<std::error_code> Reply::write(Buffer chunk) {
  const size_t n = chunk.size();
  auto [ec] = co_await res_.async_write(std::move(chunk), as_tuple(asio::use_awaitable));
  co_return sent(n, ec);
}

asio::awaitable<std::error_code> Reply::finish() {
  h3::Fields no_trailers;
  auto [ec] = co_await res_.async_finish(std::move(no_trailers), as_tuple(asio::use_awaitable));
  co_return note(ec);
}

void Reply::abort(std::error_code why) {
  note(why);
  res_.reset(h3::kInternalError);
}

asio::awaitable<std::error_code> Reply::respond(int status, h3::Fields fields, std::string body,
                                                bool head_only) {
  fields.push_back({"content-length", std::to_string(body.size())});
  // A named variable: g++ 12 destroys a conditional's temporary twice in a co_await argument.
  Buffer payload;
  if (!head_only) payload = Buffer::take(std::move(body));
  co_return co_await complete(status, std::move(fields), std::move(payload));
}

void Reply::complete_detached(Reply reply, int status, h3::Fields fields, Buffer body) {
  reply.begin(status, fields);
  reply.res_.async_respond(status, std::move(fields), std::move(body), asio::detached);
}

asio::awaitable<std::error_code> Reply::complete(int status, h3::Fields fields, Buffer body) {
  begin(status, fields);
  const size_t n = body.size();
  auto [ec] = co_await res_.async_respond(status, std::move(fields), std::move(body),
                                          as_tuple(asio::use_awaitable));
  co_return sent(n, ec);
}

}  // namespace asioquic::tools
