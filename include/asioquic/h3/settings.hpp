// HTTP/3 settings, with their defaults, and the HTTP/3 error codes (RFC 9114 §8.1).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace asioquic::h3 {

/// HTTP/3 application error codes, carried by RESET_STREAM, STOP_SENDING and CONNECTION_CLOSE
/// and reported in application_category().
enum ErrorCode : uint64_t {
  kNoError = 0x100,
  kGeneralProtocolError = 0x101,
  kInternalError = 0x102,
  kStreamCreationError = 0x103,
  kClosedCriticalStream = 0x104,
  kFrameUnexpected = 0x105,
  kFrameError = 0x106,
  kExcessiveLoad = 0x107,
  kIdError = 0x108,
  kSettingsError = 0x109,
  kMissingSettings = 0x10a,
  kRequestRejected = 0x10b,
  kRequestCancelled = 0x10c,
  kRequestIncomplete = 0x10d,
  kMessageError = 0x10e,
  kConnectError = 0x10f,
  kVersionFallback = 0x110,
};

struct Settings {
  /// Largest header or trailer section accepted (name + value + 32 per field, RFC 9114 §4.2.2);
  /// a larger one resets the stream with H3_EXCESSIVE_LOAD. Also advertised to the peer.
  uint64_t max_field_section_size = 64 * 1024;
  /// QPACK dynamic table we let the peer's encoder use, and streams it may leave blocked.
  size_t qpack_max_dtable_capacity = 4096;
  size_t qpack_blocked_streams = 100;
  /// QPACK dynamic table our own encoder may use (capped by the peer's limit). Unset, the
  /// default: 0 for a server, 4096 for a client. With 0 every field section goes out with the
  /// static table and literals only, as quiche does: a server then keeps no encoder table per
  /// connection (about 4.5 KiB less each), spends about 1 k fewer instructions per response and
  /// gets no Section Acknowledgments back, for about 20 more bytes per small response. A
  /// client keeps its table because a server decodes indexed requests with less work than
  /// literal ones (about 1 k instructions per request). nghttp3 indexes only fields whose names
  /// it knows (the static table's), never x-* ones, :path, content-length or set-cookie.
  std::optional<size_t> qpack_encoder_max_dtable_capacity;
  /// Server: accept extended CONNECT (RFC 9220, `:protocol`).
  bool enable_connect_protocol = false;
  /// Server: requests served per connection before GOAWAY (0: no limit). Requests beyond are
  /// rejected with H3_REQUEST_REJECTED, which tells the client to retry elsewhere.
  uint64_t max_requests_per_connection = 0;
  /// Server: close a connection (H3_NO_ERROR) that sends no request within this time after the
  /// handshake (0: wait for the idle timeout).
  std::chrono::milliseconds post_accept_timeout{0};
  /// Body bytes a stream holds for sending (queued + unacknowledged) before async_write waits.
  /// Unacknowledged bytes count, so this bounds a stream to about this much per round trip:
  /// 8 MiB keeps a 40 ms path above 200 MB/s. The bytes are the application's own Buffers (no
  /// copy), held until acknowledged.
  size_t body_send_buffer = 8 << 20;
  /// Server: after GOAWAY, how long in-flight requests may run before the connection is closed.
  std::chrono::milliseconds drain_timeout{30'000};
};

}  // namespace asioquic::h3
