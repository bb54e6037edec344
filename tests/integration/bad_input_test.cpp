// A flood of junk at two real listeners (Retry off and on): random bytes, broken headers, bogus
// lengths, oversized CIDs, undersized Initials, forged Retry tokens, short headers for unknown
// connections and mutations of a real client Initial. Afterwards the server must still serve a
// real client, hold no connection the junk created, and not have grown in memory.
//
// Self-contained on purpose: its own echo applications and server harness.
#include <asioquic/asioquic.hpp>

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/packet.hpp"
#include "engine/retry_token_key.hpp"

#if defined(__SANITIZE_ADDRESS__)
// From the ASan runtime (g++ ships no <sanitizer/allocator_interface.h>).
extern "C" size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace {

namespace aq = asioquic;
using namespace std::chrono_literals;
using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

constexpr const char* kAlpn = "echo";
constexpr int kDatagrams = 100'000;
constexpr auto kTimeout = 1000ms;  // idle and handshake: junk connections go fast

// ------------------------------------------------------------------ applications

// Echoes every stream, FIN included (as examples/echo/echo_server.cpp).
class EchoServer : public aq::ApplicationOverQuic {
 public:
  std::error_code on_conn_established(aq::Connection&, const aq::HandshakeInfo&) override {
    return {};
  }
  std::error_code process_reads(aq::Connection& conn) override {
    while (auto id = conn.next_readable())
      pending_.insert(*id);
    return pump(conn);
  }
  std::error_code process_writes(aq::Connection& conn) override { return pump(conn); }

 private:
  std::error_code pump(aq::Connection& conn) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      const int64_t id = *it;
      bool done = false;
      while (size_t room = conn.stream_send_capacity(id)) {
        bool fin = false;
        std::error_code ec;
        const size_t n = conn.stream_recv(id, {buf_.data(), std::min(room, buf_.size())}, fin, ec);
        if (ec) {
          conn.stream_reset(id, 0, ec);
          done = true;
          break;
        }
        if (n == 0 && !fin) break;
        conn.stream_send(id, std::span<const uint8_t>(buf_.data(), n), fin, ec);
        if (fin || ec) {
          done = true;
          break;
        }
      }
      it = done ? pending_.erase(it) : std::next(it);
    }
    return {};
  }

  std::set<int64_t> pending_;
  std::array<uint8_t, 16 * 1024> buf_;
};

// Sends one message on one stream and reports what came back.
class EchoClient : public aq::ApplicationOverQuic {
 public:
  explicit EchoClient(std::string msg) : msg_(std::move(msg)) {}

  std::future<std::string> reply() { return reply_.get_future(); }
  void fail(const std::string& why) {
    if (!done_.exchange(true)) reply_.set_value("error: " + why);
  }

  std::error_code on_conn_established(aq::Connection& conn, const aq::HandshakeInfo&) override {
    std::error_code ec;
    id_ = conn.open_bidi_stream(ec);
    if (!ec) conn.stream_send(id_, aq::Buffer::copy(msg_), true, ec);
    return ec;
  }
  std::error_code process_reads(aq::Connection& conn) override {
    while (auto id = conn.next_readable()) {
      if (*id != id_) continue;
      std::array<uint8_t, 4096> buf;
      bool fin = false;
      std::error_code ec;
      size_t n;
      do {
        n = conn.stream_recv(id_, buf, fin, ec);
        got_.append(reinterpret_cast<const char*>(buf.data()), n);
      } while (n > 0 && !fin && !ec);
      if (ec) return ec;
      if (fin && !done_.exchange(true)) {
        reply_.set_value(got_);
        conn.close(0, "done");
      }
    }
    return {};
  }
  std::error_code process_writes(aq::Connection&) override { return {}; }
  void on_conn_close(aq::Connection&, const aq::ConnectionStats&, std::error_code ec) override {
    fail("closed early: " + ec.message());
  }

 private:
  std::string msg_;
  int64_t id_ = -1;
  std::string got_;
  std::promise<std::string> reply_;
  std::atomic<bool> done_{false};
};

// ------------------------------------------------------------------ harness

// Resident memory; under ASan, whose quarantine keeps freed memory resident on purpose, the
// bytes the program has allocated and not freed.
size_t memory_in_use() {
#if defined(__SANITIZE_ADDRESS__)
  return __sanitizer_get_current_allocated_bytes();
#else
  std::ifstream statm("/proc/self/statm");
  size_t total = 0, resident = 0;
  statm >> total >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
#endif
}

bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= end) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

aq::ClientSettings client_settings() {
  aq::ClientSettings s;
  s.tls.alpn = {kAlpn};
  s.tls.use_system_trust = false;
  s.tls.insecure_skip_verify = true;
  s.idle_timeout = 5000ms;
  s.handshake_timeout = kTimeout;
  return s;
}

// A plain UDP socket on 127.0.0.1: the attacker's side.
class RawSocket {
 public:
  RawSocket() : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~RawSocket() { ::close(fd_); }
  uint16_t port() const { return port_; }

  void send_to(uint16_t port, std::span<const uint8_t> data) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    ::sendto(fd_, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  // The next datagram, or empty after `timeout`.
  Bytes receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    Bytes buf(65536);
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    buf.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return buf;
  }
  // Discards whatever the server answered.
  void drain() {
    uint8_t buf[2048];
    while (::recv(fd_, buf, sizeof buf, MSG_DONTWAIT) > 0) {
    }
  }

 private:
  int fd_;
  uint16_t port_ = 0;
};

class BadInputTest : public testing::Test {
 protected:
  void SetUp() override {
    std::error_code ec;
    cert_ = aq::make_self_signed_certificate({"localhost", "127.0.0.1"}, ec);
    ASSERT_FALSE(ec) << ec.message();
    plain_ = start_listener(false);
    retry_ = start_listener(true);
    ASSERT_TRUE(plain_.valid() && retry_.valid());
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    plain_.close();
    retry_.close();
    // Every connection is gone by now, so nothing may keep the io_context busy for long.
    guard_.reset();
    auto done = std::async(std::launch::async, [this] { thread_.join(); });
    if (done.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the io_context still had work 10 s after the listeners closed";
      io_.stop();
    }
    done.wait();
  }

  aq::Listener start_listener(bool retry) {
    aq::ServerSettings s;
    s.tls.alpn = {kAlpn};
    s.tls.cert_pem = cert_.cert_pem;
    s.tls.key_pem = cert_.key_pem;
    s.idle_timeout = kTimeout;
    s.handshake_timeout = kTimeout;
    s.retry = retry;
    s.static_secret = secret_;
    const asio::ip::udp::endpoint ep(asio::ip::address_v4::loopback(), 0);
    std::error_code ec;
    aq::Listener l = aq::listen(io_.get_executor(), {&ep, 1}, s, ec);
    EXPECT_FALSE(ec) << ec.message();
    if (l.valid()) accept_loop(l);
    return l;
  }

  void accept_loop(aq::Listener l) {
    l.async_accept([this, l](std::error_code ec, aq::IncomingConnection in) {
      if (ec) return;
      in.start(std::make_shared<EchoServer>());
      accept_loop(l);
    });
  }

  uint16_t port_of(const aq::Listener& l) { return l.local_endpoints().at(0).port(); }

  // Connects, echoes a message and closes; returns the reply or "error: ...".
  std::string echo_once(uint16_t port, const std::string& msg) {
    auto app = std::make_shared<EchoClient>(msg);
    auto reply = app->reply();
    aq::async_connect(io_.get_executor(), "127.0.0.1", port, client_settings(), app,
                      [app](std::error_code ec, aq::ConnectionHandle) {
                        if (ec) app->fail("connect: " + ec.message());
                      });
    if (reply.wait_for(10s) != std::future_status::ready) return "error: timed out";
    return reply.get();
  }

  // The first datagram an asioquic client sends: a real Initial.
  Bytes capture_initial() {
    RawSocket sink;
    auto app = std::make_shared<EchoClient>("never answered");
    std::promise<void> gave_up;
    aq::async_connect(io_.get_executor(), "127.0.0.1", sink.port(), client_settings(), app,
                      [&gave_up](std::error_code, aq::ConnectionHandle) { gave_up.set_value(); });
    Bytes first = sink.receive(5s);
    // Let the handshake time out, so the attempt is over before `sink` closes.
    EXPECT_EQ(gave_up.get_future().wait_for(10s), std::future_status::ready);
    return first;
  }

  size_t active() { return plain_.stats().connections_active + retry_.stats().connections_active; }
  uint64_t received() {
    return plain_.stats().datagrams_received + retry_.stats().datagrams_received;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{io_.get_executor()};
  std::thread thread_;
  aq::Certificate cert_;
  std::array<uint8_t, 32> secret_{1, 2, 3, 4, 5, 6, 7, 8, 9};
  aq::Listener plain_, retry_;
};

// ------------------------------------------------------------------ junk

// Builds the junk datagrams. Deterministic for a seed.
class Junk {
 public:
  Junk(uint32_t seed, Bytes initial, std::array<uint8_t, 32> secret, uint16_t attacker_port)
      : rng_(seed), initial_(std::move(initial)), secret_(secret), attacker_port_(attacker_port) {
    aq::engine::HeaderInfo h;
    if (aq::engine::parse_header(initial_, 16, h) == aq::engine::ParseResult::ok) {
      header_len_ = 7 + h.dcid.size() + h.scid.size();
      dcid_.assign(h.dcid.begin(), h.dcid.end());
      scid_.assign(h.scid.begin(), h.scid.end());
    }
  }

  bool ok() const { return header_len_ > 0 && initial_.size() >= 1200; }

  enum Kind {
    random_bytes,
    random_long_header,
    truncated_header,
    oversized_cid,
    undersized_initial,
    unknown_short_header,
    mutated_initial,
    unknown_version,
    forged_token,
    other_long_packet,
    kKinds
  };

  // Fills `out` with junk of `kind`; true if it goes to the Retry listener.
  bool make(Kind kind, Bytes& out) {
    out.clear();
    switch (kind) {
      case random_bytes:
        fill_random(out, 1 + pick(1500));
        return coin();
      case random_long_header: {
        // Plausible first bytes, then anything: bogus lengths of every kind.
        fill_random(out, 1 + pick(1400));
        out[0] |= 0xc0;
        if (out.size() >= 5 && coin()) put32(out, 1, 1);
        return coin();
      }
      case truncated_header:
        out.assign(initial_.begin(), initial_.begin() + 1 + pick(header_len_ + 20));
        return coin();
      case oversized_cid: {
        // A v1 long header whose DCID or SCID length is 21..255, padded to a full Initial.
        const size_t len = 21 + pick(235);
        out = long_header(pick(4), 1, Bytes(len, 0xab), scid_);
        if (coin()) out = long_header(pick(4), 1, dcid_, Bytes(len, 0xcd));
        out.resize(1200 + pick(200), 0);
        return coin();
      }
      case undersized_initial:
        out.assign(initial_.begin(), initial_.begin() + header_len_ + pick(1200 - header_len_));
        return coin();
      case unknown_short_header: {
        // Our CID layout (length byte, server id 0), random otherwise: a stateless reset each.
        out.resize(17 + pick(1200));
        for (auto& b : out)
          b = static_cast<uint8_t>(rng_());
        out[0] = static_cast<uint8_t>(0x40 | (out[0] & 0x3f));
        out[1] = 15;
        out[2] = out[3] = out[4] = 0;
        return false;
      }
      case mutated_initial:
        mutate(out);
        return coin();
      case unknown_version:
        out =
            long_header(0, 0x0a0a0a0a + static_cast<uint32_t>(pick(16)) * 0x10101010, dcid_, scid_);
        out.resize(coin() ? 1200 + pick(300) : 50 + pick(1100), 0x55);
        return coin();
      case forged_token:
        forge_token(out);
        return !coin(3);  // mostly to the Retry listener
      case other_long_packet:
        // 0-RTT, Handshake, Retry or Version Negotiation for connections that don't exist.
        if (coin()) {
          out = long_header(1 + pick(3), 1, random_cid(8 + pick(13)), scid_);
        } else {
          out = long_header(0, 0, scid_, dcid_);
          put32(out, out.size(), 1);
        }
        out.resize(out.size() + pick(1300), 0x11);
        return coin();
      case kKinds:
        break;
    }
    return false;
  }

  Kind next_kind() { return static_cast<Kind>(pick(kKinds)); }

 private:
  size_t pick(size_t n) { return n ? rng_() % n : 0; }
  bool coin(size_t one_in = 2) { return pick(one_in) == 0; }

  void fill_random(Bytes& out, size_t n) {
    out.resize(n);
    for (auto& b : out)
      b = static_cast<uint8_t>(rng_());
  }
  Bytes random_cid(size_t n) {
    Bytes c;
    fill_random(c, n);
    return c;
  }
  static void put32(Bytes& out, size_t at, uint32_t v) {
    if (out.size() < at + 4) out.resize(at + 4);
    for (int i = 0; i < 4; ++i)
      out[at + i] = static_cast<uint8_t>(v >> (24 - 8 * i));
  }

  // First byte, version and both CIDs (as RFC 8999 lays them out).
  Bytes long_header(size_t type, uint32_t version, const Bytes& dcid, const Bytes& scid) {
    Bytes p{static_cast<uint8_t>(0xc0 | (type << 4) | pick(16))};
    put32(p, 1, version);
    p.push_back(static_cast<uint8_t>(dcid.size()));
    p.insert(p.end(), dcid.begin(), dcid.end());
    p.push_back(static_cast<uint8_t>(scid.size()));
    p.insert(p.end(), scid.begin(), scid.end());
    return p;
  }

  // An Initial whose header is fine but whose token is not ours to accept.
  void forge_token(Bytes& out) {
    // A fresh DCID, so a live connection of the real Initial's DCID doesn't take the packet.
    const Bytes dcid = random_cid(8 + pick(13));
    Bytes token;
    switch (pick(4)) {
      case 0:  // our magic byte, then garbage
        token = random_cid(1 + pick(200));
        token[0] = 0xb6;
        break;
      case 1:  // garbage of every kind (most are "not a Retry token": Retry is sent)
        token = random_cid(1 + pick(300));
        break;
      case 2:  // a real token from our secret, but for another address, port or DCID
      case 3: {
        aq::net::Address who = aq::net::Address::from(
            {asio::ip::address_v4::loopback(),
             static_cast<uint16_t>(coin() ? attacker_port_ + 1 : attacker_port_)});
        if (coin()) {
          who = aq::net::Address::from({asio::ip::make_address("10.1.2.3"), attacker_port_});
        }
        const aq::quic::Cid rscid(dcid.data(), dcid.size());
        token.resize(aq::engine::kMaxRetryTokenLen);
        // Expired half the time (minted an hour ago), else fresh.
        const uint64_t ts = aq::engine::now_ns() - (coin() ? 3'600'000'000'000ull : 0);
        token.resize(retry_key_.make(token, who, rscid, rscid, ts));
        if (!token.empty() && coin()) token[pick(token.size())] ^= 0x20;  // tampered
        break;
      }
    }
    out = long_header(0, 1, dcid, scid_);
    out.push_back(static_cast<uint8_t>(0x40 | (token.size() >> 8)));
    out.push_back(static_cast<uint8_t>(token.size()));
    out.insert(out.end(), token.begin(), token.end());
    out.push_back(0x44);  // Length 1232: whatever follows
    out.push_back(0xd0);
    out.resize(1200 + pick(100), 0);
  }

  // The real Initial with bit flips, truncation or a changed Length / token length.
  void mutate(Bytes& out) {
    out = initial_;
    switch (pick(5)) {
      case 0:  // bit flips in the header
        for (size_t n = 1 + pick(3); n > 0; --n)
          out[pick(header_len_ + 4)] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 1:  // bit flips anywhere
        for (size_t n = 1 + pick(8); n > 0; --n)
          out[pick(out.size())] ^= static_cast<uint8_t>(1u << pick(8));
        break;
      case 2:  // truncated, sometimes still at 1200 bytes or more
        out.resize(1 + pick(out.size()));
        break;
      case 3: {  // another Length (the 2-byte varint after the empty token)
        const size_t at = header_len_ + 1;
        out[at] = static_cast<uint8_t>(0x40 | pick(64));
        out[at + 1] = static_cast<uint8_t>(rng_());
        break;
      }
      case 4:  // another token length
        out[header_len_] = static_cast<uint8_t>(rng_());
        break;
    }
  }

  std::mt19937 rng_;
  Bytes initial_;
  std::array<uint8_t, 32> secret_;
  aq::engine::RetryTokenKey retry_key_{secret_};  // after secret_: built from it
  uint16_t attacker_port_;
  size_t header_len_ = 0;
  Bytes dcid_, scid_;
};

TEST_F(BadInputTest, SurvivesJunkFlood) {
  // Warm up (lazy allocations, TLS contexts), then take the baselines.
  ASSERT_EQ(echo_once(port_of(plain_), "warm up"), "warm up");
  ASSERT_EQ(echo_once(port_of(retry_), "warm up"), "warm up");
  const Bytes initial = capture_initial();
  ASSERT_GE(initial.size(), 1200u);
  ASSERT_TRUE(eventually([&] { return active() == 0; }, 5s));
  const size_t mem_before = memory_in_use();

  RawSocket attacker;
  Junk junk(20240611, initial, secret_, attacker.port());
  ASSERT_TRUE(junk.ok());
  const uint16_t plain_port = port_of(plain_), retry_port = port_of(retry_);
  const uint64_t received_before = received();
  const auto start = Clock::now();
  Bytes pkt;
  std::array<int, Junk::kKinds> kinds{};
  for (int i = 0; i < kDatagrams; ++i) {
    // Now and then the real Initial itself: a connection that must time out on its own.
    if (i % 10'000 == 5'000) {
      attacker.send_to(plain_port, initial);
      continue;
    }
    const auto kind = junk.next_kind();
    ++kinds[kind];
    const bool to_retry = junk.make(kind, pkt);
    attacker.send_to(to_retry ? retry_port : plain_port, pkt);
    // Stay within what the server's socket buffer holds, so the junk reaches the server.
    if (i % 256 == 255) {
      attacker.drain();
      const uint64_t sent = static_cast<uint64_t>(i) + 1;
      eventually([&] { return received() - received_before + 2048 >= sent; }, 1s);
      ASSERT_LT(Clock::now() - start, 20s) << "the server fell behind after " << sent;
    }
  }
  ASSERT_TRUE(eventually([&] { return received() - received_before >= kDatagrams * 0.95; }, 10s))
      << "the server saw only " << received() - received_before << " datagrams";
  const double flood_s = std::chrono::duration<double>(Clock::now() - start).count();
  for (int k = 0; k < Junk::kKinds; ++k)
    EXPECT_GT(kinds[k], kDatagrams / Junk::kKinds / 2) << "kind " << k;  // every kind was sent

  // Junk connections end by themselves (handshake and idle timeouts of 1 s).
  EXPECT_TRUE(eventually([&] { return active() == 0; }, 10s)) << active() << " still active";

  // The server still serves, with and without Retry.
  EXPECT_EQ(echo_once(plain_port, "still alive"), "still alive");
  EXPECT_EQ(echo_once(retry_port, "still alive with retry"), "still alive with retry");
  EXPECT_TRUE(eventually([&] { return active() == 0; }, 5s));

  const auto ps = plain_.stats();
  const auto rs = retry_.stats();
  EXPECT_GT(ps.packets_dropped + rs.packets_dropped, kDatagrams / 4u);
  EXPECT_GT(ps.version_negotiations_sent + rs.version_negotiations_sent, 0u);
  EXPECT_GT(ps.invalid_tokens, 0u);
  EXPECT_GT(rs.invalid_tokens, 0u);
  EXPECT_GT(rs.retries_sent, 0u);
  EXPECT_GE(ps.connections_accepted, 2u);  // the warm-up and at least one replay
  // Stateless resets are rate-limited (100/s by default, bucket of 100).
  EXPECT_GT(ps.stateless_resets_sent, 0u);
  EXPECT_LE(ps.stateless_resets_sent, 100 + 100 * flood_s + 50);

  const size_t mem_after = memory_in_use();
  EXPECT_LT(mem_after, mem_before + (32u << 20)) << "memory in use grew from " << mem_before / 1024
                                                 << " KiB to " << mem_after / 1024 << " KiB";
  std::cout << "flood of " << kDatagrams << " datagrams took " << flood_s << " s; memory "
            << mem_before / 1024 << " -> " << mem_after / 1024 << " KiB; plain: accepted "
            << ps.connections_accepted << ", dropped " << ps.packets_dropped << ", VN "
            << ps.version_negotiations_sent << ", resets " << ps.stateless_resets_sent
            << ", invalid tokens " << ps.invalid_tokens << "; retry: retries " << rs.retries_sent
            << ", invalid tokens " << rs.invalid_tokens << ", accepted " << rs.connections_accepted
            << "\n";
}

}  // namespace
