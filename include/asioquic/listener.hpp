// Server entry point: listen() on one or more UDP endpoints, then async_accept connections.
//
//   auto listener = asioquic::listen(io.get_executor(), {endpoint}, settings, ec);
//   for (;;) {
//     auto [ec, incoming] = co_await listener.async_accept(as_tuple(use_awaitable));
//     if (ec) break;
//     incoming.start(std::make_shared<MyApp>());
//   }
//
// Each socket gets its own InboundPacketRouter; a connection runs on the router's strand of the
// executor given to listen(), so a multi-threaded io_context is safe. All connections of one
// socket share that strand: to use several cores on one port, listen_sharded() gives each thread
// a socket and its own connections. An io_context made with
// ASIO_CONCURRENCY_HINT_UNSAFE_IO (or _UNSAFE) promises Asio that one thread at a time runs it;
// its connections then run on its own executor, without a strand, which is cheaper.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <system_error>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/ip/udp.hpp>

#include "asioquic/application.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/detail/completion.hpp"
#include "asioquic/settings.hpp"

namespace asioquic {

namespace quic {
class ListenerImpl;
}

/// A connection the listener accepted: its handshake is under way (or done). Start it with an
/// application, optionally after waiting for the handshake. Move-only; destroying it without
/// start() closes the connection (CONNECTION_REFUSED is not used: the handshake may be done, so
/// it is an application close with code 0).
class IncomingConnection {
 public:
  IncomingConnection() = default;
  explicit IncomingConnection(std::shared_ptr<quic::IoWorker> w) : w_(std::move(w)) {}
  IncomingConnection(IncomingConnection&&) noexcept = default;
  IncomingConnection& operator=(IncomingConnection&& o) noexcept;
  ~IncomingConnection();

  bool valid() const noexcept { return w_ != nullptr; }
  asio::ip::udp::endpoint remote_endpoint() const;
  std::string trace_id() const;
  /// The executor the connection runs on (a strand, or the io_context's own executor when its
  /// concurrency hint is ASIO_CONCURRENCY_HINT_UNSAFE_IO or _UNSAFE). Requires valid().
  asio::any_io_executor executor() const { return executor_of(w_); }

  /// Completes when the handshake is done: empty error, or why it failed. Requires valid().
  /// Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_handshake(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [w = w_](auto handler) {
          auto ex = executor_of(w);
          detail::Completion<void(std::error_code)> c(std::move(handler), ex);
          wait_handshake(w, std::move(c));
        },
        token);
  }

  /// Attaches the application; its on_conn_established runs when the handshake completes (at
  /// once if it already has), or at once if TLS took the client's early data
  /// (HandshakeInfo::early_data). Stream data that arrived before start() is delivered first.
  /// The IncomingConnection is empty afterwards.
  ConnectionHandle start(std::shared_ptr<ApplicationOverQuic> app);

 private:
  static asio::any_io_executor executor_of(const std::shared_ptr<quic::IoWorker>& w);
  static void wait_handshake(const std::shared_ptr<quic::IoWorker>& w,
                             detail::Completion<void(std::error_code)> c);
  std::shared_ptr<quic::IoWorker> w_;
};

/// Counters of a listener, summed over its sockets.
struct ListenerStats {
  uint64_t datagrams_received = 0;
  uint64_t connections_accepted = 0;  // connections created (handshake started)
  uint64_t connections_active = 0;    // created and not yet finished
  uint64_t handshakes_in_progress = 0;
  uint64_t backlog_overflows = 0;       // refused because the accept queue was full
  uint64_t refused_by_limits = 0;       // refused by max_connections / max_handshakes
  uint64_t retries_under_pressure = 0;  // Retry sent by retry_above_* (not settings.retry)
  uint64_t retries_sent = 0;
  uint64_t invalid_tokens = 0;  // Initials with a forged, expired or misplaced token
  uint64_t version_negotiations_sent = 0;
  uint64_t stateless_resets_sent = 0;
  uint64_t packets_dropped = 0;  // junk, unknown connections, undersized Initials
};

class Listener {
 public:
  Listener() = default;
  explicit Listener(std::shared_ptr<quic::ListenerImpl> impl) : impl_(std::move(impl)) {}

  bool valid() const noexcept { return impl_ != nullptr; }

  /// Completes with the next connection. Errors: errc::listener_closed.
  /// Signature: void(std::error_code, IncomingConnection).
  template <typename CompletionToken>
  auto async_accept(CompletionToken&& token) {
    return asio::async_initiate<CompletionToken, void(std::error_code, IncomingConnection)>(
        [impl = impl_](auto handler) {
          auto ex = executor_of(*impl);
          detail::Completion<void(std::error_code, IncomingConnection)> c(std::move(handler), ex);
          accept(*impl, std::move(c));
        },
        token);
  }

  /// Hands each connection created from now on to `fn` at once, on the executor the
  /// connection runs on, instead of queueing it for async_accept. An application started from
  /// `fn` is attached in the connection's first turns rather than after a hop through the
  /// accepting code's executor, so it can answer early data (0-RTT) before the handshake
  /// completes, whatever the round-trip time. `fn` runs on each socket's thread (concurrently
  /// for a sharded listener) and must not block. It is kept until the listener is destroyed,
  /// so it must not own the Listener. A connection it neither starts nor keeps is closed, as
  /// is one whose `fn` throws. Connections queued before the call stay for async_accept,
  /// which otherwise completes only with listener_closed. An empty `fn` queues connections
  /// again. Requires valid().
  void on_connection(std::function<void(IncomingConnection)> fn);

  /// Stops accepting: pending and later async_accept calls complete with listener_closed and
  /// new Initials are ignored. Established connections run on until they close.
  void close();

  /// The bound addresses (with the ports the kernel chose for port 0).
  std::vector<asio::ip::udp::endpoint> local_endpoints() const;
  ListenerStats stats() const;

 private:
  static asio::any_io_executor executor_of(quic::ListenerImpl& impl);
  static void accept(quic::ListenerImpl& impl,
                     detail::Completion<void(std::error_code, IncomingConnection)> c);
  std::shared_ptr<quic::ListenerImpl> impl_;
};

/// Binds a socket per endpoint and starts routing. Errors: errc::invalid_argument (settings;
/// `what` in the message is not available here — call validate() for it), errc::tls_credentials,
/// errc::address_in_use, or a system error.
Listener listen(const asio::any_io_executor& ex, std::span<const asio::ip::udp::endpoint> endpoints,
                const ServerSettings& settings, std::error_code& ec);
/// The same with sockets the caller opened and bound (they are made non-blocking).
Listener listen(const asio::any_io_executor& ex, std::vector<asio::ip::udp::socket> sockets,
                const ServerSettings& settings, std::error_code& ec);

/// Most shards of listen_sharded(): a shard's id is one byte of the connection IDs.
inline constexpr size_t kMaxShards = 256;

/// Multi-core: binds one socket per endpoint and shard with SO_REUSEPORT, each routed on its
/// shard's executor (typically one io_context per thread, made with
/// ASIO_CONCURRENCY_HINT_UNSAFE_IO). The connection IDs a shard issues carry its id, and a
/// classic BPF program on each endpoint's socket group hands every datagram to the socket of
/// the shard its destination connection ID names, so a connection's packets always reach the
/// thread that owns it, also after the client's address changes. A new connection lands on
/// the shard its client's random initial connection ID selects. Accepted connections run on
/// their shard's executor; async_accept handlers without an executor of their own run on
/// shards[0]'s. Endpoints with port 0 get one port, chosen by the kernel, for all their shards.
/// Other sockets bound to the same address with SO_REUSEPORT (by the same user) would join a
/// group and take part of its traffic: do not share the port.
/// Errors: as listen(); errc::invalid_argument for no shards, more than kMaxShards or no
/// endpoints; the system error of setsockopt() if the kernel refuses SO_REUSEPORT or the program.
Listener listen_sharded(std::span<const asio::any_io_executor> shards,
                        std::span<const asio::ip::udp::endpoint> endpoints,
                        const ServerSettings& settings, std::error_code& ec);

}  // namespace asioquic
