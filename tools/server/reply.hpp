// Reply: the response to one request, as the handlers send it. It wraps h3::ServerResponse and
// keeps what the request log reports: the status, the body bytes sent and the first error.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

#include <asio/awaitable.hpp>

#include <asioquic/buffer.hpp>
#include <asioquic/h3/server.hpp>

namespace asioquic::tools {

class Reply {
 public:
  explicit Reply(h3::ServerResponse res) : res_(std::move(res)) {}

  /// Sends the header section with `status`, `fields` and a `server` field. Returns the
  /// error if it could not be sent (the stream was reset or the connection closed).
  asio::awaitable<std::error_code> send_headers(int status, h3::Fields fields);
  /// Sends one body chunk and completes once the stream has room for more (the library's
  /// back-pressure). Returns the error if the peer stopped the stream or the connection closed.
  asio::awaitable<std::error_code> write(Buffer chunk);
  /// Ends the body. Returns the error if the end could not be sent.
  asio::awaitable<std::error_code> finish();
  /// A complete response with a small in-memory body: headers (with content-length), the
  /// body unless `head_only`, and the end. Returns the first error.
  asio::awaitable<std::error_code> respond(int status, h3::Fields fields, std::string body,
                                           bool head_only = false);
  /// Headers (as given, plus `server`), `body` and the end in one operation, so that they
  /// leave in as few packets as possible. Returns the first error.
  asio::awaitable<std::error_code> complete(int status, h3::Fields fields, Buffer body);
  /// complete() for a caller that is not a coroutine (h3::FastPath): starts the same operation
  /// and, once it completes, calls `done(reply)` with the reply (moved along with the
  /// operation) holding its status, body bytes and error.
  template <typename Done>
  static void complete_then(Reply reply, int status, h3::Fields fields, Buffer body, Done done);
  /// complete_then for a caller that wants no report of the outcome (the request log is off):
  /// starts the same operation, and nothing runs when it completes.
  static void complete_detached(Reply reply, int status, h3::Fields fields, Buffer body);

  /// Abandons the response (RESET_STREAM with H3_INTERNAL_ERROR) after `why` made the rest of
  /// the body unavailable; `why` is kept as the error.
  void abort(std::error_code why);

  int status() const noexcept { return status_; }
  uint64_t body_bytes() const noexcept { return body_bytes_; }
  std::error_code error() const noexcept { return error_; }

 private:
  /// Keeps `ec` if it is the first error; returns it.
  std::error_code note(std::error_code ec);
  /// Records `status` as sent and adds the `server` field every response carries to `fields`.
  void begin(int status, h3::Fields& fields);
  /// After sending `n` body bytes: counts them unless `ec`, and notes `ec`; returns it.
  std::error_code sent(size_t n, std::error_code ec);

  h3::ServerResponse res_;
  int status_ = 0;
  uint64_t body_bytes_ = 0;
  std::error_code error_;
};

template <typename Done>
void Reply::complete_then(Reply reply, int status, h3::Fields fields, Buffer body, Done done) {
  reply.begin(status, fields);
  const size_t n = body.size();
  const h3::ServerResponse res = reply.res_;
  res.async_respond(
      status, std::move(fields), std::move(body),
      [reply = std::move(reply), n, done = std::move(done)](std::error_code ec) mutable {
        reply.sent(n, ec);
        done(reply);
      });
}

}  // namespace asioquic::tools
