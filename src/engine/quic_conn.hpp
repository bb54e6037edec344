// QuicConn: one QUIC connection of the engine (ngtcp2 + GnuTLS), behind an interface that speaks
// our types. This file and its .cpp are the only ones that call ngtcp2's connection API (with
// packet_keys.cpp, which installs keys), so a port to ngtcp2 1.x touches the engine folder alone.
//
// Threading: a QuicConn is used by one thread at a time (its IoWorker's executor). Events are
// delivered synchronously from inside read()/write()/handle_expiry().
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <unordered_set>

#include "asioquic/application.hpp"
#include "asioquic/connection.hpp"
#include "asioquic/settings.hpp"
#include "engine/packet.hpp"
#include "engine/peer_stream_credit.hpp"
#include "net/udp_socket.hpp"
#include "quic/cid.hpp"

struct ngtcp2_conn;

namespace asioquic::engine {

class TlsContext;
struct TlsConnRef;

/// The engine's events, implemented by the IoWorker.
class ConnEvents {
 public:
  virtual ~ConnEvents() = default;
  virtual void on_handshake_completed() = 0;
  /// Client: the early data offered was not accepted (the server refused it, or TLS did not
  /// offer it after all). Reported from inside the handshake's completion, before it: every
  /// stream the connection had opened is gone from the engine, and none of it reached the
  /// server's application; stream IDs start again from 0.
  virtual void on_early_data_rejected() = 0;
  /// In-order stream bytes (valid during the call). Return false to fail the connection.
  virtual bool on_stream_data(int64_t id, std::span<const uint8_t> data, bool fin) = 0;
  virtual void on_stream_opened(int64_t id) = 0;
  virtual void on_stream_acked(int64_t id, uint64_t offset, uint64_t len) = 0;
  virtual void on_stream_closed(int64_t id, uint64_t app_code) = 0;
  virtual void on_stream_reset(int64_t id, uint64_t app_code) = 0;
  /// The peer sent STOP_SENDING (ngtcp2 0.12 does not report the code: 0 is passed). Seen
  /// when the engine refuses the stream's next data, so at the first send after it (a stream
  /// held by flow control is offered again whenever packets arrive: reoffer_flow_blocked).
  virtual void on_stop_sending(int64_t id, uint64_t app_code) = 0;
  /// The peer raised a stream's flow-control limit.
  virtual void on_stream_unblocked(int64_t id) = 0;
  /// The peer raised our stream-count limit.
  virtual void on_streams_available() = 0;
  virtual void on_datagram(std::span<const uint8_t> data) = 0;
  /// The engine wants a new connection ID to issue; fill `cid` (and map it for routing).
  /// Return false if none can be made.
  virtual bool on_new_cid(quic::Cid& cid) = 0;
  /// The engine retired one of our connection IDs; unmap it.
  virtual void on_retire_cid(const quic::Cid& cid) = 0;
  /// A path validation finished (after our migration, or the peer's address change).
  virtual void on_path_validated(bool ok) = 0;
};

/// Datagrams waiting to be sent, as the packetizer sees them.
class DatagramSource {
 public:
  virtual ~DatagramSource() = default;
  /// The oldest datagram, or an empty optional.
  virtual std::optional<std::span<const uint8_t>> front() = 0;
  /// Drops the oldest datagram (sent, or too large to ever send).
  virtual void pop() = 0;
};

/// Packets written by one QuicConn::write() call: a run of equal-size datagrams for one GSO send,
/// optionally followed by one datagram that could not join it (another path, ECN or size).
struct TxBatch {
  uint8_t* buf = nullptr;
  size_t cap = 0;
  size_t len = 0;      // bytes of the run
  size_t segment = 0;  // size of each datagram of the run (the last may be shorter)
  size_t count = 0;    // datagrams in the run
  net::Address local, remote;
  uint8_t ecn = 0;
  size_t extra_len = 0;  // the odd datagram, at buf + len
  net::Address extra_local, extra_remote;
  uint8_t extra_ecn = 0;
  bool drained = false;  // the engine had nothing more to write (or was held back): stop asking
};

struct ConnParams {
  const Settings* settings = nullptr;
  bool server = false;
  net::Address local, remote;
  quic::Cid dcid;                       // server: the client's SCID; client: a random initial DCID
  quic::Cid scid;                       // our first CID
  quic::Cid odcid;                      // server: the client's original DCID
  std::optional<quic::Cid> retry_scid;  // server: set when the client returned a Retry token
  std::span<const uint8_t> token;       // server: the validated token
  uint32_t version = kQuicV1;
  std::shared_ptr<const ResetTokenKey> reset_key;  // server: null = random tokens
  std::shared_ptr<const TlsContext> tls;
  std::string verify_host;                // client: name or IP the certificate must match
  SessionStore* session_store = nullptr;  // client: tickets to resume with (outlives the conn)
  std::string session_key;                // client: this server's key in session_store
  bool early_data = false;  // client: 0-RTT when the stored ticket allows it (needs the store)
  uint64_t initial_ts = 0;
};

class QuicConn {
 public:
  enum class Status {
    ok,
    closing,   // fatal local error or local close: send write_close() and enter closing
    draining,  // the peer closed (or reset) the connection: stay silent for a while
    dropped,   // discard the connection without sending anything
  };

  /// Creates the engine connection and its TLS session. Errors: errc::internal (engine or
  /// GnuTLS failure), errc::invalid_argument.
  static std::unique_ptr<QuicConn> create(const ConnParams& p, ConnEvents& events,
                                          std::error_code& ec);
  ~QuicConn();
  QuicConn(const QuicConn&) = delete;
  QuicConn& operator=(const QuicConn&) = delete;

  /// Decrypts and processes one QUIC packet (datagrams may hold several coalesced packets).
  Status read(const net::Address& local, const net::Address& remote, uint8_t ecn,
              std::span<const uint8_t> pkt, uint64_t ts);
  /// Runs the engine's timers if due.
  Status handle_expiry(uint64_t ts);
  /// When handle_expiry() must run next (UINT64_MAX: never).
  uint64_t expiry() const noexcept;

  /// Offers `src` once more every stream the engine refused for lack of flow-control credit
  /// since the last call. Call after feeding received packets: ngtcp2 0.12 has no callback for
  /// a peer's STOP_SENDING and reveals it only when the stream is written to, so a stream
  /// waiting for credit (which a peer that stopped reading never gives) would otherwise never
  /// learn it.
  void reoffer_flow_blocked(SendSource& src);

  /// Writes packets into `b` (reset first): stream data from `src`, datagrams from `dgrams`,
  /// and whatever the engine itself must send (ACKs, handshake, retransmissions).
  /// `max_segments` bounds the run. Returns ok (b may be empty: nothing to send or congestion
  /// limited) or closing.
  Status write(TxBatch& b, SendSource& src, DatagramSource& dgrams, size_t max_segments,
               uint64_t ts);

  /// Records an application close to send with write_close().
  void set_app_close(uint64_t code, std::string_view reason);
  /// Writes the CONNECTION_CLOSE packet for the recorded close (application, or the error that
  /// made a call return closing). Returns its length; 0 if nothing may be sent.
  size_t write_close(TxBatch& b, uint64_t ts);
  /// Three PTOs: how long the closing and draining periods last (RFC 9000 §10.2).
  uint64_t closing_period_ns() const noexcept;
  /// How the connection ended (filled once read/write/handle_expiry/set_app_close decided).
  const CloseInfo& close_info() const noexcept { return close_; }

  bool is_server() const noexcept { return server_; }
  bool handshake_completed() const noexcept;
  /// The negotiated protocol; for a client offering 0-RTT, before the handshake completes, the
  /// one of the session it resumes (early data must use it, RFC 8446 §4.2.10).
  std::string alpn() const;
  /// Whether TLS resumed an earlier session (tls_context.hpp).
  bool resumed() const;
  /// Client: whether this connection offers 0-RTT: ConnParams::early_data, and the stored
  /// entry's ticket allows it with one of our protocols. Streams may then be opened and
  /// written before the handshake completes; decided at create().
  bool early_data_offered() const noexcept { return early_offered_; }
  /// Client, once the handshake completed: whether the server accepted the early data.
  /// Server: whether TLS accepted the client's early data (its 0-RTT key is installed, which
  /// happens while the ClientHello is read).
  bool early_data_accepted() const noexcept;
  /// Client that offered 0-RTT, handshake completed, no new ticket stored yet. Its answers
  /// can come before the server's ticket (sent once the server has our Finished), so a
  /// connection closed as soon as they are in would leave the next one without resumption.
  bool awaiting_ticket() const noexcept;
  std::string trace_id() const { return odcid_.hex(); }
  const quic::Cid& original_dcid() const noexcept { return odcid_; }
  /// Our connection IDs currently in use (to unmap at the end).
  std::vector<quic::Cid> scids() const;
  /// The current path's addresses.
  net::Address local_address() const;
  net::Address remote_address() const;

  // ----- streams
  /// Opens a stream; errc::stream_limit when the peer's limit is reached.
  int64_t open_stream(bool bidi, std::error_code& ec);
  uint64_t streams_left(bool bidi) const noexcept;
  /// Grants the peer `n` more bytes on the stream and the connection.
  void extend_stream_offset(int64_t id, size_t n);
  /// RESET_STREAM / STOP_SENDING. Errors: errc::stream_not_found.
  void shutdown_write(int64_t id, uint64_t code, std::error_code& ec);
  void shutdown_read(int64_t id, uint64_t code, std::error_code& ec);
  bool is_local_stream(int64_t id) const noexcept;

  /// Largest datagram payload the peer accepts (0: none).
  size_t max_datagram_size() const noexcept;

  /// Engine-side statistics (RTT, congestion, losses); the worker adds its own counters.
  void fill_stats(ConnectionStats& s) const;
  /// The engine's smoothed RTT in nanoseconds (its initial RTT until the first sample).
  uint64_t smoothed_rtt_ns() const;

  /// Client migration: moves to a new local address (immediate migration; the new path is
  /// validated, see ConnEvents::on_path_validated). Returns false without error while it cannot
  /// start yet (handshake not confirmed, or no spare connection ID from the peer yet); errors:
  /// errc::invalid_argument (the engine refuses, e.g. the same address).
  bool migrate(const net::Address& new_local, uint64_t ts, std::error_code& ec);

  ngtcp2_conn* native() noexcept { return conn_; }

 private:
  struct Callbacks;
  friend struct Callbacks;

  QuicConn(ConnEvents& ev, bool server);
  Status on_engine_error(int liberr);
  /// A server's TLS session is done once its handshake completes, which confirms it for a
  /// server (RFC 9001 §4.1.2). It first issues the connection's one session ticket, which the
  /// engine's crypto stream copies and sends with HANDSHAKE_DONE; freed then, the session no
  /// longer weighs on every idle or draining connection. The ALPN is kept.
  void release_tls_session();
  void classify_peer_close();
  /// Client, at the handshake's completion: records whether the server accepted the early
  /// data, and if not, discards the engine's early stream state. Returns false on failure.
  bool settle_early_data();
  /// Client with a session store: takes the stored entry and prepares the TLS session
  /// (ticket, 0-RTT). Returns the session, or nullptr with `ec` set.
  void* client_session(const ConnParams& p, std::error_code& ec);
  /// Fills one batch; returns true if it ended because the engine had nothing more to write
  /// (or was held back by congestion control or pacing).
  bool write_packets(TxBatch& b, SendSource& src, DatagramSource& dgrams, size_t max_segments,
                     uint64_t ts, Status& st);
  /// Whether the engine has taken an RTT sample (asked until it has).
  bool rtt_sampled();

  ConnEvents& events_;
  bool server_;
  ngtcp2_conn* conn_ = nullptr;
  void* tls_session_ = nullptr;  // gnutls_session_t; a server's is freed once complete
  std::string alpn_;             // kept when the session is freed
  bool resumed_ = false;         // kept when the session is freed
  bool early_offered_ = false;   // client: see early_data_offered()
  bool early_accepted_ = false;
  std::string session_key_;               // what conn_ref_->session_key points to
  std::unique_ptr<TlsConnRef> conn_ref_;  // what the TLS session points to
  std::shared_ptr<const TlsContext> tls_;
  quic::Cid odcid_;
  std::shared_ptr<const ResetTokenKey> reset_key_;
  std::FILE* qlog_ = nullptr;

  // Close bookkeeping.
  CloseInfo close_;
  int last_liberr_ = 0;
  bool got_stateless_reset_ = false;
  bool confirmed_ = false;  // handshake confirmed (RFC 9001 §4.1.2); ngtcp2 0.12 tells clients only
  bool app_close_set_ = false;
  uint64_t app_close_code_ = 0;
  std::string app_close_reason_;

  std::array<PeerStreamCredit, 2> peer_credit_;  // bidi, uni

  // Statistics the engine does not keep in 0.12.
  std::unordered_set<int64_t> open_streams_;
  std::vector<int64_t> stopped_by_peer_;  // found during write(), reported after it
  std::vector<int64_t> flow_blocked_;     // refused for flow control (reoffer_flow_blocked)
  uint64_t lost_on_closed_streams_ = 0;
  uint64_t datagrams_lost_ = 0;
  uint64_t next_dgram_id_ = 0;
  uint64_t bytes_written_ = 0;  // UDP payload written, against kProbeAfterBytes
  bool rtt_sampled_ = false;
};

}  // namespace asioquic::engine
