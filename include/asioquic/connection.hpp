// Connection: what an ApplicationOverQuic works through — streams, datagrams, close, stats.
//
// A Connection belongs to its IoWorker and is only used on that worker's executor, inside the
// ApplicationOverQuic callbacks (or code they call). Other threads reach a connection through a
// Waker (to schedule a turn) or a ConnectionHandle. Nothing here blocks or allocates per packet.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/ip/udp.hpp>

#include "asioquic/buffer.hpp"
#include "asioquic/error.hpp"

struct ngtcp2_conn;  // escape hatch to the engine, see Connection::native_handle()

namespace asioquic {

namespace quic {
class IoWorker;
}

namespace detail {
/// Something a Waker can wake; implemented by the IoWorker.
class WakeTarget {
 public:
  virtual ~WakeTarget() = default;
  virtual void wake() = 0;
};
}  // namespace detail

/// Thread-safe: wake() from any thread schedules one turn of the connection's worker, in which
/// ApplicationOverQuic::process_writes runs. Wake-ups before the turn runs are merged into one.
/// A Waker outlives its connection safely; waking a finished connection does nothing.
class Waker {
 public:
  Waker() = default;
  explicit Waker(std::weak_ptr<detail::WakeTarget> t) : target_(std::move(t)) {}
  void wake() const {
    if (auto t = target_.lock()) t->wake();
  }

 private:
  std::weak_ptr<detail::WakeTarget> target_;
};

/// Live transport statistics of one connection.
struct ConnectionStats {
  std::chrono::nanoseconds smoothed_rtt{0};
  std::chrono::nanoseconds min_rtt{0};
  std::chrono::nanoseconds latest_rtt{0};
  std::chrono::nanoseconds rtt_variance{0};
  uint64_t cwnd = 0;             // congestion window, bytes
  uint64_t bytes_in_flight = 0;  // sent and not yet acknowledged or declared lost
  uint64_t delivery_rate = 0;    // bytes per second, as estimated by the congestion controller
  size_t pto_count = 0;          // consecutive probe timeouts
  size_t max_udp_payload = 0;    // current packet size limit on the path
  uint64_t bytes_sent = 0;       // UDP payload bytes, all packets
  uint64_t bytes_received = 0;
  uint64_t packets_sent = 0;
  uint64_t packets_received = 0;
  /// Packets carrying stream data that were declared lost (ngtcp2 0.12 counts losses per
  /// stream only; packets holding nothing but ACKs or control frames are not counted).
  uint64_t packets_lost = 0;
  uint64_t datagrams_lost = 0;                     // DATAGRAM frames declared lost
  std::chrono::nanoseconds handshake_duration{0};  // 0 until the handshake completes
};

/// Streams are identified by their QUIC stream ID (RFC 9000 §2.1).
inline bool is_bidi_stream(int64_t id) noexcept {
  return (id & 0x2) == 0;
}
inline bool is_client_stream(int64_t id) noexcept {
  return (id & 0x1) == 0;
}

class Connection {
 public:
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ----- identity
  bool is_server() const noexcept;
  bool is_established() const noexcept;
  asio::ip::udp::endpoint remote_endpoint() const;
  asio::ip::udp::endpoint local_endpoint() const;
  /// Negotiated application protocol (ALPN); empty before the handshake has progressed.
  std::string alpn() const;
  /// Whether TLS resumed an earlier session (ClientSettings::session_store); false until the
  /// handshake is done.
  bool resumed() const noexcept;
  /// Whether the server accepted this client's 0-RTT data (ClientSettings::early_data); false
  /// until the handshake is done.
  bool early_data_accepted() const noexcept;
  /// Hex of the client's original destination connection ID: stable for the connection's
  /// life and the name of its qlog file.
  const std::string& trace_id() const noexcept;

  // ----- streams
  /// Opens a stream. On errc::stream_limit the peer's limit is reached: retry after it grows
  /// (the application's process_writes runs again when it does).
  int64_t open_bidi_stream(std::error_code& ec);
  int64_t open_uni_stream(std::error_code& ec);
  uint64_t streams_bidi_left() const noexcept;
  uint64_t streams_uni_left() const noexcept;

  /// Copies up to stream_send_capacity() bytes of `data` into the stream's send buffer and
  /// returns how many it took; `fin` applies only if all of `data` was taken. Errors:
  /// stream_not_found, stream_finished, stream_stopped (STOP_SENDING received), would_block
  /// (nothing could be taken; process_writes runs again when acknowledgements free room).
  size_t stream_send(int64_t id, std::span<const uint8_t> data, bool fin, std::error_code& ec);
  /// Queues `buf` without copying, whole or not at all (would_block when it does not fit and
  /// the stream already holds data). Same errors as above.
  void stream_send(int64_t id, Buffer buf, bool fin, std::error_code& ec);
  /// Room left in the stream's send buffer (Settings::stream_send_buffer minus queued bytes).
  size_t stream_send_capacity(int64_t id) const noexcept;

  /// Reads buffered bytes of a stream (when the application does not override
  /// on_stream_data). Returns the count; `fin` is set once the last byte has been read.
  /// Errors: stream_not_found, stream_reset (the peer reset it; code in `reset_code`).
  size_t stream_recv(int64_t id, std::span<uint8_t> out, bool& fin, std::error_code& ec,
                     uint64_t* reset_code = nullptr);
  /// Next stream with unread data, FIN or reset, in arrival order; nullopt when none.
  std::optional<int64_t> next_readable();
  /// For applications that take data in on_stream_data: grants the peer `n` more bytes of
  /// flow-control credit on the stream and connection, once they are processed.
  void consume(int64_t id, size_t n);

  /// Abandons sending (RESET_STREAM with `code`); queued data is dropped.
  void stream_reset(int64_t id, uint64_t code, std::error_code& ec);
  /// Abandons receiving (STOP_SENDING with `code`); unread data is dropped.
  void stream_stop_sending(int64_t id, uint64_t code, std::error_code& ec);

  // ----- datagrams (RFC 9221)
  /// Queues a DATAGRAM frame (copied). Errors: datagrams_disabled, datagram_too_large,
  /// would_block (Settings::datagram_send_queue is full).
  void send_datagram(std::span<const uint8_t> data, std::error_code& ec);
  /// Largest datagram payload the peer accepts; 0 if it accepts none (yet).
  size_t max_datagram_size() const noexcept;
  /// Pops a received datagram (when the application does not override on_datagram).
  bool recv_datagram(std::string& out);

  // ----- close
  /// Closes with an application error code (0 = no error). The close is sent at the end of
  /// this turn; on_conn_close follows.
  void close(uint64_t app_error_code = 0, std::string_view reason = {});
  /// How the connection ended, once it has.
  const CloseInfo& close_info() const noexcept;

  // ----- misc
  ConnectionStats stats() const;
  Waker waker() const;
  /// Schedules a turn, as waker().wake() does, without making a handle (whose weak reference
  /// costs atomic operations): for code already running on the connection's executor.
  void wake();
  /// The connection's executor (a strand): post here to touch application state from outside
  /// a callback; then wake() the worker if there is something to send.
  asio::any_io_executor executor() const;
  /// The engine's connection, for what this wrapper does not cover. Valid only inside the
  /// application's callbacks; calling ngtcp2 functions that send or close behind the
  /// worker's back is not supported.
  ngtcp2_conn* native_handle() noexcept;

 private:
  friend class quic::IoWorker;
  friend class ApplicationOverQuic;
  explicit Connection(quic::IoWorker& w) : w_(w) {}
  quic::IoWorker& w_;
};

}  // namespace asioquic
