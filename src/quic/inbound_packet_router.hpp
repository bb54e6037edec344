// InboundPacketRouter: the only reader of one UDP socket.
//
// It drains a receive batch (recvmmsg, with GRO runs split into datagrams), parses each
// datagram's destination connection ID and hands it to the IoWorker that owns the CID — a direct
// call that feeds the engine from the receive buffer, no copy and no queue. Workers that got
// packets are marked dirty; after the batch each runs one turn (and so ACKs once per batch).
// Datagrams for unknown CIDs go to the Acceptor (server) or are counted and dropped (client).
//
// Everything runs on the router's strand: the CID map, the workers' turns and their sends.
// Lifetime: shared; the pending receive wait and every worker hold a reference. stop() closes
// the socket once no worker is left.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>

#include "engine/packet.hpp"
#include "net/udp_socket.hpp"
#include "quic/cid.hpp"

namespace asioquic::quic {

class IoWorker;

/// One datagram as handed to workers and the acceptor; valid during the call only.
struct Datagram {
  std::span<const uint8_t> data;
  const net::Address* local = nullptr;
  const net::Address* remote = nullptr;
  uint8_t ecn = 0;
  uint64_t ts = 0;
};

/// Counters shared with the listener's stats (relaxed atomics: read from any thread).
struct RouterCounters {
  std::atomic<uint64_t> datagrams_received{0};
  std::atomic<uint64_t> packets_dropped{0};
};

class InboundPacketRouter : public std::enable_shared_from_this<InboundPacketRouter> {
 public:
  /// The router's strand, type-erased: everything of the router and its workers runs on it.
  using Executor = asio::any_io_executor;

  /// Returns a new strand over `ex`. Over an io_context's own executor (the usual case) the
  /// strand is small enough for any_io_executor to hold in place, so copying it, posting to it
  /// and co_spawn on it allocate nothing; over any other executor it is a strand over the
  /// type-erased one, which allocates on each of those. An io_context made with
  /// ASIO_CONCURRENCY_HINT_UNSAFE or ASIO_CONCURRENCY_HINT_UNSAFE_IO is run by one thread at a
  /// time (Asio's condition for those hints), so its own executor is returned: no strand, whose
  /// copies cost an atomic reference count each and whose posts take a lock.
  static Executor make_strand(const asio::any_io_executor& ex);

  /// Handles datagrams whose DCID is not mapped.
  class Acceptor {
   public:
    virtual ~Acceptor() = default;
    virtual void on_unknown(InboundPacketRouter& router, const Datagram& d,
                            engine::ParseResult parsed, const engine::HeaderInfo& hdr) = 0;
  };

  InboundPacketRouter(Executor ex, std::unique_ptr<net::UdpSocket> sock, size_t short_dcid_len);
  ~InboundPacketRouter();

  /// Starts reading. `acceptor` (may be null) must stay valid until stop_accepting().
  void start(Acceptor* acceptor);
  /// Unknown DCIDs are dropped from now on; when no worker is left the socket closes.
  void stop_accepting();
  /// Client mode: every datagram goes to this worker, whatever its DCID.
  void set_default_worker(IoWorker* w) { default_worker_ = w; }

  // ----- CID map (router strand only)
  void map(const Cid& cid, IoWorker* w);
  void unmap(const Cid& cid);
  size_t mapped() const noexcept { return map_.size(); }

  // ----- workers (router strand only)
  void add(std::shared_ptr<IoWorker> w);
  void remove(IoWorker* w);
  size_t workers() const noexcept { return workers_.size(); }
  /// Queues a worker's turn for the end of the current receive batch.
  void mark_dirty(IoWorker& w);

  // ----- sending (router strand only)
  /// Sends without blocking; returns bytes sent (whole datagrams). Fewer than batch.len: the
  /// socket is full, call wait_writable().
  size_t send(const net::SendBatch& b);
  /// Calls w->on_writable() once the socket can take more.
  void wait_writable(std::shared_ptr<IoWorker> w);
  /// Scratch space for one TxBatch: one GSO run plus one odd datagram.
  uint8_t* tx_buffer() noexcept;
  static constexpr size_t kTxBufferSize = net::UdpSocket::kMaxGsoBytes + 2 * 65536;

  /// Client migration: sends from `s` from now on; the previous socket is still read for a
  /// while (packets in flight on the old path), then closed.
  void adopt_socket(std::unique_ptr<net::UdpSocket> s);

  /// Routes one datagram as if it had just been received, then runs the turns it caused. For
  /// tests and fuzzers; the receive loop uses the same path.
  void inject(const Datagram& d);

  const Executor& executor() const noexcept { return ex_; }
  net::UdpSocket& socket() noexcept { return *sock_; }
  const RouterCounters& counters() const noexcept { return counters_; }

 private:
  void wait_readable(const std::shared_ptr<net::UdpSocket>& s);
  void on_readable(net::UdpSocket& s);
  void dispatch(const net::RecvMessage& m, uint64_t ts);
  void route(const Datagram& d);
  void run_dirty();
  void maybe_close();

  Executor ex_;
  std::shared_ptr<net::UdpSocket> sock_;     // where we send from, and read
  std::shared_ptr<net::UdpSocket> retired_;  // read until it times out, after a migration
  std::unique_ptr<asio::steady_timer> retire_timer_;
  size_t short_dcid_len_;
  Acceptor* acceptor_ = nullptr;
  bool accepting_ = false;
  IoWorker* default_worker_ = nullptr;
  std::unordered_map<Cid, IoWorker*, CidHash> map_;
  std::unordered_map<IoWorker*, std::shared_ptr<IoWorker>> workers_;
  std::vector<std::shared_ptr<IoWorker>> dirty_;
  std::vector<std::shared_ptr<IoWorker>> write_waiters_;
  bool waiting_writable_ = false;
  bool closed_ = false;
  RouterCounters counters_;
};

}  // namespace asioquic::quic
