// ApplicationOverQuic: "bring your own protocol".
//
// The IoWorker of a connection drives the transport and calls its application at fixed points of
// each turn:
//
//   packets in -> on_stream_* / on_datagram hooks (as the engine decodes them)
//              -> process_reads -> process_writes -> packets out -> timer re-armed -> wait
//
// A turn runs when packets arrive, when the engine's timer fires, or when a Waker is woken.
// All calls happen on the connection's executor, one at a time, never concurrently, so an
// application needs no locks for state it only touches from these callbacks.
//
// Lifetime: the worker holds the application (shared_ptr) from start() until the connection is
// done; on_conn_close is the last call it receives.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <system_error>

#include <sys/uio.h>

#include "asioquic/connection.hpp"
#include "asioquic/error.hpp"

namespace asioquic {

struct HandshakeInfo {
  std::chrono::steady_clock::time_point start;  // first packet of the connection
  std::chrono::nanoseconds elapsed{0};          // until the handshake completed
  std::string alpn;                             // negotiated application protocol
  bool resumed = false;  // TLS resumed an earlier session (ClientSettings::session_store)
  /// Started before the handshake completed, on 0-RTT keys. A client (ClientSettings::
  /// early_data): `elapsed` and `resumed` are not known yet (Connection::resumed() and
  /// early_data_accepted() tell once it completes) and `alpn` is the resumed session's. A
  /// server: TLS accepted the client's early data, so what arrives first may be a replay
  /// (see on_conn_established), and `elapsed` is not known yet.
  bool early_data = false;
};

/// One chunk of stream data offered to the engine by a SendSource.
struct StreamChunk {
  int64_t stream_id = -1;
  const iovec* iov = nullptr;  // bytes to send, valid until acked() covers them
  size_t iovcnt = 0;
  bool fin = false;
};

/// Advanced: lets an application hand stream bytes to the packetizer directly, instead of
/// queueing them with Connection::stream_send (the HTTP/3 driver uses this so that nghttp3's
/// buffers go straight into packets). All calls happen during the write phase of a turn.
class SendSource {
 public:
  virtual ~SendSource() = default;
  /// Fills `out` with the next stream that has data (or a bare FIN) to send; false when none.
  virtual bool next(StreamChunk& out) = 0;
  /// The engine took `n` bytes of the chunk last returned by next() (and its FIN if `fin`).
  virtual void written(int64_t stream_id, size_t n, bool fin) = 0;
  /// The stream is flow-control blocked; don't offer it until unblocked(id).
  virtual void blocked(int64_t stream_id) = 0;
  virtual void unblocked(int64_t stream_id) = 0;
  /// The peer acknowledged `len` bytes at `offset` of the stream.
  virtual void acked(int64_t stream_id, uint64_t offset, uint64_t len) = 0;
};

class ApplicationOverQuic {
 public:
  virtual ~ApplicationOverQuic() = default;

  /// Called once, when the handshake has completed, or earlier on 0-RTT keys
  /// (info.early_data): for a client offering 0-RTT (ClientSettings::early_data) as soon as
  /// the connection starts, and what it sends before the handshake completes goes as early
  /// data; for a server as soon as TLS accepts the client's early data, so that it can answer
  /// before the handshake completes (0.5-RTT) and spare the client a round trip. Early data can
  /// be replayed by an attacker who captured it (GnuTLS's anti-replay cache refuses a second
  /// use within one listener): a server acts before Connection::is_established() only on
  /// what is safe to do twice. An error closes the connection with INTERNAL_ERROR... unless
  /// it carries application_category(), whose code is then sent.
  virtual std::error_code on_conn_established(Connection& conn, const HandshakeInfo& info) = 0;

  /// Client that started on 0-RTT keys: the server refused the early data (or TLS could not
  /// offer it after all). Runs as the handshake completes, before process_writes. Every stream
  /// opened so far is gone, with all that was queued on it; none of it reached the server's
  /// application. Stream IDs start again from 0, and anything the application still wants
  /// sent must go again on new streams. The default returns errc::early_data_rejected, which
  /// closes the connection: an application that cannot start over should not use early data.
  virtual std::error_code on_early_data_rejected(Connection& conn) {
    (void)conn;
    return make_error_code(errc::early_data_rejected);
  }

  /// False: this turn only drives the transport (process_reads/process_writes are skipped).
  virtual bool should_act() const { return true; }

  /// Reads what arrived: Connection::next_readable()/stream_recv(), recv_datagram().
  /// Runs in turns where packets arrived. Errors close the connection as above.
  virtual std::error_code process_reads(Connection& conn) = 0;

  /// Queues what to send: stream_send(), send_datagram(), open_*_stream(). Runs every turn
  /// once established. Errors close the connection as above.
  virtual std::error_code process_writes(Connection& conn) = 0;

  /// Called once, before the final CONNECTION_CLOSE is sent (or after the peer's arrived).
  /// `result` is empty for a clean close by either side, else why the connection ended.
  virtual void on_conn_close(Connection& conn, const ConnectionStats& final_stats,
                             std::error_code result) {
    (void)conn, (void)final_stats, (void)result;
  }

  // ----- optional hooks, called while packets are decoded (before process_reads)

  /// Stream bytes as they arrive, in order, without a copy (valid during the call only).
  /// The default buffers them for Connection::stream_recv. An override must call
  /// Connection::consume() for bytes it has processed, or the peer runs out of credit.
  virtual void on_stream_data(Connection& conn, int64_t id, std::span<const uint8_t> data,
                              bool fin);
  /// The peer opened a stream (before its first data is delivered).
  virtual void on_stream_opened(Connection& conn, int64_t id) { (void)conn, (void)id; }
  /// The peer reset a stream it was sending on. The default marks it for stream_recv.
  virtual void on_stream_reset(Connection& conn, int64_t id, uint64_t code);
  /// The peer asked us to stop sending; the transport has already reset our side. With
  /// ngtcp2 0.12 this is noticed at the first send after the peer's STOP_SENDING, and `code`
  /// is 0 (the engine does not report it).
  virtual void on_stop_sending(Connection& conn, int64_t id, uint64_t code) {
    (void)conn, (void)id, (void)code;
  }
  /// Both directions of a stream are finished and its state is gone.
  virtual void on_stream_closed(Connection& conn, int64_t id, uint64_t code) {
    (void)conn, (void)id, (void)code;
  }
  /// A DATAGRAM frame arrived. The default queues it for Connection::recv_datagram.
  virtual void on_datagram(Connection& conn, std::span<const uint8_t> data);

  /// Advanced: a SendSource that feeds stream bytes to the packetizer. nullptr (the default):
  /// the connection's own send buffers (Connection::stream_send) are used.
  virtual SendSource* send_source() { return nullptr; }
};

}  // namespace asioquic
