// QuicConn::write and the pacer before the first RTT sample: a client and a server engine
// connection in memory, on a clock the test moves, so that what is sent when is exact.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "asioquic/certificate.hpp"
#include "asioquic/settings.hpp"
#include "engine/packet.hpp"
#include "engine/quic_conn.hpp"
#include "engine/silent_events.hpp"
#include "engine/tls_context.hpp"
#include "engine_end.hpp"
#include "quic/stream_table.hpp"

namespace asioquic::engine {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr uint64_t kMs = 1'000'000;

using test::addr;

// One side: its engine connection, what it offers to send (nothing of its own) and its events.
struct End : SilentEvents {
  quic::StreamTable streams{1 << 20};
  std::unique_ptr<QuicConn> conn;
  Bytes buf = Bytes(256 * 1024);
  net::Address local, remote;

  // The datagrams the connection writes at `ts`, one element each.
  std::vector<Bytes> flush(uint64_t ts) {
    QuicConn::Status status;
    auto out = test::write_datagrams(*conn, streams, *this, buf, ts, status);
    EXPECT_EQ(status, QuicConn::Status::ok);
    return out;
  }
  void read(const std::vector<Bytes>& datagrams, uint64_t ts) {
    for (const auto& d : datagrams)
      EXPECT_EQ(conn->read(local, remote, 0, d, ts), QuicConn::Status::ok);
  }
};

size_t bytes_of(const std::vector<Bytes>& datagrams) {
  size_t n = 0;
  for (const auto& d : datagrams)
    n += d.size();
  return n;
}

// A first flight of more than one datagram (here a certificate with many names; an RSA chain
// is the common case) filled the write's first batch, which set a pacing deadline from the
// initial RTT guess: the server then held HANDSHAKE_DONE and any answer for ~7 ms after the
// client's Finished came back within 1 ms.
TEST(QuicConnPacing, NoDeadlineFromTheInitialRttGuess) {
  std::vector<std::string> names{"localhost"};
  for (int i = 0; i < 40; ++i)
    names.push_back("name-" + std::to_string(i) + ".pacing.example.test");
  std::error_code ec;
  const Certificate cert = make_self_signed_certificate(names, ec);
  ASSERT_FALSE(ec) << ec.message();

  ServerSettings server_settings;
  server_settings.tls.alpn = {"echo"};
  server_settings.tls.cert_pem = cert.cert_pem;
  server_settings.tls.key_pem = cert.key_pem;
  auto server_tls = TlsContext::create(TlsContext::Role::server, server_settings.tls, ec);
  ASSERT_TRUE(server_tls) << ec.message();
  ClientSettings client_settings;
  client_settings.tls.alpn = {"echo"};
  client_settings.tls.use_system_trust = false;
  client_settings.tls.insecure_skip_verify = true;
  auto client_tls = TlsContext::create(TlsContext::Role::client, client_settings.tls, ec);
  ASSERT_TRUE(client_tls) << ec.message();

  uint64_t now = 1000 * kMs;
  End client, server;
  client.local = server.remote = addr("192.0.2.7", 50123);
  server.local = client.remote = addr("198.51.100.1", 4433);

  ConnParams cp;
  cp.settings = &client_settings;
  cp.local = client.local;
  cp.remote = client.remote;
  cp.dcid = quic::random_cid(18);
  cp.scid = quic::random_cid(16);
  cp.tls = client_tls;
  cp.verify_host = "localhost";
  cp.initial_ts = now;
  client.conn = QuicConn::create(cp, client, ec);
  ASSERT_TRUE(client.conn) << ec.message();
  const auto initial = client.flush(now);
  ASSERT_FALSE(initial.empty());

  ConnParams sp;
  sp.settings = &server_settings;
  sp.server = true;
  sp.local = server.local;
  sp.remote = server.remote;
  sp.dcid = cp.scid;
  sp.scid = quic::random_cid(quic::CidGenerator::kLength);
  sp.odcid = cp.dcid;
  sp.tls = server_tls;
  sp.initial_ts = now;
  server.conn = QuicConn::create(sp, server, ec);
  ASSERT_TRUE(server.conn) << ec.message();
  server.read(initial, now);
  const auto first_flight = server.flush(now);
  // The case under test: a first flight larger than one datagram, within the
  // anti-amplification limit (three times the client's Initial).
  ASSERT_GT(bytes_of(first_flight), 1200u);
  ASSERT_LE(bytes_of(first_flight), 3 * bytes_of(initial));

  now += 1 * kMs;  // a fast path: the client's Finished is back a millisecond later
  client.read(first_flight, now);
  const auto finished = client.flush(now);
  ASSERT_FALSE(finished.empty());
  server.read(finished, now);
  EXPECT_TRUE(server.conn->handshake_completed());
  // At once, not when a deadline set from the 100 ms initial RTT expires.
  EXPECT_FALSE(server.flush(now).empty()) << "the server's HANDSHAKE_DONE waited for the pacer";
}

}  // namespace
}  // namespace asioquic::engine
