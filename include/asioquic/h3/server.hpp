// HTTP/3 server: ServerH3Driver (the ApplicationOverQuic that speaks HTTP/3 on a connection),
// its ServerH3Controller (the requests, as an asynchronous stream), and serve() for the
// one-liner case.
//
//   co_spawn(ex, h3::serve(listener, {}, [](h3::ServerRequest req, h3::ServerResponse res)
//                                          -> asio::awaitable<void> {
//     co_await res.async_respond(200, {{"content-type", "text/plain"}}, Buffer::copy("hi\n"),
//                                asio::use_awaitable);
//   }), asio::detached);
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <utility>

#include <asio/awaitable.hpp>

#include "asioquic/application.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/h3/driver.hpp"
#include "asioquic/h3/message.hpp"
#include "asioquic/listener.hpp"

namespace asioquic::h3 {

namespace detail {
class Driver;
struct ServerOps;
}  // namespace detail

/// An incoming request: its header fields and its body.
class ServerRequest : public BodyReader {
 public:
  ServerRequest() = default;
  const Fields& headers() const;
  std::string_view method() const { return pseudo(":method"); }
  std::string_view path() const { return pseudo(":path"); }
  std::string_view authority() const { return pseudo(":authority"); }
  std::string_view scheme() const { return pseudo(":scheme"); }
  /// Extended CONNECT's `:protocol` (empty otherwise).
  std::string_view protocol() const { return pseudo(":protocol"); }
  /// The priority the client asked for (RFC 9218, `priority` field or PRIORITY_UPDATE).
  Priority priority() const;
  /// False if the request ended with its headers (no body to read).
  bool has_body() const;
  /// True if the request came as 0-RTT early data and is handed over before the handshake
  /// completed: it may be a replay (RFC 8470). A handler that must not act twice answers
  /// 425 (Too Early), and the client sends it again after the handshake.
  bool early_data() const;
  /// The trace id of the connection the request came on (ConnectionHandle::trace_id()), so
  /// a handler can tell connections apart in its logs.
  const std::string& connection_trace_id() const;

 private:
  friend struct detail::ServerOps;
  explicit ServerRequest(std::shared_ptr<detail::Stream> s) : BodyReader(std::move(s)) {}
  std::string_view pseudo(std::string_view name) const;
};

/// The response to one request.
class ServerResponse : public BodyWriter {
 public:
  ServerResponse() = default;

  /// Sends the response header section (`:status` is added). A 1xx status sends an
  /// informational response; another call must follow. A response to HEAD, or with status 204
  /// or 304, has no content: body writes for it succeed and are dropped.
  /// Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_send_headers(int status, Fields fields, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [s = s_, status](auto handler, Fields f) {
          asioquic::detail::Completion<void(std::error_code)> c(std::move(handler),
                                                                detail::Ops::executor(s));
          detail::Ops::send_headers(s, status, std::move(f), std::move(c));
        },
        token, std::move(fields));
  }

  /// Headers, the whole body and the end of the stream in one call.
  /// Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_respond(int status, Fields fields, Buffer body, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [s = s_, status](auto handler, Fields f, Buffer b) {
          asioquic::detail::Completion<void(std::error_code)> c(std::move(handler),
                                                                detail::Ops::executor(s));
          respond(s, status, std::move(f), std::move(b), std::move(c));
        },
        token, std::move(fields), std::move(body));
  }

  /// Overrides the priority the client asked for.
  void set_priority(const Priority& p) const;

 private:
  friend struct detail::ServerOps;
  explicit ServerResponse(std::shared_ptr<detail::Stream> s) : BodyWriter(std::move(s)) {}
  static void respond(const std::shared_ptr<detail::Stream>& s, int status, Fields fields,
                      Buffer body, asioquic::detail::Completion<void(std::error_code)> c);
};

/// Controls one server connection: takes its requests, sends GOAWAY. Copyable, thread-safe.
class ServerH3Controller {
 public:
  ServerH3Controller() = default;

  /// Completes with the next request whose header section has arrived. After GOAWAY, once the
  /// connection is closed: errc::connection_closed.
  /// Signature: void(std::error_code, ServerRequest, ServerResponse).
  template <typename CompletionToken>
  auto async_accept(CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken,
                                void(std::error_code, ServerRequest, ServerResponse)>(
        [d = d_](auto handler) {
          asioquic::detail::Completion<void(std::error_code, ServerRequest, ServerResponse)> c(
              std::move(handler), executor_of(d));
          accept(d, std::move(c));
        },
        token);
  }

  /// Instead of async_accept: `fn` is called on the connection's executor with each request
  /// whose header section has arrived, those already waiting first. It must not block; it
  /// typically co_spawns a handler. The requests of one packet batch are handed over in the
  /// same turn, so their handlers start, and their responses leave, together (one accept loop
  /// takes them one strand hop apart). Pending and later async_accept calls then complete only
  /// when the connection has ended. `fn` is released when the connection closes.
  void on_request(std::function<void(ServerRequest, ServerResponse)> fn) const;

  /// Graceful shutdown: GOAWAY now; requests already received finish (up to `drain`, default
  /// Settings::drain_timeout), new ones are refused, then the connection closes.
  void shutdown(std::optional<std::chrono::milliseconds> drain = std::nullopt) const;
  /// Closes the connection at once with an HTTP/3 error code.
  void close(uint64_t code = kNoError) const;
  asio::any_io_executor executor() const { return executor_of(d_); }
  /// True if both control the same connection.
  bool same_as(const ServerH3Controller& o) const noexcept { return d_ == o.d_; }

 private:
  friend class ServerH3Driver;
  explicit ServerH3Controller(std::shared_ptr<detail::Driver> d) : d_(std::move(d)) {}
  static asio::any_io_executor executor_of(const std::shared_ptr<detail::Driver>& d);
  static void accept(
      const std::shared_ptr<detail::Driver>& d,
      asioquic::detail::Completion<void(std::error_code, ServerRequest, ServerResponse)> c);
  std::shared_ptr<detail::Driver> d_;
};

/// The HTTP/3 server side of a connection (ALPN "h3"). Start an IncomingConnection with it.
class ServerH3Driver final : public H3Driver {
 public:
  /// A driver and the controller for its requests; `connection_executor` is the executor of
  /// the connection it will run on (IncomingConnection::executor()).
  static std::pair<std::shared_ptr<ServerH3Driver>, ServerH3Controller> make(
      asio::any_io_executor connection_executor, const Settings& settings = {});

  explicit ServerH3Driver(std::shared_ptr<detail::Driver> d) : H3Driver(std::move(d)) {}
};

/// Starts an accepted connection as an HTTP/3 server connection; returns its controller.
ServerH3Controller start(IncomingConnection incoming, const Settings& settings = {});

using Handler = std::function<asio::awaitable<void>(ServerRequest, ServerResponse)>;

/// Answers a request on the spot, or declines it: see Server.
using FastPath = std::function<bool(const ServerRequest&, const ServerResponse&)>;

/// An HTTP/3 server over a Listener: accepts connections and serves each request with the
/// handler, a coroutine run on the request's connection executor. A handler that returns without
/// finishing its response gets it finished (500 if nothing was sent, else the end of the body);
/// one that throws gets its stream reset with H3_INTERNAL_ERROR.
///
/// A `fast_path`, if given, sees each request first, on the connection's executor, as soon as
/// its header section has arrived. It must not block or wait for anything: it either answers
/// the request there and then (async_respond with a callback or asio::detached) and returns
/// true, or returns false and the handler gets the request. A request it took is finished, as a
/// handler's is, once it returns; if it throws, the stream is reset with H3_INTERNAL_ERROR.
/// It saves a handler's coroutine frames and executor hops: for a small file from memory,
/// about a tenth of the server's instructions per request (BENCHMARKS.md).
///
/// Copyable handle; shutdown() and stop() may be called from any thread.
class Server {
 public:
  Server(Listener listener, Settings settings, Handler handler, FastPath fast_path = {});

  /// Serves until the listener is closed (by shutdown(), stop() or Listener::close()) and every
  /// connection has ended. Takes over the listener's connections with
  /// Listener::on_connection, so each is started where it is created and can be answered
  /// during its handshake (0.5-RTT).
  asio::awaitable<void> run() const;

  /// Graceful: stop accepting, send GOAWAY on every connection, let requests in flight finish
  /// for up to `drain` (then those connections are closed).
  void shutdown(std::chrono::milliseconds drain) const;
  /// Stop accepting and close every connection now with `code`.
  void stop(uint64_t code = kNoError) const;
  /// Connections currently served.
  size_t connections() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// Server(listener, settings, handler).run(): serves until the listener is closed and the
/// connections have ended.
asio::awaitable<void> serve(Listener listener, Settings settings, Handler handler);

}  // namespace asioquic::h3
