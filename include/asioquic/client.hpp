// Client entry point: async_connect() resolves the host, opens a socket of its own, runs the
// handshake and completes with a handle to the running connection.
//
//   auto [ec, conn] = co_await asioquic::async_connect(ex, "example.org", 443, settings, app,
//                                                      as_tuple(use_awaitable));
//
// Each client connection has its own UDP socket (and router), so a process may hold any number.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>

#include "asioquic/application.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/detail/completion.hpp"
#include "asioquic/settings.hpp"

namespace asioquic {

namespace detail {
void start_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                   const ClientSettings& settings, std::shared_ptr<ApplicationOverQuic> app,
                   Completion<void(std::error_code, ConnectionHandle)> done);
}

/// Connects to host:port (a name or an IP literal) and completes once the handshake is done,
/// or, offering 0-RTT (ClientSettings::early_data), once the connection has started on early
/// keys (ConnectionHandle::handshake_completed() tells which). The application's
/// on_conn_established has run by then. Errors: errc::invalid_argument
/// (settings), asio's resolver errors (e.g. host_not_found), errc::handshake_timeout,
/// errc::certificate_verify_failed, errc::alpn_mismatch, errc::tls_handshake_failed,
/// errc::version_negotiation_failed, errc::connection_refused, or a transport error.
/// Signature: void(std::error_code, ConnectionHandle).
template <typename CompletionToken>
auto async_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                   const ClientSettings& settings, std::shared_ptr<ApplicationOverQuic> app,
                   CompletionToken&& token) {
  return asio::async_initiate<CompletionToken, void(std::error_code, ConnectionHandle)>(
      [ex](auto handler, std::string h, uint16_t p, const ClientSettings& s,
           std::shared_ptr<ApplicationOverQuic> a) {
        detail::Completion<void(std::error_code, ConnectionHandle)> c(std::move(handler), ex);
        detail::start_connect(ex, std::move(h), p, s, std::move(a), std::move(c));
      },
      token, std::move(host), port, settings, std::move(app));
}

}  // namespace asioquic
