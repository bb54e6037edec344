// ConnectionHandle: a thread-safe reference to a running connection, for code outside the
// application's callbacks (closing it, waking it, waiting for its end, reading its stats).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <asio/async_result.hpp>
#include <asio/ip/udp.hpp>

#include "asioquic/connection.hpp"
#include "asioquic/detail/completion.hpp"
#include "asioquic/error.hpp"

namespace asioquic {

/// Copyable; every member may be called from any thread. Holding a handle keeps a small record
/// of the connection alive (not its engine state, which is freed when the connection ends).
class ConnectionHandle {
 public:
  ConnectionHandle() = default;
  explicit ConnectionHandle(std::shared_ptr<quic::IoWorker> w) : w_(std::move(w)) {}

  bool valid() const noexcept { return w_ != nullptr; }

  /// Closes the connection with an application error code (0 = no error). Does nothing if the
  /// connection is already closing.
  void close(uint64_t app_error_code = 0, std::string reason = {}) const;

  /// A Waker for the connection's worker.
  Waker waker() const;

  /// Peer address at the start of the connection, and hex of the original DCID.
  asio::ip::udp::endpoint remote_endpoint() const;
  std::string trace_id() const;
  /// Whether TLS resumed an earlier session (ClientSettings::session_store); false until the
  /// handshake is done.
  bool resumed() const noexcept;
  /// Whether the handshake has completed. A client using 0-RTT (ClientSettings::early_data)
  /// gets its handle before: what it sends until then goes as early data.
  bool handshake_completed() const noexcept;
  /// Whether the server accepted the 0-RTT data (ClientSettings::early_data); false until the
  /// handshake is done.
  bool early_data_accepted() const noexcept;

  /// Completes when the connection is gone, with how it ended.
  /// Signature: void(std::error_code result, CloseInfo info); result is info.error.
  template <typename CompletionToken>
  auto async_wait_closed(CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, CloseInfo)>(
        [w = w_](auto handler) {
          auto ex = executor_of(w);
          detail::Completion<void(std::error_code, CloseInfo)> c(std::move(handler), ex);
          wait_closed(w, std::move(c));
        },
        token);
  }

  /// Client only: moves the connection to a new local socket (bound to `local`, or to the current
  /// local address with a new port) and validates the new path (RFC 9000 §9). Completes when
  /// validation has succeeded. Errors: errc::invalid_argument (a server connection, or not
  /// established yet), errc::path_validation_failed, errc::connection_closed, or the socket's
  /// system error. Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_migrate(std::optional<asio::ip::address> local, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [w = w_, local](auto handler) {
          auto ex = executor_of(w);
          detail::Completion<void(std::error_code)> c(std::move(handler), ex);
          migrate(w, local, std::move(c));
        },
        token);
  }

  /// Completes with a snapshot of the connection's statistics (the final ones once closed).
  /// Signature: void(ConnectionStats).
  template <typename CompletionToken>
  auto async_stats(CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(ConnectionStats)>(
        [w = w_](auto handler) {
          auto ex = executor_of(w);
          detail::Completion<void(ConnectionStats)> c(std::move(handler), ex);
          get_stats(w, std::move(c));
        },
        token);
  }

 private:
  static asio::any_io_executor executor_of(const std::shared_ptr<quic::IoWorker>& w);
  static void wait_closed(const std::shared_ptr<quic::IoWorker>& w,
                          detail::Completion<void(std::error_code, CloseInfo)> c);
  static void get_stats(const std::shared_ptr<quic::IoWorker>& w,
                        detail::Completion<void(ConnectionStats)> c);
  static void migrate(const std::shared_ptr<quic::IoWorker>& w,
                      std::optional<asio::ip::address> local,
                      detail::Completion<void(std::error_code)> c);

  std::shared_ptr<quic::IoWorker> w_;
};

}  // namespace asioquic
