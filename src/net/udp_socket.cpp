#include "net/udp_socket.hpp"

#include <arpa/inet.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

#include "asioquic/error.hpp"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace asioquic::net {

// ---------------------------------------------------------------- Address

uint16_t Address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

void Address::set_port(uint16_t p) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in*>(&storage)->sin_port = htons(p);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port = htons(p);
}

Address Address::from(const asio::ip::udp::endpoint& ep) noexcept {
  Address a;
  a.len = static_cast<socklen_t>(ep.size());
  std::memcpy(&a.storage, ep.data(), ep.size());
  return a;
}

asio::ip::udp::endpoint Address::endpoint() const {
  asio::ip::udp::endpoint ep;
  std::memcpy(ep.data(), &storage, len);
  ep.resize(len);
  return ep;
}

bool Address::operator==(const Address& o) const noexcept {
  if (family() != o.family()) return false;
  if (family() == AF_INET) {
    auto* a = reinterpret_cast<const sockaddr_in*>(&storage);
    auto* b = reinterpret_cast<const sockaddr_in*>(&o.storage);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (family() == AF_INET6) {
    auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    auto* b = reinterpret_cast<const sockaddr_in6*>(&o.storage);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(in6_addr)) == 0 &&
           a->sin6_scope_id == b->sin6_scope_id;
  }
  return false;
}

// ---------------------------------------------------------------- UdpSocket

namespace {

bool set_int(int fd, int level, int opt, int value) {
  return ::setsockopt(fd, level, opt, &value, sizeof(value)) == 0;
}

bool is_wildcard(const Address& a) {
  if (a.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&a.storage)->sin_addr.s_addr == INADDR_ANY;
  }
  auto* s6 = reinterpret_cast<const sockaddr_in6*>(&a.storage);
  return IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr);
}

std::error_code last_error() {
  return {errno, std::system_category()};
}

// Receive buffers are per thread: a router consumes a batch completely (feeding each datagram to
// its engine) before it receives again, so one set serves every socket run by this thread.
struct RecvArea {
  std::array<mmsghdr, UdpSocket::kRecvBatch> hdrs{};
  std::array<iovec, UdpSocket::kRecvBatch> iov{};
  std::array<sockaddr_storage, UdpSocket::kRecvBatch> names{};
  alignas(cmsghdr) std::array<std::array<uint8_t, 128>, UdpSocket::kRecvBatch> control{};
  std::unique_ptr<uint8_t[]> data{new uint8_t[UdpSocket::kRecvBatch * UdpSocket::kRecvBufferSize]};
};

RecvArea& recv_area() {
  thread_local RecvArea area;
  return area;
}

// Errors that concern one datagram (its destination or size), after which the socket is fine.
bool is_per_datagram_error(int e) {
  return e == EMSGSIZE || e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH ||
         e == EACCES || e == EPERM || e == EINVAL || e == EADDRNOTAVAIL || e == ENETDOWN;
}

}  // namespace

UdpSocket::UdpSocket(const asio::any_io_executor& ex, const asio::ip::udp::endpoint& ep,
                     const SocketOptions& opts, std::error_code& ec)
    : sock_(ex) {
  asio::error_code aec;
  sock_.open(ep.protocol(), aec);
  if (!aec && ep.address().is_v6()) sock_.set_option(asio::ip::v6_only(true), aec);
  if (!aec && opts.reuse_port) {
    const int one = 1;
    if (::setsockopt(sock_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
      aec = asio::error_code(errno, asio::error::get_system_category());
    }
  }
  if (!aec) sock_.bind(ep, aec);
  if (aec) {
    ec = aec == asio::error::address_in_use ? make_error_code(errc::address_in_use)
                                            : std::error_code(aec.value(), std::system_category());
    return;
  }
  configure(opts, ec);
}

UdpSocket::UdpSocket(asio::ip::udp::socket&& sock, const SocketOptions& opts, std::error_code& ec)
    : sock_(std::move(sock)) {
  if (!sock_.is_open()) {
    ec = make_error_code(errc::invalid_argument);
    return;
  }
  configure(opts, ec);
}

void UdpSocket::configure(const SocketOptions& opts, std::error_code& ec) {
  asio::error_code aec;
  sock_.non_blocking(true, aec);
  if (aec) {
    ec = std::error_code(aec.value(), std::system_category());
    return;
  }
  const int fd = sock_.native_handle();
  local_.len = sizeof(local_.storage);
  if (::getsockname(fd, local_.sa(), &local_.len) != 0) {
    ec = last_error();
    return;
  }
  local_is_wildcard_ = is_wildcard(local_);
  const bool v6 = local_.family() == AF_INET6;

  if (opts.buffer_size > 0) {
    // As root the FORCE variants lift net.core.{r,w}mem_max; otherwise the plain ones apply.
    if (!set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, opts.buffer_size)) {
      set_int(fd, SOL_SOCKET, SO_RCVBUF, opts.buffer_size);
    }
    if (!set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, opts.buffer_size)) {
      set_int(fd, SOL_SOCKET, SO_SNDBUF, opts.buffer_size);
    }
  }
  set_int(fd, SOL_SOCKET, SO_RXQ_OVFL, 1);

  // QUIC does its own path MTU discovery (RFC 9000 §14.3): set DF and never fragment.
  if (v6) {
    set_int(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_PROBE);
  } else {
    set_int(fd, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
  }

  if (opts.enable_gso) {
    // Probe: setting a segment size succeeds only where the kernel supports UDP GSO. The
    // per-call cmsg is what is used; reset the socket default to 0 afterwards.
    caps_.gso = set_int(fd, SOL_UDP, UDP_SEGMENT, 1200) && set_int(fd, SOL_UDP, UDP_SEGMENT, 0);
  }
  if (opts.enable_gro) caps_.gro = set_int(fd, SOL_UDP, UDP_GRO, 1);

  if (v6) {
    caps_.ecn = set_int(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1);
  } else {
    caps_.ecn = set_int(fd, IPPROTO_IP, IP_RECVTOS, 1);
  }
  // Only a wildcard socket needs each datagram's destination; one bound (or later connected)
  // to an address would be handed that address in a control message with every datagram.
  // Setting the option at all, on or off, succeeds only where the kernel has it.
  caps_.pktinfo = receive_pktinfo(local_is_wildcard_);
}

bool UdpSocket::receive_pktinfo(bool on) {
  const int fd = sock_.native_handle();
  return local_.family() == AF_INET6 ? set_int(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, on)
                                     : set_int(fd, IPPROTO_IP, IP_PKTINFO, on);
}

void UdpSocket::connect(const Address& remote, std::error_code& ec) {
  if (::connect(sock_.native_handle(), remote.sa(), remote.len) != 0) {
    ec = last_error();
    return;
  }
  local_.len = sizeof(local_.storage);
  if (::getsockname(sock_.native_handle(), local_.sa(), &local_.len) != 0) {
    ec = last_error();
    return;
  }
  local_is_wildcard_ = is_wildcard(local_);
  if (caps_.pktinfo && !local_is_wildcard_) receive_pktinfo(false);
}

size_t UdpSocket::receive(std::span<RecvMessage> out, std::error_code& ec) {
  RecvArea& a = recv_area();
  const size_t n_want = std::min(out.size(), kRecvBatch);
  for (size_t i = 0; i < n_want; ++i) {
    a.iov[i] = {a.data.get() + i * kRecvBufferSize, kRecvBufferSize};
    msghdr& h = a.hdrs[i].msg_hdr;
    h.msg_name = &a.names[i];
    h.msg_namelen = sizeof(sockaddr_storage);
    h.msg_iov = &a.iov[i];
    h.msg_iovlen = 1;
    h.msg_control = a.control[i].data();
    h.msg_controllen = a.control[i].size();
    h.msg_flags = 0;
  }
  ++counters_.recv_calls;
  int n;
  do {
    n = ::recvmmsg(sock_.native_handle(), a.hdrs.data(), static_cast<unsigned>(n_want),
                   MSG_DONTWAIT, nullptr);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
    // An ICMP error queued on the socket surfaces here; it concerns an earlier send only.
    if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) return 0;
    ec = last_error();
    return 0;
  }
  for (int i = 0; i < n; ++i) {
    const msghdr& h = a.hdrs[i].msg_hdr;
    RecvMessage& m = out[i];
    m.data = static_cast<uint8_t*>(a.iov[i].iov_base);
    m.len = a.hdrs[i].msg_len;
    m.segment_size = m.len;
    std::memcpy(&m.remote.storage, h.msg_name, h.msg_namelen);
    m.remote.len = h.msg_namelen;
    m.local = local_;
    m.ecn = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
      if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
        int seg;
        std::memcpy(&seg, CMSG_DATA(c), sizeof(seg));
        if (seg > 0) m.segment_size = static_cast<size_t>(seg);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        m.ecn = *CMSG_DATA(c) & 0x3;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        int tclass;
        std::memcpy(&tclass, CMSG_DATA(c), sizeof(tclass));
        m.ecn = static_cast<uint8_t>(tclass & 0x3);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO && local_is_wildcard_) {
        in_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        reinterpret_cast<sockaddr_in*>(&m.local.storage)->sin_addr = pi.ipi_addr;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
                 local_is_wildcard_) {
        in6_pktinfo pi;
        std::memcpy(&pi, CMSG_DATA(c), sizeof(pi));
        reinterpret_cast<sockaddr_in6*>(&m.local.storage)->sin6_addr = pi.ipi6_addr;
      } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
        uint32_t drops;
        std::memcpy(&drops, CMSG_DATA(c), sizeof(drops));
        counters_.datagrams_dropped_by_kernel = drops;
      }
    }
  }
  return static_cast<size_t>(n);
}

namespace {

// Control-message space for one send: UDP_SEGMENT, TOS/TCLASS and PKTINFO.
constexpr size_t kSendControl =
    CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(in6_pktinfo));

// Fills the control messages of one send; returns the bytes used.
size_t fill_control(uint8_t* buf, const SendBatch& b, bool gso, bool ecn, bool pktinfo,
                    int family) {
  msghdr h{};
  h.msg_control = buf;
  h.msg_controllen = kSendControl;
  std::memset(buf, 0, kSendControl);
  size_t used = 0;
  cmsghdr* c = CMSG_FIRSTHDR(&h);
  if (gso) {
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const auto seg = static_cast<uint16_t>(b.segment_size);
    std::memcpy(CMSG_DATA(c), &seg, sizeof(seg));
    used += CMSG_SPACE(sizeof(uint16_t));
    c = CMSG_NXTHDR(&h, c);
  }
  if (ecn && b.ecn) {
    const int tos = b.ecn;
    c->cmsg_level = family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP;
    c->cmsg_type = family == AF_INET6 ? IPV6_TCLASS : IP_TOS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &tos, sizeof(tos));
    used += CMSG_SPACE(sizeof(int));
    c = CMSG_NXTHDR(&h, c);
  }
  if (pktinfo && b.local && !is_wildcard(*b.local)) {
    if (family == AF_INET && b.local->family() == AF_INET) {
      in_pktinfo pi{};
      pi.ipi_spec_dst = reinterpret_cast<const sockaddr_in*>(&b.local->storage)->sin_addr;
      c->cmsg_level = IPPROTO_IP;
      c->cmsg_type = IP_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(pi));
      std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
      used += CMSG_SPACE(sizeof(pi));
    } else if (family == AF_INET6 && b.local->family() == AF_INET6) {
      in6_pktinfo pi{};
      pi.ipi6_addr = reinterpret_cast<const sockaddr_in6*>(&b.local->storage)->sin6_addr;
      c->cmsg_level = IPPROTO_IPV6;
      c->cmsg_type = IPV6_PKTINFO;
      c->cmsg_len = CMSG_LEN(sizeof(pi));
      std::memcpy(CMSG_DATA(c), &pi, sizeof(pi));
      used += CMSG_SPACE(sizeof(pi));
    }
  }
  return used;
}

}  // namespace

size_t UdpSocket::send(const SendBatch& b, std::error_code& ec) {
  if (b.len == 0) return 0;
  // One datagram (ACKs, handshake packets): a plain sendmsg, without the batch set-up.
  if (b.len <= b.segment_size || b.segment_size == 0) return send_one(b, false, ec);
  if (caps_.gso) {
    const size_t sent = send_one(b, true, ec);
    if (!ec || ec != std::errc::io_error) return sent;
    // EIO: the device cannot segment after all; fall back for good.
    ec.clear();
    caps_.gso = false;
  }
  return send_mmsg(b, ec);
}

size_t UdpSocket::send_one(const SendBatch& b, bool gso, std::error_code& ec) {
  alignas(cmsghdr) uint8_t control[kSendControl];
  iovec iov{const_cast<uint8_t*>(b.data), b.len};
  msghdr h{};
  h.msg_name = const_cast<sockaddr*>(b.remote->sa());
  h.msg_namelen = b.remote->len;
  h.msg_iov = &iov;
  h.msg_iovlen = 1;
  h.msg_control = control;
  h.msg_controllen = fill_control(control, b, gso, caps_.ecn, caps_.pktinfo && local_is_wildcard_,
                                  local_.family());
  if (h.msg_controllen == 0) h.msg_control = nullptr;
  ++counters_.send_calls;
  ssize_t n;
  do {
    n = ::sendmsg(sock_.native_handle(), &h, 0);
  } while (n < 0 && errno == EINTR);
  if (n >= 0) return b.len;
  if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
  if (errno == EIO && gso) {
    ec = std::make_error_code(std::errc::io_error);
    return 0;
  }
  ++counters_.send_errors;
  if (is_per_datagram_error(errno)) return b.len;  // dropped; QUIC recovers as from loss
  ec = last_error();
  return 0;
}

size_t UdpSocket::send_mmsg(const SendBatch& b, std::error_code& ec) {
  std::array<mmsghdr, kMaxGsoSegments> hdrs{};
  std::array<iovec, kMaxGsoSegments> iov{};
  alignas(cmsghdr) uint8_t control[kSendControl];
  const size_t control_len = fill_control(control, b, false, caps_.ecn,
                                          caps_.pktinfo && local_is_wildcard_, local_.family());
  const size_t seg = b.segment_size ? b.segment_size : b.len;
  size_t offset = 0;
  while (offset < b.len) {
    unsigned count = 0;
    size_t batch_end = offset;
    for (; count < kMaxGsoSegments && batch_end < b.len; ++count) {
      const size_t len = std::min(seg, b.len - batch_end);
      iov[count] = {const_cast<uint8_t*>(b.data) + batch_end, len};
      msghdr& h = hdrs[count].msg_hdr;
      h = msghdr{};
      h.msg_name = const_cast<sockaddr*>(b.remote->sa());
      h.msg_namelen = b.remote->len;
      h.msg_iov = &iov[count];
      h.msg_iovlen = 1;
      if (control_len) {
        h.msg_control = control;
        h.msg_controllen = control_len;
      }
      batch_end += len;
    }
    ++counters_.send_calls;
    int n;
    do {
      n = ::sendmmsg(sock_.native_handle(), hdrs.data(), count, 0);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return offset;
      ++counters_.send_errors;
      if (!is_per_datagram_error(errno)) {
        ec = last_error();
        return offset;
      }
      n = 1;  // skip the datagram the kernel refused
    }
    for (int i = 0; i < n; ++i)
      offset += iov[i].iov_len;
  }
  return offset;
}

void UdpSocket::close() noexcept {
  asio::error_code ignored;
  sock_.close(ignored);
}

}  // namespace asioquic::net
