// ListenerImpl: the state behind a Listener — its routers (one per socket; a sharded listener
// has a socket per endpoint and shard), their acceptors, and the accept queue that hands new
// connections to async_accept.
//
// Lifetime: the public Listener holds it; workers do not (their acceptor holds a weak
// reference), so dropping the last Listener closes it. Routers outlive it while connections run.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "asioquic/listener.hpp"
#include "quic/acceptor.hpp"
#include "quic/inbound_packet_router.hpp"

namespace asioquic::quic {

class ListenerImpl : public std::enable_shared_from_this<ListenerImpl> {
 public:
  using AcceptCompletion = detail::Completion<void(std::error_code, IncomingConnection)>;

  ListenerImpl(asio::any_io_executor ex, std::shared_ptr<const ServerContext> ctx);
  ~ListenerImpl();

  /// A bound socket, the executor its router runs on and the shard id its connection IDs
  /// carry (cid.hpp).
  struct RoutedSocket {
    std::unique_ptr<net::UdpSocket> socket;
    asio::any_io_executor executor;
    uint8_t shard = 0;
  };
  /// Starts a router and acceptor per socket. local_endpoints() lists each bound address once
  /// (in order), however many shards share it.
  void open(std::vector<RoutedSocket> sockets);

  // Thread-safe.
  void accept(AcceptCompletion c);
  void close();
  bool accepting() const;
  /// Connections created and not yet taken by async_accept.
  size_t pending() const;
  /// Hands `w` to the on_connection function if one is set, else queues it for accept().
  void enqueue(std::shared_ptr<IoWorker> w);
  void set_on_connection(std::function<void(IncomingConnection)> fn);
  void forget(IoWorker& w);
  ListenerStats stats() const;
  std::vector<asio::ip::udp::endpoint> local_endpoints() const { return endpoints_; }
  /// For tests and fuzzers that feed datagrams to a router directly.
  const std::vector<std::shared_ptr<InboundPacketRouter>>& routers() const { return routers_; }
  const asio::any_io_executor& executor() const noexcept { return ex_; }

 private:
  asio::any_io_executor ex_;
  std::shared_ptr<const ServerContext> ctx_;
  std::shared_ptr<ListenerCounters> counters_ = std::make_shared<ListenerCounters>();
  std::vector<std::shared_ptr<InboundPacketRouter>> routers_;
  std::vector<std::shared_ptr<ConnectionAcceptor>> acceptors_;
  std::vector<asio::ip::udp::endpoint> endpoints_;

  mutable std::mutex m_;
  bool closed_ = false;
  std::deque<std::shared_ptr<IoWorker>> queue_;
  std::deque<AcceptCompletion> waiters_;
  // Shared so that enqueue() can call it outside the lock while another thread replaces it.
  std::shared_ptr<const std::function<void(IncomingConnection)>> on_connection_;
};

}  // namespace asioquic::quic
