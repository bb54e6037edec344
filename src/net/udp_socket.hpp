// UdpSocket: batched, offloaded UDP I/O on an Asio socket.
//
// Asio's async_receive_from cannot see control messages (GRO segment size, ECN, destination
// address), so the socket is driven by readiness: async_wait() for readable/writable, then
// non-blocking recvmmsg/sendmsg until EAGAIN. Capabilities are probed once at creation and
// each one falls back on its own: GSO -> sendmmsg, GRO -> one datagram per message,
// PKTINFO -> the bound address, ECN -> not-ECT.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <system_error>

#include <asio/ip/udp.hpp>

namespace asioquic::net {

/// A socket address in the form the kernel and the engine both take.
struct Address {
  sockaddr_storage storage{};
  socklen_t len = 0;

  const sockaddr* sa() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  sockaddr* sa() noexcept { return reinterpret_cast<sockaddr*>(&storage); }
  int family() const noexcept { return storage.ss_family; }
  uint16_t port() const noexcept;
  void set_port(uint16_t port) noexcept;
  static Address from(const asio::ip::udp::endpoint& ep) noexcept;
  asio::ip::udp::endpoint endpoint() const;
  bool operator==(const Address& o) const noexcept;
};

struct Capabilities {
  bool gso = false;      // UDP_SEGMENT on send
  bool gro = false;      // UDP_GRO on receive
  bool pktinfo = false;  // destination address on receive, source address on send (the kernel
                         // has it; it is in use only while the socket's address is a wildcard)
  bool ecn = false;      // TOS/TCLASS on receive and send
};

struct SocketOptions {
  int buffer_size = 8 << 20;
  bool enable_gso = true;
  bool enable_gro = true;
  /// SO_REUSEPORT before bind: the socket joins the group of sockets bound to the same address
  /// with it (a sharded listener's; see reuseport_steering.hpp).
  bool reuse_port = false;
};

/// One received UDP message; with GRO it holds several datagrams of `segment_size` bytes each
/// (the last may be shorter). The bytes live in the receive buffers until the next receive().
struct RecvMessage {
  uint8_t* data = nullptr;
  size_t len = 0;
  size_t segment_size = 0;
  Address remote;
  Address local;
  uint8_t ecn = 0;
};

/// A run of datagrams to one destination: `len` bytes of back-to-back segments of
/// `segment_size` bytes (the last may be shorter), sent with one GSO sendmsg when possible.
struct SendBatch {
  const uint8_t* data = nullptr;
  size_t len = 0;
  size_t segment_size = 0;
  const Address* remote = nullptr;
  const Address* local = nullptr;  // source address for PKTINFO; nullptr: the kernel picks
  uint8_t ecn = 0;
};

class UdpSocket {
 public:
  /// Most segments in one GSO send (older kernels cap it at 64) and most bytes.
  static constexpr size_t kMaxGsoSegments = 64;
  static constexpr size_t kMaxGsoBytes = 64000;
  /// Messages taken per recvmmsg, and bytes per message (a whole GRO run).
  static constexpr size_t kRecvBatch = 16;
  static constexpr size_t kRecvBufferSize = 65536;

  /// Opens a socket bound to `ep` and applies `opts`. Errors: errc::address_in_use, or the
  /// system error of socket()/setsockopt(SO_REUSEPORT)/bind().
  UdpSocket(const asio::any_io_executor& ex, const asio::ip::udp::endpoint& ep,
            const SocketOptions& opts, std::error_code& ec);
  /// Adopts an already bound socket (made non-blocking here) and applies `opts`.
  UdpSocket(asio::ip::udp::socket&& sock, const SocketOptions& opts, std::error_code& ec);
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  /// Connects the socket to `remote` (a client's socket talks to one server): the kernel picks
  /// the source address, which becomes local_address(), and drops datagrams from elsewhere.
  /// PKTINFO is switched off then: every datagram's destination is local_address().
  void connect(const Address& remote, std::error_code& ec);

  const Capabilities& capabilities() const noexcept { return caps_; }
  const Address& local_address() const noexcept { return local_; }
  asio::ip::udp::socket& socket() noexcept { return sock_; }

  /// Receives up to out.size() messages without blocking into this thread's receive buffers
  /// (valid until the next receive() on this thread). Returns the count; 0 with no error when
  /// nothing is pending; a hard socket error in ec.
  size_t receive(std::span<RecvMessage> out, std::error_code& ec);

  /// Sends a batch without blocking. Returns how many bytes (whole segments) went out; fewer
  /// than batch.len means the socket buffer is full — wait for writability and send the rest.
  /// A datagram the kernel rejects for itself (e.g. EMSGSIZE, unreachable) is skipped, not
  /// retried; ec carries other hard errors.
  size_t send(const SendBatch& batch, std::error_code& ec);

  /// Counters, for stats and tests.
  struct Counters {
    uint64_t send_calls = 0;
    uint64_t recv_calls = 0;
    uint64_t datagrams_dropped_by_kernel = 0;  // SO_RXQ_OVFL
    uint64_t send_errors = 0;
  };
  const Counters& counters() const noexcept { return counters_; }

  void close() noexcept;

 private:
  void configure(const SocketOptions& opts, std::error_code& ec);
  /// Asks the kernel for each received datagram's destination address, or no longer. Returns
  /// false where the kernel lacks the option.
  bool receive_pktinfo(bool on);
  /// One sendmsg: a GSO run (UDP_SEGMENT) when `gso`, else a single datagram.
  size_t send_one(const SendBatch& b, bool gso, std::error_code& ec);
  size_t send_mmsg(const SendBatch& b, std::error_code& ec);

  asio::ip::udp::socket sock_;
  Capabilities caps_;
  Address local_;
  bool local_is_wildcard_ = false;
  Counters counters_;
};

}  // namespace asioquic::net
