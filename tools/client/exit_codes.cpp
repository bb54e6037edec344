#include "client/exit_codes.hpp"

#include <asio/error.hpp>

#include <asioquic/error.hpp>

namespace asioquic::tools {

ExitCode connect_failure_code(const std::error_code& ec, bool connect_timeout_given) {
  if (ec.category() == asio::error::get_netdb_category() ||
      ec.category() == asio::error::get_addrinfo_category()) {
    return kExitCouldNotResolve;
  }
  if (ec == errc::certificate_verify_failed || ec == errc::alpn_mismatch ||
      ec == errc::tls_handshake_failed) {
    return kExitTlsError;
  }
  if (ec == errc::tls_credentials) return kExitCaCertError;
  if (ec == errc::handshake_timeout && connect_timeout_given) return kExitTimeout;
  return kExitCouldNotConnect;
}

}  // namespace asioquic::tools
