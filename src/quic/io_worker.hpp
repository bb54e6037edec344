// IoWorker: one per connection. Owns the engine connection, its TLS session and its
// ApplicationOverQuic, and runs the connection's turns:
//
//   packets fed to the engine (by the router, as they arrive)
//   -> timers -> process_reads -> process_writes -> packets written in GSO runs and sent
//   -> the one timer re-armed at the engine's next expiry -> wait
//
// Stages: handshake -> running -> closing (our CONNECTION_CLOSE sent; resent to stray packets)
// or draining (the peer closed; silent) -> done (CIDs unmapped, engine freed).
//
// Threading: everything runs on the router's strand. wake(), and the entry points used by the
// public handles (start, close_from_handle, the async waits) may be called from any thread;
// they post to the strand.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include <asio/steady_timer.hpp>

#include "asioquic/application.hpp"
#include "asioquic/connection.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/detail/completion.hpp"
#include "core/fifo.hpp"
#include "engine/quic_conn.hpp"
#include "quic/ack_pacer.hpp"
#include "quic/cid.hpp"
#include "quic/inbound_packet_router.hpp"
#include "quic/stream_table.hpp"

namespace asioquic::quic {

/// What the creator of a worker learns about its life (the listener, or the client connector).
class WorkerObserver {
 public:
  virtual ~WorkerObserver() = default;
  virtual void on_worker_established(IoWorker&) {}
  virtual void on_worker_done(IoWorker&) = 0;
};

class IoWorker final : public detail::WakeTarget,
                       public engine::ConnEvents,
                       public engine::DatagramSource,
                       public std::enable_shared_from_this<IoWorker> {
 public:
  enum class Stage { handshake, running, closing, draining, done };

  struct Config {
    std::shared_ptr<InboundPacketRouter> router;
    std::shared_ptr<WorkerObserver> observer;  // may be null
    std::shared_ptr<const void> keepalive;     // what `params.settings` and the generator live in
    const CidGenerator* cid_generator = nullptr;  // server: issues routable CIDs
    std::vector<Cid> extra_cids;                  // server: client-chosen DCIDs to route here too
    std::shared_ptr<ApplicationOverQuic> app;     // client: attached from the start
  };

  /// Creates the worker and its engine connection and maps its CIDs. Router strand only.
  /// Returns nullptr with ec on failure (see QuicConn::create).
  static std::shared_ptr<IoWorker> create(Config cfg, const engine::ConnParams& params,
                                          std::error_code& ec);
  ~IoWorker() override;

  // ----- router strand
  /// Feeds one datagram to the engine. The router runs a turn after its batch.
  void on_datagram(const Datagram& d);
  /// True if the worker was not already marked dirty (the router then queues it).
  bool set_dirty() noexcept { return !std::exchange(dirty_, true); }
  /// One turn of the loop described above.
  void run_turn() { turn(false); }
  /// The turn after a batch of datagrams: as run_turn, except that when the running
  /// application was handed data, its answer is awaited before anything is written (see
  /// settle_then_turn).
  void run_packet_turn() { turn(true); }
  void on_writable(bool ok);
  Stage stage() const noexcept { return stage_; }
  /// True once the handshake completed (stays true through closing and done).
  bool was_established() const noexcept { return ever_established_; }

  // ----- any thread
  void wake() override;
  void start(std::shared_ptr<ApplicationOverQuic> app);
  void close_from_handle(uint64_t code, std::string reason);
  void wait_handshake(detail::Completion<void(std::error_code)> c);
  void wait_closed(detail::Completion<void(std::error_code, CloseInfo)> c);
  void get_stats(detail::Completion<void(ConnectionStats)> c);
  void migrate(std::optional<asio::ip::address> local, detail::Completion<void(std::error_code)> c);
  /// Client connect: completes with the handle once established, or with the failure.
  void set_connect_waiter(detail::Completion<void(std::error_code, ConnectionHandle)> c);
  asio::any_io_executor executor() const { return router_->executor(); }
  const asio::ip::udp::endpoint& initial_remote() const noexcept { return initial_remote_; }
  const std::string& trace_id() const noexcept { return trace_id_; }
  /// Whether TLS resumed an earlier session; false until the handshake is done.
  bool resumed() const noexcept { return resumed_.load(std::memory_order_relaxed); }
  /// Whether the handshake has completed (from any thread).
  bool handshake_completed() const noexcept {
    return handshake_done_.load(std::memory_order_acquire);
  }
  /// Whether the server accepted this client's 0-RTT data; false until the handshake is done.
  bool early_data_accepted() const noexcept {
    return early_accepted_.load(std::memory_order_relaxed);
  }

  // ----- Connection facade (router strand, inside application callbacks)
  Connection& connection() noexcept { return conn_; }
  engine::QuicConn* engine() noexcept { return qc_.get(); }
  StreamTable& streams() noexcept { return streams_; }
  /// The handshake has completed: from the engine's event on (a request read in the same
  /// datagram as the peer's Finished is no early data), unless the early data was refused and
  /// the application has not been told yet.
  bool established() const noexcept {
    return stage_ == Stage::running ||
           (stage_ == Stage::handshake && handshake_event_ && !early_rejected_);
  }
  const Settings& settings() const noexcept { return *settings_; }
  void request_close(uint64_t code, std::string_view reason);
  const CloseInfo& close_info() const noexcept;
  ConnectionStats stats() const;
  void queue_datagram(std::span<const uint8_t> data, std::error_code& ec);
  bool pop_received_datagram(std::string& out);
  void push_received_datagram(std::span<const uint8_t> data);

 private:
  IoWorker(Config cfg, const Settings& settings);

  // engine::ConnEvents
  void on_handshake_completed() override;
  void on_early_data_rejected() override;
  bool on_stream_data(int64_t id, std::span<const uint8_t> data, bool fin) override;
  void on_stream_opened(int64_t id) override;
  void on_stream_acked(int64_t id, uint64_t offset, uint64_t len) override;
  void on_stream_closed(int64_t id, uint64_t app_code) override;
  void on_stream_reset(int64_t id, uint64_t app_code) override;
  void on_stop_sending(int64_t id, uint64_t app_code) override;
  void on_stream_unblocked(int64_t id) override;
  void on_streams_available() override;
  void on_datagram(std::span<const uint8_t> data) override;
  bool on_new_cid(Cid& cid) override;
  void on_retire_cid(const Cid& cid) override;
  void on_path_validated(bool ok) override;
  // engine::DatagramSource
  std::optional<std::span<const uint8_t>> front() override;
  void pop() override;

  SendSource& source();
  void attach(std::shared_ptr<ApplicationOverQuic> app);
  void become_established();
  void turn(bool after_packets);
  void settle_then_turn(int hops);
  /// Whether the application runs this turn: once established, or early on 0-RTT keys.
  bool app_may_run() const noexcept;
  void run_app();
  /// The streams opened on 0-RTT keys are gone: forget them and let the application start over.
  void restart_app_after_early_rejection();
  /// A close the application asked for waits (bounded) for the server's ticket: see
  /// QuicConn::awaiting_ticket. Returns true while it waits.
  bool hold_close_for_ticket(uint64_t ts);
  void fail_app(std::error_code ec);
  void flush(uint64_t ts);
  bool send_batch(const engine::TxBatch& b);
  void park(const uint8_t* data, size_t len, size_t segment, const net::Address& local,
            const net::Address& remote, uint8_t ecn);
  void handle(engine::QuicConn::Status st);
  void enter_closing();
  void enter_draining();
  void notify_close();
  void finish();
  void arm_timer();
  void on_timer(uint64_t gen, const asio::error_code& ec);
  void schedule_turn();
  void try_migrate(uint64_t ts);

  std::shared_ptr<InboundPacketRouter> router_;
  std::shared_ptr<WorkerObserver> observer_;
  std::shared_ptr<const void> keepalive_;
  const Settings* settings_;
  const CidGenerator* cid_generator_;
  std::unique_ptr<engine::QuicConn> qc_;
  std::shared_ptr<ApplicationOverQuic> app_;
  Connection conn_{*this};
  StreamTable streams_;
  SendSource* app_source_ = nullptr;
  std::vector<Cid> mapped_;
  std::string trace_id_;
  asio::ip::udp::endpoint initial_remote_;

  Stage stage_ = Stage::handshake;
  engine::QuicConn::Status status_ = engine::QuicConn::Status::ok;
  bool dirty_ = false;
  bool got_packets_ = false;
  bool app_fed_ = false;         // the application was handed stream data or a datagram
  bool settle_pending_ = false;  // a settle_then_turn is under way
  AckPacer ack_pacer_;           // writes inside a receive batch (see on_datagram)
  bool handshake_event_ = false;
  bool early_rejected_ = false;  // on_early_data_rejected came; handled in the turn
  bool ever_established_ = false;
  bool app_established_ = false;  // on_conn_established has run
  bool close_requested_ = false;
  bool close_notified_ = false;
  bool resend_close_ = false;
  bool replay_pending_ = false;
  std::atomic<bool> wake_pending_{false};
  std::atomic<bool> resumed_{false};         // set once, when the handshake completes
  std::atomic<bool> early_accepted_{false};  // likewise
  std::atomic<bool> handshake_done_{false};  // set after the two above
  uint64_t started_ns_ = 0;
  uint64_t handshake_ns_ = 0;
  uint64_t stage_deadline_ = UINT64_MAX;
  uint64_t close_hold_until_ = UINT64_MAX;  // see hold_close_for_ticket

  // Timer: one steady_timer, re-armed only when the deadline moves earlier; a wait that fires
  // before the (later) wanted time re-arms itself.
  asio::steady_timer timer_;
  bool timer_armed_ = false;
  bool timer_due_ = false;
  uint64_t timer_at_ = UINT64_MAX;
  uint64_t timer_want_ = UINT64_MAX;
  uint64_t timer_gen_ = 0;

  // Sending blocked by a full socket buffer: the unsent rest of a batch.
  struct Parked {
    std::vector<uint8_t> bytes;
    size_t segment = 0;
    net::Address local, remote;
    uint8_t ecn = 0;
  };
  std::vector<Parked> parked_;
  std::vector<uint8_t> close_packet_;
  net::Address close_local_, close_remote_;

  // Datagrams (RFC 9221).
  asioquic::detail::Fifo<std::vector<uint8_t>> dgram_out_;
  asioquic::detail::Fifo<std::vector<uint8_t>> dgram_in_;
  std::vector<std::vector<uint8_t>> dgram_spare_;

  // Counters the engine does not keep.
  uint64_t bytes_sent_ = 0, bytes_received_ = 0, packets_sent_ = 0, packets_received_ = 0;
  ConnectionStats final_stats_;
  CloseInfo final_close_;

  std::vector<detail::Completion<void(std::error_code)>> handshake_waiters_;
  std::vector<detail::Completion<void(std::error_code, CloseInfo)>> closed_waiters_;
  detail::Completion<void(std::error_code, ConnectionHandle)> connect_waiter_;
  detail::Completion<void(std::error_code)> migrate_waiter_;
  // A migration asked for before the engine could start it (handshake not confirmed yet, or
  // no spare CID from the peer yet): retried each turn until `deadline`.
  std::unique_ptr<net::UdpSocket> migrate_socket_;
  uint64_t migrate_deadline_ = 0;
};

}  // namespace asioquic::quic
