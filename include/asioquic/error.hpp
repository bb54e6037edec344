// Error codes of asio-quic.
//
// Every failure the library reports is a std::error_code. Three categories:
//   - asioquic::error_category()        our own conditions (errc below)
//   - asioquic::transport_category()    a QUIC transport error code carried by CONNECTION_CLOSE
//                                       (RFC 9000 §20.1; 0x100-0x1ff are TLS alerts)
//   - asioquic::application_category()  an application error code carried by CONNECTION_CLOSE,
//                                       RESET_STREAM or STOP_SENDING
// Wire codes are 62-bit; a code above INT_MAX is reported as errc::code_out_of_range and the exact
// value is available from CloseInfo.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>

namespace asioquic {

enum class errc {
  // Set-up and arguments.
  invalid_argument = 1,  // a settings field or call argument is out of range
  tls_credentials,       // certificate or key could not be loaded or do not match
  address_in_use,        // the UDP port is taken
  // Handshake.
  handshake_timeout,           // the handshake did not finish within Settings::handshake_timeout
  certificate_verify_failed,   // the peer's certificate was not trusted or names another host
  alpn_mismatch,               // client and server share no application protocol
  tls_handshake_failed,        // any other TLS failure during the handshake
  version_negotiation_failed,  // the server supports none of our QUIC versions
  connection_refused,          // the server refused the connection (CONNECTION_REFUSED or backlog)
  // Life of a connection.
  idle_timeout,            // nothing was received for Settings::idle_timeout
  stateless_reset,         // the peer reset the connection statelessly (it lost our state)
  connection_closed,       // the connection was closed (locally or by the peer without error)
  connection_aborted,      // the connection failed with a protocol error
  code_out_of_range,       // a wire error code does not fit in std::error_code
  path_validation_failed,  // the new path did not answer the migration's path challenge
  early_data_rejected,     // the server refused the 0-RTT data: none of it was processed
  // Streams and datagrams.
  stream_not_found,    // no such stream, or it is already closed
  stream_limit,        // the peer's stream limit is reached; try after it is raised
  stream_reset,        // the peer reset the stream (RESET_STREAM)
  stream_stopped,      // the peer asked us to stop sending (STOP_SENDING)
  stream_finished,     // the stream's send side is already finished
  would_block,         // the call would exceed a buffer or flow-control limit; retry later
  datagram_too_large,  // the datagram does not fit the peer's max_datagram_frame_size
  datagrams_disabled,  // the peer does not accept DATAGRAM frames
  // HTTP/3.
  request_rejected,   // the server did not process the request (GOAWAY or limits): retry is safe
  going_away,         // the connection is shutting down; open a new one for new requests
  fields_too_large,   // a header or trailer section exceeds the configured limit
  malformed_message,  // the peer sent an invalid HTTP message
  body_too_large,     // a body exceeds the limit given to async_read_all
  // Listener.
  listener_closed,    // the listener was closed; no more connections will be accepted
  operation_aborted,  // the operation was cancelled or its object destroyed
  internal,           // an engine call failed in a way the library did not expect
};

/// Category of errc.
const std::error_category& error_category() noexcept;
/// Category of QUIC transport error codes (value = the wire code).
const std::error_category& transport_category() noexcept;
/// Category of application error codes (value = the wire code).
const std::error_category& application_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// The error_code for a transport (is_application = false) or application wire code.
std::error_code wire_error_code(bool is_application, uint64_t code) noexcept;

/// How a connection ended, with the exact wire values.
struct CloseInfo {
  bool closed = false;          // false while the connection is still open
  bool by_peer = false;         // true: the peer sent CONNECTION_CLOSE (or a stateless reset)
  bool is_application = false;  // application (0x1d) rather than transport (0x1c) close
  uint64_t code = 0;            // wire error code
  std::string reason;           // reason phrase, possibly empty
  std::error_code error;        // the same, as an error_code (empty for a clean close)
};

}  // namespace asioquic

template <>
struct std::is_error_code_enum<asioquic::errc> : std::true_type {};
