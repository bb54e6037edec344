// Tests of net::UdpSocket on loopback: capability probing, GSO and sendmmsg sends, GRO-aware
// receives, ECN marks, PKTINFO addresses, and the partial send of a full socket buffer.
#include "net/udp_socket.hpp"

#include <gtest/gtest.h>
#include <netinet/udp.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/io_context.hpp>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <vector>

#include "asioquic/error.hpp"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

namespace asioquic::net {
namespace {

using Bytes = std::vector<uint8_t>;
using asio::ip::udp;

constexpr uint8_t kEct0 = 2, kEct1 = 1;

bool have_ipv6_loopback() {
  asio::io_context io;
  udp::socket s(io);
  asio::error_code ec;
  s.open(udp::v6(), ec);
  if (!ec) s.bind({asio::ip::address_v6::loopback(), 0}, ec);
  return !ec;
}

std::unique_ptr<UdpSocket> open(asio::io_context& io, const udp::endpoint& ep,
                                SocketOptions opts = {}) {
  std::error_code ec;
  auto s = std::make_unique<UdpSocket>(io.get_executor(), ep, opts, ec);
  EXPECT_FALSE(ec) << ep << ": " << ec.message();
  return ec ? nullptr : std::move(s);
}

// Segment i of a batch holds bytes that name it, so reordering or mixing would show.
Bytes make_batch(size_t segments, size_t segment_size, size_t last_size) {
  Bytes b;
  for (size_t i = 0; i < segments; ++i) {
    const size_t n = i + 1 == segments ? last_size : segment_size;
    for (size_t j = 0; j < n; ++j)
      b.push_back(static_cast<uint8_t>(i * 31 + j));
  }
  return b;
}

struct Datagram {
  Bytes data;
  size_t message_segment = 0;  // the GRO segment size of the message it came in
  uint8_t ecn = 0;
  Address local, remote;
};

// Receives datagrams (GRO runs split up) until `want_bytes` arrived or 2 s passed.
std::vector<Datagram> receive(UdpSocket& s, size_t want_bytes) {
  std::vector<Datagram> out;
  size_t got = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (got < want_bytes && std::chrono::steady_clock::now() < deadline) {
    pollfd p{s.socket().native_handle(), POLLIN, 0};
    ::poll(&p, 1, 50);
    RecvMessage msgs[UdpSocket::kRecvBatch];
    std::error_code ec;
    const size_t n = s.receive(msgs, ec);
    EXPECT_FALSE(ec) << ec.message();
    for (size_t i = 0; i < n; ++i) {
      const RecvMessage& m = msgs[i];
      const size_t seg = m.segment_size ? m.segment_size : m.len;
      for (size_t off = 0; off < m.len; off += seg) {
        const size_t len = std::min(seg, m.len - off);
        out.push_back(
            {Bytes(m.data + off, m.data + off + len), m.segment_size, m.ecn, m.local, m.remote});
        got += len;
      }
    }
  }
  return out;
}

// Checks that `got` is `sent` cut into datagrams of `segment_size` (the last may be shorter).
void expect_segments(const std::vector<Datagram>& got, const Bytes& sent, size_t segment_size) {
  size_t off = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const size_t want = std::min(segment_size, sent.size() - off);
    ASSERT_EQ(got[i].data.size(), want) << "datagram " << i;
    EXPECT_TRUE(std::equal(got[i].data.begin(), got[i].data.end(), sent.begin() + off))
        << "datagram " << i;
    off += want;
  }
  EXPECT_EQ(off, sent.size());
}

// An independent probe: does this kernel take UDP_SEGMENT / UDP_GRO at all?
bool kernel_has(int level, int opt, int family) {
  const int fd = ::socket(family, SOCK_DGRAM, 0);
  if (fd < 0) return false;
  const int v = opt == UDP_SEGMENT ? 1200 : 1;
  const bool ok = ::setsockopt(fd, level, opt, &v, sizeof v) == 0;
  ::close(fd);
  return ok;
}

class UdpSocketTest : public testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (v6() && !have_ipv6_loopback()) GTEST_SKIP() << "no ::1";
  }
  bool v6() const { return GetParam(); }
  asio::ip::address loopback() const {
    return v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                : asio::ip::address(asio::ip::address_v4::loopback());
  }
  asio::ip::address any() const {
    return v6() ? asio::ip::address(asio::ip::address_v6::any())
                : asio::ip::address(asio::ip::address_v4::any());
  }

  asio::io_context io_;
};

TEST_P(UdpSocketTest, CapabilitiesMatchTheKernel) {
  auto s = open(io_, {loopback(), 0});
  ASSERT_TRUE(s);
  const int family = v6() ? AF_INET6 : AF_INET;
  EXPECT_EQ(s->capabilities().gso, kernel_has(SOL_UDP, UDP_SEGMENT, family));
  EXPECT_EQ(s->capabilities().gro, kernel_has(SOL_UDP, UDP_GRO, family));
  EXPECT_TRUE(s->capabilities().pktinfo);
  EXPECT_TRUE(s->capabilities().ecn);
  EXPECT_EQ(s->local_address().family(), family);
  EXPECT_NE(s->local_address().port(), 0);
  EXPECT_EQ(s->local_address().endpoint().address(), loopback());

  // Switched off by the options, whatever the kernel has.
  SocketOptions off;
  off.enable_gso = false;
  off.enable_gro = false;
  auto plain = open(io_, {loopback(), 0}, off);
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->capabilities().gso);
  EXPECT_FALSE(plain->capabilities().gro);
}

TEST_P(UdpSocketTest, GsoBatchArrivesWhole) {
  auto rx = open(io_, {loopback(), 0});
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  if (!tx->capabilities().gso) GTEST_SKIP() << "no UDP GSO";
  const Bytes batch = make_batch(10, 1200, 500);
  const uint64_t calls = tx->counters().send_calls;
  std::error_code ec;
  const SendBatch b{batch.data(), batch.size(), 1200, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(b, ec), batch.size());
  EXPECT_FALSE(ec);
  EXPECT_EQ(tx->counters().send_calls, calls + 1);  // one sendmsg for the whole batch
  const auto got = receive(*rx, batch.size());
  ASSERT_EQ(got.size(), 10u);
  expect_segments(got, batch, 1200);
  for (const auto& d : got) {
    EXPECT_TRUE(d.message_segment == 1200 || d.message_segment == d.data.size());
    EXPECT_EQ(d.remote, tx->local_address());
    EXPECT_EQ(d.local, rx->local_address());
  }
}

// The largest batch: 64 segments, 64 000 bytes.
TEST_P(UdpSocketTest, FullSizeGsoBatch) {
  auto rx = open(io_, {loopback(), 0});
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  if (!tx->capabilities().gso) GTEST_SKIP() << "no UDP GSO";
  const Bytes batch = make_batch(UdpSocket::kMaxGsoSegments, 1000, UdpSocket::kMaxGsoBytes / 64);
  ASSERT_EQ(batch.size(), UdpSocket::kMaxGsoBytes);
  std::error_code ec;
  const SendBatch b{batch.data(), batch.size(), 1000, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(b, ec), batch.size());
  EXPECT_FALSE(ec);
  const auto got = receive(*rx, batch.size());
  ASSERT_EQ(got.size(), UdpSocket::kMaxGsoSegments);
  expect_segments(got, batch, 1000);
}

// Without GRO on the receiver every datagram is its own message.
TEST_P(UdpSocketTest, GsoToReceiverWithoutGro) {
  SocketOptions no_gro;
  no_gro.enable_gro = false;
  auto rx = open(io_, {loopback(), 0}, no_gro);
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  const Bytes batch = make_batch(5, 1300, 1300);
  std::error_code ec;
  const SendBatch b{batch.data(), batch.size(), 1300, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(b, ec), batch.size());
  const auto got = receive(*rx, batch.size());
  ASSERT_EQ(got.size(), 5u);
  expect_segments(got, batch, 1300);
  for (const auto& d : got)
    EXPECT_EQ(d.message_segment, d.data.size());
}

TEST_P(UdpSocketTest, SendmmsgFallbackWithoutGso) {
  SocketOptions no_gso;
  no_gso.enable_gso = false;
  auto rx = open(io_, {loopback(), 0});
  auto tx = open(io_, {loopback(), 0}, no_gso);
  ASSERT_TRUE(rx && tx);
  ASSERT_FALSE(tx->capabilities().gso);
  const Bytes batch = make_batch(11, 1200, 7);
  const uint64_t calls = tx->counters().send_calls;
  std::error_code ec;
  const SendBatch b{batch.data(), batch.size(), 1200, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(b, ec), batch.size());
  EXPECT_FALSE(ec);
  EXPECT_EQ(tx->counters().send_calls, calls + 1);  // one sendmmsg
  const auto got = receive(*rx, batch.size());
  ASSERT_EQ(got.size(), 11u);
  expect_segments(got, batch, 1200);

  // More than 64 datagrams take more than one sendmmsg.
  const Bytes big = make_batch(100, 100, 100);
  const SendBatch bb{big.data(), big.size(), 100, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(bb, ec), big.size());
  EXPECT_EQ(tx->counters().send_calls, calls + 3);
  const auto got_big = receive(*rx, big.size());
  ASSERT_EQ(got_big.size(), 100u);
  expect_segments(got_big, big, 100);
}

TEST_P(UdpSocketTest, SingleDatagramAndEmptyBatch) {
  auto rx = open(io_, {loopback(), 0});
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  std::error_code ec;
  const SendBatch none{nullptr, 0, 1200, &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(none, ec), 0u);
  EXPECT_FALSE(ec);
  const Bytes one = make_batch(1, 0, 333);
  const SendBatch b{one.data(), one.size(), one.size(), &rx->local_address(), nullptr, 0};
  EXPECT_EQ(tx->send(b, ec), one.size());
  const auto got = receive(*rx, one.size());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, one);
}

TEST_P(UdpSocketTest, EcnCodepointArrives) {
  auto rx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx);
  for (bool gso : {true, false}) {
    SocketOptions o;
    o.enable_gso = gso;
    auto tx = open(io_, {loopback(), 0}, o);
    ASSERT_TRUE(tx);
    for (uint8_t ecn : {kEct0, kEct1, uint8_t{0}}) {
      const Bytes batch = make_batch(3, 1200, 1200);
      std::error_code ec;
      const SendBatch b{batch.data(), batch.size(), 1200, &rx->local_address(), nullptr, ecn};
      ASSERT_EQ(tx->send(b, ec), batch.size());
      const auto got = receive(*rx, batch.size());
      ASSERT_EQ(got.size(), 3u);
      for (const auto& d : got)
        EXPECT_EQ(d.ecn, ecn) << "gso " << gso << " ecn " << int(ecn);
    }
  }
}

// A socket bound to the wildcard address learns each datagram's destination from PKTINFO.
TEST_P(UdpSocketTest, PktinfoReportsDestinationOnWildcardSocket) {
  auto rx = open(io_, {any(), 0});
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  ASSERT_TRUE(rx->capabilities().pktinfo);
  std::vector<asio::ip::address> targets{loopback()};
  // All of 127/8 is local on Linux: a second destination shows the address is per datagram.
  if (!v6()) targets.push_back(asio::ip::make_address("127.0.0.2"));
  for (const auto& target : targets) {
    const Address dest = Address::from({target, rx->local_address().port()});
    const Bytes one = make_batch(1, 0, 100);
    std::error_code ec;
    const SendBatch b{one.data(), one.size(), one.size(), &dest, nullptr, 0};
    ASSERT_EQ(tx->send(b, ec), one.size());
    const auto got = receive(*rx, one.size());
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].local.endpoint(), udp::endpoint(target, rx->local_address().port()));
  }
}

// Whether the kernel adds a PKTINFO control message to what `s` receives.
bool receives_pktinfo(UdpSocket& s, bool v6) {
  int on = -1;
  socklen_t len = sizeof on;
  const int level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
  const int opt = v6 ? IPV6_RECVPKTINFO : IP_PKTINFO;
  EXPECT_EQ(::getsockopt(s.socket().native_handle(), level, opt, &on, &len), 0);
  return on != 0;
}

// Only a wildcard socket keeps PKTINFO on: one bound to an address, or bound to the wildcard
// and then connected (a client's), knows every datagram's destination already.
TEST_P(UdpSocketTest, PktinfoOnlyWhileTheLocalAddressIsAWildcard) {
  auto wildcard = open(io_, {any(), 0});
  auto bound = open(io_, {loopback(), 0});
  auto client = open(io_, {any(), 0});
  ASSERT_TRUE(wildcard && bound && client);
  EXPECT_TRUE(receives_pktinfo(*wildcard, v6()));
  EXPECT_FALSE(receives_pktinfo(*bound, v6()));
  EXPECT_TRUE(bound->capabilities().pktinfo) << "the kernel has it";
  ASSERT_TRUE(receives_pktinfo(*client, v6()));

  std::error_code ec;
  client->connect(bound->local_address(), ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_FALSE(receives_pktinfo(*client, v6()));
  EXPECT_EQ(client->local_address().endpoint().address(), loopback());

  // Datagrams still carry the local address, from the socket's own.
  const Bytes one = make_batch(1, 0, 100);
  const SendBatch b{one.data(), one.size(), one.size(), &client->local_address(), nullptr, 0};
  ASSERT_EQ(bound->send(b, ec), one.size());
  const auto got = receive(*client, one.size());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].local.endpoint(), client->local_address().endpoint());
  EXPECT_EQ(got[0].remote.endpoint(), bound->local_address().endpoint());
}

// And a wildcard socket sends from the address it is told to (the one a client wrote to).
// IPv4 only: IPv6 loopback has a single address.
TEST(UdpSocketV4, PktinfoChoosesSourceAddress) {
  asio::io_context io;
  auto rx = open(io, {asio::ip::address_v4::loopback(), 0});
  auto tx = open(io, {asio::ip::address_v4::any(), 0});
  ASSERT_TRUE(rx && tx);
  for (const char* src : {"127.0.0.3", "127.0.0.1"}) {
    const Address from = Address::from({asio::ip::make_address(src), tx->local_address().port()});
    for (size_t segments : {1u, 4u}) {  // the sendmmsg and the GSO path
      const Bytes batch = make_batch(segments, 1200, 1200);
      std::error_code ec;
      const SendBatch b{batch.data(), batch.size(), 1200, &rx->local_address(), &from, 0};
      ASSERT_EQ(tx->send(b, ec), batch.size());
      const auto got = receive(*rx, batch.size());
      ASSERT_EQ(got.size(), segments);
      for (const auto& d : got)
        EXPECT_EQ(d.remote.endpoint().address().to_string(), src);
    }
  }
}

TEST_P(UdpSocketTest, ReceiveWithNothingPending) {
  auto rx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx);
  RecvMessage msgs[4];
  std::error_code ec;
  EXPECT_EQ(rx->receive(msgs, ec), 0u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(rx->receive({}, ec), 0u);
  EXPECT_FALSE(ec);
}

TEST_P(UdpSocketTest, ReceiveTakesAtMostTheSpan) {
  SocketOptions no_gro;
  no_gro.enable_gro = false;
  auto rx = open(io_, {loopback(), 0}, no_gro);
  auto tx = open(io_, {loopback(), 0});
  ASSERT_TRUE(rx && tx);
  for (int i = 0; i < 5; ++i) {
    const Bytes one(10, static_cast<uint8_t>(i));
    std::error_code ec;
    const SendBatch b{one.data(), one.size(), one.size(), &rx->local_address(), nullptr, 0};
    ASSERT_EQ(tx->send(b, ec), one.size());
  }
  pollfd p{rx->socket().native_handle(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 2000), 1);
  RecvMessage msgs[2];
  std::error_code ec;
  EXPECT_EQ(rx->receive(msgs, ec), 2u);
  EXPECT_EQ(msgs[0].data[0], 0);
  EXPECT_EQ(msgs[1].data[0], 1);
  const auto rest = receive(*rx, 30);
  ASSERT_EQ(rest.size(), 3u);
  EXPECT_EQ(rest[0].data[0], 2);
}

TEST_P(UdpSocketTest, BindErrors) {
  auto first = open(io_, {loopback(), 0});
  ASSERT_TRUE(first);
  std::error_code ec;
  UdpSocket second(io_.get_executor(), first->local_address().endpoint(), {}, ec);
  EXPECT_EQ(ec, errc::address_in_use);
}

INSTANTIATE_TEST_SUITE_P(Loopback, UdpSocketTest, testing::Values(false, true),
                         [](const testing::TestParamInfo<bool>& p) {
                           return p.param ? "v6" : "v4";
                         });

// ---------------------------------------------------------------------------------------------
// A full send buffer. On loopback the kernel frees a datagram's buffer space as soon as it is
// handed to the receiver (dropped or not), so a send never blocks there. In a private network
// namespace a slow token bucket on lo holds the datagrams, and a tiny SO_SNDBUF fills up.

constexpr int kSkip = 77;

// Runs `body` in a child process inside a new network namespace whose lo is rate-limited.
// Returns the child's exit code: `body`'s result, or kSkip if the namespace can't be set up.
int in_throttled_netns(const std::function<int()>& body) {
  if (::geteuid() != 0 || std::system("command -v tc >/dev/null && command -v ip >/dev/null") != 0)
    return kSkip;
  const pid_t pid = ::fork();
  if (pid < 0) return kSkip;
  if (pid == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(kSkip);
    if (std::system("ip link set lo up && tc qdisc add dev lo root tbf rate 8kbit burst 2000 "
                    "limit 100000000 2>/dev/null") != 0) {
      ::_exit(kSkip);
    }
    ::_exit(body());
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Sends batches until the socket is full; returns 0 if the partial send behaved.
int fill_send_buffer(bool gso) {
  asio::io_context io;
  SocketOptions o;
  o.buffer_size = 4096;  // the kernel's minimum, or near it
  o.enable_gso = gso;
  std::error_code ec;
  UdpSocket rx(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, o, ec);  // never read
  if (ec) return 2;
  UdpSocket tx(io.get_executor(), {asio::ip::address_v4::loopback(), 0}, o, ec);
  if (ec) return 3;
  const Bytes batch = make_batch(10, 1200, 1200);
  const SendBatch b{batch.data(), batch.size(), 1200, &rx.local_address(), nullptr, 0};
  for (int i = 0; i < 1000; ++i) {
    const size_t sent = tx.send(b, ec);
    if (ec) {
      std::cerr << "send error: " << ec.message() << "\n";
      return 4;
    }
    if (sent < b.len) {
      if (sent % 1200 != 0) {
        std::cerr << "partial segment: " << sent << "\n";
        return 5;
      }
      // Still full: the next send takes nothing and reports no error either.
      if (tx.send(b, ec) != 0 || ec) {
        std::cerr << "second send not empty\n";
        return 6;
      }
      return 0;
    }
  }
  std::cerr << "socket never filled\n";
  return 7;
}

TEST(UdpSocketFull, PartialSendWhenTheBufferIsFull) {
  for (bool gso : {true, false}) {
    const int r = in_throttled_netns([gso] { return fill_send_buffer(gso); });
    if (r == kSkip) GTEST_SKIP() << "needs root and iproute2 for a private network namespace";
    EXPECT_EQ(r, 0) << "gso " << gso;
  }
}

}  // namespace
}  // namespace asioquic::net
