#include "asioquic/error.hpp"

#include <climits>
#include <string>

namespace asioquic {
namespace {

class ErrorCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "asioquic"; }
  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
      case errc::invalid_argument:
        return "invalid argument";
      case errc::tls_credentials:
        return "TLS certificate or key could not be loaded";
      case errc::address_in_use:
        return "address already in use";
      case errc::handshake_timeout:
        return "QUIC handshake timed out";
      case errc::certificate_verify_failed:
        return "server certificate verification failed";
      case errc::alpn_mismatch:
        return "no application protocol (ALPN) in common with the peer";
      case errc::tls_handshake_failed:
        return "TLS handshake failed";
      case errc::version_negotiation_failed:
        return "no QUIC version in common with the peer";
      case errc::connection_refused:
        return "connection refused by the server";
      case errc::idle_timeout:
        return "connection closed after the idle timeout";
      case errc::stateless_reset:
        return "connection reset by the peer (stateless reset)";
      case errc::connection_closed:
        return "connection closed";
      case errc::connection_aborted:
        return "connection aborted by a protocol error";
      case errc::path_validation_failed:
        return "path validation failed on the new path";
      case errc::early_data_rejected:
        return "the server refused the early data (0-RTT)";
      case errc::code_out_of_range:
        return "wire error code does not fit in an error_code";
      case errc::stream_not_found:
        return "no such stream";
      case errc::stream_limit:
        return "peer's stream limit reached";
      case errc::stream_reset:
        return "stream reset by the peer";
      case errc::stream_stopped:
        return "peer asked to stop sending on the stream";
      case errc::stream_finished:
        return "stream already finished";
      case errc::would_block:
        return "operation would exceed a buffer or flow-control limit";
      case errc::datagram_too_large:
        return "datagram larger than the peer accepts";
      case errc::datagrams_disabled:
        return "peer does not accept datagrams";
      case errc::request_rejected:
        return "request rejected by the server (safe to retry)";
      case errc::going_away:
        return "connection is going away (GOAWAY)";
      case errc::fields_too_large:
        return "header or trailer section too large";
      case errc::malformed_message:
        return "malformed HTTP message";
      case errc::body_too_large:
        return "message body larger than the limit";
      case errc::listener_closed:
        return "listener closed";
      case errc::operation_aborted:
        return "operation aborted";
      case errc::internal:
        return "internal error in the QUIC engine";
    }
    return "unknown asioquic error " + std::to_string(ev);
  }
};

const char* transport_name(uint64_t code) {
  switch (code) {
    case 0x0:
      return "NO_ERROR";
    case 0x1:
      return "INTERNAL_ERROR";
    case 0x2:
      return "CONNECTION_REFUSED";
    case 0x3:
      return "FLOW_CONTROL_ERROR";
    case 0x4:
      return "STREAM_LIMIT_ERROR";
    case 0x5:
      return "STREAM_STATE_ERROR";
    case 0x6:
      return "FINAL_SIZE_ERROR";
    case 0x7:
      return "FRAME_ENCODING_ERROR";
    case 0x8:
      return "TRANSPORT_PARAMETER_ERROR";
    case 0x9:
      return "CONNECTION_ID_LIMIT_ERROR";
    case 0xa:
      return "PROTOCOL_VIOLATION";
    case 0xb:
      return "INVALID_TOKEN";
    case 0xc:
      return "APPLICATION_ERROR";
    case 0xd:
      return "CRYPTO_BUFFER_EXCEEDED";
    case 0xe:
      return "KEY_UPDATE_ERROR";
    case 0xf:
      return "AEAD_LIMIT_REACHED";
    case 0x10:
      return "NO_VIABLE_PATH";
    default:
      return nullptr;
  }
}

class TransportCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "quic.transport"; }
  std::string message(int ev) const override {
    const auto code = static_cast<uint64_t>(ev);
    if (code >= 0x100 && code <= 0x1ff) {
      return "CRYPTO_ERROR (TLS alert " + std::to_string(code - 0x100) + ")";
    }
    if (const char* n = transport_name(code)) return n;
    return "QUIC transport error " + std::to_string(code);
  }
};

class ApplicationCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "quic.application"; }
  std::string message(int ev) const override {
    return "application error code " + std::to_string(ev);
  }
};

}  // namespace

const std::error_category& error_category() noexcept {
  static const ErrorCategory c;
  return c;
}

const std::error_category& transport_category() noexcept {
  static const TransportCategory c;
  return c;
}

const std::error_category& application_category() noexcept {
  static const ApplicationCategory c;
  return c;
}

std::error_code wire_error_code(bool is_application, uint64_t code) noexcept {
  if (code > static_cast<uint64_t>(INT_MAX)) return make_error_code(errc::code_out_of_range);
  return {static_cast<int>(code), is_application ? application_category() : transport_category()};
}

}  // namespace asioquic
