// HTTP/3 client: async_connect() gives a ClientH3Controller; each request runs on its own
// stream, many at once on one connection. Requests wait (they do not fail) while the server's
// stream limit is reached.
//
//   auto [ec, client] = co_await h3::async_connect(ex, "127.0.0.1", 4433, quic, {}, as_tuple(...));
//   auto [ec2, res] = co_await client.async_request(h3::request_fields("GET", "127.0.0.1:4433",
//   "/"),
//                                                   std::nullopt, as_tuple(use_awaitable));
//   auto [ec3, body] = co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <system_error>

#include "asioquic/application.hpp"
#include "asioquic/client.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/h3/driver.hpp"
#include "asioquic/h3/message.hpp"

namespace asioquic::h3 {

namespace detail {
class Driver;
struct ClientOps;
}  // namespace detail

/// The fields of a request: `:method`, `:scheme`, `:authority`, `:path`, then `extra`.
Fields request_fields(std::string_view method, std::string_view authority, std::string_view path,
                      Fields extra = {}, std::string_view scheme = "https");

/// A response: status, header fields and body.
class ClientResponse : public BodyReader {
 public:
  ClientResponse() = default;
  int status() const;
  const Fields& headers() const;

 private:
  friend struct detail::ClientOps;
  explicit ClientResponse(std::shared_ptr<detail::Stream> s) : BodyReader(std::move(s)) {}
};

/// A request whose body is streamed with async_write/async_finish.
class ClientRequest : public BodyWriter {
 public:
  ClientRequest() = default;

  /// Completes when the response's header section arrives (informational 1xx responses are
  /// skipped). On errc::stream_reset the response is valid for reset_code().
  /// Signature: void(std::error_code, ClientResponse).
  template <typename CompletionToken>
  auto async_response(CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, ClientResponse)>(
        [s = s_](auto handler) {
          asioquic::detail::Completion<void(std::error_code, ClientResponse)> c(
              std::move(handler), detail::Ops::executor(s));
          response(s, std::move(c));
        },
        token);
  }

 private:
  friend struct detail::ClientOps;
  explicit ClientRequest(std::shared_ptr<detail::Stream> s) : BodyWriter(std::move(s)) {}
  static void response(const std::shared_ptr<detail::Stream>& s,
                       asioquic::detail::Completion<void(std::error_code, ClientResponse)> c);
};

/// Controls one client connection. Copyable, thread-safe.
class ClientH3Controller {
 public:
  ClientH3Controller() = default;

  /// Sends a request with an optional body (nullopt: none) and completes with the response
  /// headers. Errors: errc::going_away (GOAWAY received), errc::request_rejected (not processed;
  /// safe to retry), errc::stream_reset (the response is then valid for reset_code()),
  /// errc::fields_too_large (the response's header section exceeds
  /// Settings::max_field_section_size), errc::malformed_message, errc::connection_closed, ...
  /// Signature: void(std::error_code, ClientResponse).
  template <typename CompletionToken>
  auto async_request(Fields fields, std::optional<Buffer> body, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, ClientResponse)>(
        [d = d_](auto handler, Fields f, std::optional<Buffer> b) {
          asioquic::detail::Completion<void(std::error_code, ClientResponse)> c(std::move(handler),
                                                                                executor_of(d));
          request(d, std::move(f), std::move(b), std::move(c));
        },
        token, std::move(fields), std::move(body));
  }

  /// Opens a request whose body is streamed: completes once its stream is open and its headers
  /// are queued. Signature: void(std::error_code, ClientRequest).
  template <typename CompletionToken>
  auto async_open(Fields fields, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, ClientRequest)>(
        [d = d_](auto handler, Fields f) {
          asioquic::detail::Completion<void(std::error_code, ClientRequest)> c(std::move(handler),
                                                                               executor_of(d));
          open(d, std::move(f), std::move(c));
        },
        token, std::move(fields));
  }

  /// Graceful close: new requests fail, running ones finish, then the connection closes.
  void shutdown() const;
  /// Closes at once with an HTTP/3 error code.
  void close(uint64_t code = kNoError) const;
  /// The QUIC connection (stats, async_wait_closed, ...).
  const ConnectionHandle& connection() const { return conn_; }
  asio::any_io_executor executor() const { return executor_of(d_); }

 private:
  friend struct detail::ClientOps;
  ClientH3Controller(std::shared_ptr<detail::Driver> d, ConnectionHandle conn)
      : d_(std::move(d)), conn_(std::move(conn)) {}
  static asio::any_io_executor executor_of(const std::shared_ptr<detail::Driver>& d);
  static void request(const std::shared_ptr<detail::Driver>& d, Fields f, std::optional<Buffer> b,
                      asioquic::detail::Completion<void(std::error_code, ClientResponse)> c);
  static void open(const std::shared_ptr<detail::Driver>& d, Fields f,
                   asioquic::detail::Completion<void(std::error_code, ClientRequest)> c);
  std::shared_ptr<detail::Driver> d_;
  ConnectionHandle conn_;
};

/// The HTTP/3 client side of a connection. async_connect() uses it; apps that start QUIC
/// connections themselves can too.
class ClientH3Driver final : public H3Driver {
 public:
  explicit ClientH3Driver(const Settings& settings = {});
  /// The controller for a connection this driver runs (handle from async_connect/start).
  ClientH3Controller controller(ConnectionHandle conn) const;
};

namespace detail {
void start_h3_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                      const ClientSettings& quic, const Settings& h3,
                      asioquic::detail::Completion<void(std::error_code, ClientH3Controller)> c);
}

/// Connects (ALPN "h3" is set if quic.tls.alpn is empty) and completes when the handshake is
/// done, or at once when it offers 0-RTT (quic.early_data): GET, HEAD and OPTIONS requests
/// made then go as early data, the others after the handshake. Errors as for
/// asioquic::async_connect. Signature: void(std::error_code,
/// ClientH3Controller).
template <typename CompletionToken>
auto async_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                   const ClientSettings& quic, const Settings& h3, CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(std::error_code, ClientH3Controller)>(
      [ex](auto handler, std::string h, uint16_t p, const ClientSettings& q, const Settings& s) {
        asioquic::detail::Completion<void(std::error_code, ClientH3Controller)> c(
            std::move(handler), ex);
        detail::start_h3_connect(ex, std::move(h), p, q, s, std::move(c));
      },
      token, std::move(host), port, quic, h3);
}

}  // namespace asioquic::h3
