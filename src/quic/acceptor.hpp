// ConnectionAcceptor: what a server router does with datagrams for unknown connection IDs.
//
//   unsupported version      -> Version Negotiation (for datagrams of at least 1200 bytes)
//   short header             -> stateless reset, rate-limited (token bucket)
//   Initial                  -> checked (size, DCID length); with a Retry token: verified (bad
//                               token -> CONNECTION_CLOSE INVALID_TOKEN); without one and Retry
//                               on -> Retry; accept queue full -> CONNECTION_CLOSE
//                               CONNECTION_REFUSED; otherwise a new IoWorker, queued for accept
//   anything else            -> counted and dropped
// No connection state is allocated for a datagram that fails these checks.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "asioquic/settings.hpp"
#include "engine/reset_token_key.hpp"
#include "engine/retry_token_key.hpp"
#include "quic/cid.hpp"
#include "quic/inbound_packet_router.hpp"
#include "quic/io_worker.hpp"

namespace asioquic::engine {
class TlsContext;
}  // namespace asioquic::engine

namespace asioquic::quic {

class ListenerImpl;

/// Immutable per-listener context; every worker keeps it alive.
struct ServerContext {
  ServerSettings settings;
  std::shared_ptr<const engine::TlsContext> tls;
  std::array<uint8_t, 32> secret{};  // the acceptors derive their token keys from it
};

/// Listener-wide counters (relaxed atomics, read from any thread).
struct ListenerCounters {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_active{0};
  std::atomic<uint64_t> handshakes_in_progress{0};
  std::atomic<uint64_t> backlog_overflows{0};
  std::atomic<uint64_t> refused_by_limits{0};
  std::atomic<uint64_t> retries_under_pressure{0};
  std::atomic<uint64_t> retries_sent{0};
  std::atomic<uint64_t> invalid_tokens{0};
  std::atomic<uint64_t> version_negotiations_sent{0};
  std::atomic<uint64_t> stateless_resets_sent{0};
  std::atomic<uint64_t> packets_dropped{0};
};

class ConnectionAcceptor final : public InboundPacketRouter::Acceptor,
                                 public WorkerObserver,
                                 public std::enable_shared_from_this<ConnectionAcceptor> {
 public:
  ConnectionAcceptor(std::shared_ptr<const ServerContext> ctx,
                     std::shared_ptr<ListenerCounters> counters,
                     std::weak_ptr<ListenerImpl> listener, uint8_t shard_id);

  void on_unknown(InboundPacketRouter& router, const Datagram& d, engine::ParseResult parsed,
                  const engine::HeaderInfo& hdr) override;
  void on_worker_established(IoWorker& w) override;
  void on_worker_done(IoWorker& w) override;

 private:
  void on_initial(InboundPacketRouter& router, const Datagram& d, const engine::HeaderInfo& hdr);
  void send_retry(InboundPacketRouter& router, const Datagram& d, const engine::HeaderInfo& hdr);
  void refuse(InboundPacketRouter& router, const Datagram& d, const engine::HeaderInfo& hdr,
              uint64_t code);
  void reply(InboundPacketRouter& router, const Datagram& d, const uint8_t* pkt, size_t len);
  bool take_reset_token(uint64_t now);
  bool under_pressure(uint64_t now);
  void drop();

  std::shared_ptr<const ServerContext> ctx_;
  std::shared_ptr<ListenerCounters> counters_;
  std::weak_ptr<ListenerImpl> listener_;
  CidGenerator cids_;
  // Derived from ctx_->secret once; shared with the connections this acceptor starts.
  std::shared_ptr<const engine::ResetTokenKey> reset_key_;
  engine::RetryTokenKey retry_key_;  // also derived from ctx_->secret once
  // Stateless reset token bucket, refilled at settings.stateless_reset_rate per second.
  double reset_tokens_;
  uint64_t reset_refill_ns_ = 0;
  // New connections in the current one-second window (for retry_above_rate).
  uint64_t rate_window_ns_ = 0;
  uint64_t rate_count_ = 0;
  // The process's resident memory as last sampled, and when (for retry_above_memory).
  uint64_t memory_bytes_ = 0;
  uint64_t memory_sampled_ns_ = 0;
};

}  // namespace asioquic::quic
