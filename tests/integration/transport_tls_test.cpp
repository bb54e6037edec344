// TLS during the QUIC handshake on loopback: ALPN negotiation and certificate verification
// (system trust, an extra CA file, the checked name).
#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>

#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "integration/any_server_store.hpp"
#include "integration/support.hpp"

namespace aqtest {
namespace {

class TransportTlsTest : public TransportTest {
 protected:
  void SetUp() override {
    start_server([] { return std::make_shared<EchoServerApp>(); });
  }

  // Connects with `settings` and returns the outcome; the app must not see an established
  // connection when the handshake fails.
  std::error_code try_connect(const aq::ClientSettings& settings,
                              aq::HandshakeInfo* info = nullptr) {
    auto app = std::make_shared<RecordingApp>();
    auto connecting = connect(app, settings);
    const Connected c = get_within(connecting, 5s, "connect");
    auto established = app->established();
    if (c.ec) {
      EXPECT_FALSE(c.handle.valid());
      EXPECT_NE(established.wait_for(0s), std::future_status::ready);
    } else if (info) {
      *info = established.get();
    }
    return c.ec;
  }
};

TEST_F(TransportTlsTest, TrustedThroughCaFile) {
  auto s = client_settings();
  ASSERT_FALSE(s.tls.ca_file.empty());
  ASSERT_TRUE(s.tls.use_system_trust);
  ASSERT_FALSE(s.tls.insecure_skip_verify);
  aq::HandshakeInfo info;
  const auto ec = try_connect(s, &info);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(info.alpn, kAlpn);
}

TEST_F(TransportTlsTest, DnsNameCheckedWithServerName) {
  auto s = client_settings();
  s.tls.server_name = "localhost";  // a dNSName of the certificate; the address stays 127.0.0.1
  const auto ec = try_connect(s);
  EXPECT_FALSE(ec) << ec.message();
}

TEST_F(TransportTlsTest, UntrustedSelfSignedCertificateFails) {
  aq::ClientSettings s;  // system trust only
  s.tls.alpn = {kAlpn};
  const auto ec = try_connect(s);
  EXPECT_EQ(ec, aq::errc::certificate_verify_failed) << ec.message();
}

TEST_F(TransportTlsTest, NameMismatchFails) {
  auto s = client_settings();
  s.tls.server_name = "wrong.example";
  const auto ec = try_connect(s);
  EXPECT_EQ(ec, aq::errc::certificate_verify_failed) << ec.message();
}

TEST_F(TransportTlsTest, WrongAlpnFails) {
  auto s = client_settings();
  s.tls.alpn = {"nope"};
  const auto ec = try_connect(s);
  EXPECT_EQ(ec, aq::errc::alpn_mismatch) << ec.message();
}

TEST_F(TransportTlsTest, AlpnPicksTheCommonProtocol) {
  auto s = client_settings();
  s.tls.alpn = {"nope", kAlpn};
  aq::HandshakeInfo info;
  const auto ec = try_connect(s, &info);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(info.alpn, kAlpn);
}

// A failed handshake leaves nothing behind on the server either.
TEST_F(TransportTlsTest, FailedHandshakesLeaveNoServerConnection) {
  auto bad_alpn = client_settings();
  bad_alpn.tls.alpn = {"nope"};
  auto bad_name = client_settings();
  bad_name.tls.server_name = "wrong.example";
  EXPECT_TRUE(try_connect(bad_alpn));
  EXPECT_TRUE(try_connect(bad_name));
  EXPECT_TRUE(eventually([&] { return server_->stats().connections_active == 0; }, 5s))
      << server_->stats().connections_active << " server connections still active";
  EXPECT_EQ(server_->stats().connections_accepted, 2u);
}

// A server frees its TLS session once the handshake completes (engine::QuicConn): the
// connection goes on in 1-RTT, and the server still reports the ALPN, at establishment and
// after.
class AlpnRecordingEchoServer : public EchoServerApp {
 public:
  std::error_code process_reads(aq::Connection& conn) override {
    alpn_.set(conn.alpn());
    return EchoServerApp::process_reads(conn);
  }
  std::future<std::string> alpn_at_first_read() { return alpn_.future(); }

 private:
  OnceValue<std::string> alpn_;
};

TEST_F(TransportTest, ServerKeepsAlpnAfterFreeingItsTlsSession) {
  auto server_app = std::make_shared<AlpnRecordingEchoServer>();
  start_server([server_app] { return server_app; });
  const auto payload = make_payload(200000, 11);
  auto client = std::make_shared<EchoClientApp>(
      std::vector<std::shared_ptr<const std::vector<uint8_t>>>{payload});
  auto connected = connect(client);
  ASSERT_FALSE(get_within(connected, 5s, "connect").ec);
  auto established = server_app->established();
  EXPECT_EQ(get_within(established, 5s, "server established").alpn, kAlpn);
  auto alpn = server_app->alpn_at_first_read();
  EXPECT_EQ(get_within(alpn, 5s, "server read"), kAlpn);
  auto result = client->result();
  const auto r = get_within(result, 10s, "echo");
  ASSERT_FALSE(r.error) << r.error.message();
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_EQ(hex(r.streams[0].digest), hex(sha256(*payload)));
}

// Once the server has freed its TLS session, a TLS message from the client (here a KeyUpdate,
// which QUIC forbids, RFC 9001 §6) ends the connection with CRYPTO_ERROR unexpected_message
// instead of reaching a session that is gone. Sent after an echo round trip: by then the
// server has long completed its handshake.
// Queues a TLS KeyUpdate message (type 24, length 1, update_not_requested) in 1-RTT CRYPTO
// data, past the library, through the engine's handle.
std::error_code send_tls_key_update(aq::Connection& conn) {
  static constexpr uint8_t kKeyUpdate[] = {24, 0, 0, 1, 0};
  return ngtcp2_conn_submit_crypto_data(conn.native_handle(), NGTCP2_CRYPTO_LEVEL_APPLICATION,
                                        kKeyUpdate, sizeof kKeyUpdate) == 0
             ? std::error_code()
             : aq::make_error_code(aq::errc::internal);
}

class KeyUpdateAfterEchoClient : public RecordingApp {
 public:
  std::error_code process_writes(aq::Connection& conn) override {
    if (id_ >= 0) return {};
    std::error_code ec;
    id_ = conn.open_bidi_stream(ec);
    if (!ec) conn.stream_send(id_, aq::Buffer::copy("ping"), true, ec);
    return ec;
  }
  std::error_code process_reads(aq::Connection& conn) override {
    while (auto id = conn.next_readable()) {
      bool fin = false;
      std::error_code ec;
      std::array<uint8_t, 64> buf;
      while (conn.stream_recv(*id, buf, fin, ec) > 0 && !fin) {
      }
      if (ec) return ec;
      if (*id == id_ && fin && !sent_) {
        sent_ = true;
        if (auto e = send_tls_key_update(conn)) return e;
      }
    }
    return {};
  }

 private:
  int64_t id_ = -1;
  bool sent_ = false;
};

// The client's connection ends with CRYPTO_ERROR(unexpected_message), sent by the server
// (`by_peer`) or by the client itself.
void expect_unexpected_message_close(RecordingApp& client, bool by_peer) {
  auto closed = client.closed();
  const Closed c = get_within(closed, 10s, "close");
  EXPECT_EQ(c.info.by_peer, by_peer);
  EXPECT_FALSE(c.info.is_application);
  EXPECT_EQ(c.info.code, 0x100u + 10u);
}

TEST_F(TransportTest, TlsMessageAfterTheServersHandshakeClosesTheConnection) {
  start_server([] { return std::make_shared<EchoServerApp>(); });
  auto client = std::make_shared<KeyUpdateAfterEchoClient>();
  auto connected = connect(client);
  ASSERT_FALSE(get_within(connected, 5s, "connect").ec);
  expect_unexpected_message_close(*client, true);
}

// The other way: a server's KeyUpdate reaches our client's TLS session, which is alive (session
// tickets may still come). GnuTLS hands over new 1-RTT secrets; they are refused, and the
// client closes with CRYPTO_ERROR unexpected_message (ngtcp2 would abort on a second install).
class KeyUpdateAfterEchoServer : public EchoServerApp {
 public:
  std::error_code process_reads(aq::Connection& conn) override {
    const std::error_code ec = EchoServerApp::process_reads(conn);
    if (!ec && !sent_) {
      sent_ = true;
      return send_tls_key_update(conn);
    }
    return ec;
  }

 private:
  bool sent_ = false;
};

TEST_F(TransportTest, ServersKeyUpdateClosesTheClient) {
  start_server([] { return std::make_shared<KeyUpdateAfterEchoServer>(); });
  auto client = std::make_shared<EchoClientApp>(
      std::vector<std::shared_ptr<const std::vector<uint8_t>>>{make_payload(1000, 5)},
      /*close_when_done=*/false);
  auto connected = connect(client);
  ASSERT_FALSE(get_within(connected, 5s, "connect").ec);
  expect_unexpected_message_close(*client, false);
}

// A server issues exactly one session ticket per connection, once its handshake is complete
// (GnuTLS by itself sends two with the server's Finished, which made the first flight a datagram
// longer). Counted by a GnuTLS hook on the client's session, set when the client's handshake
// completes; by then the session must hold no ticket yet (one sent with the server's Finished
// would be there).
std::atomic<int> g_tickets_received{0};
std::atomic<bool> g_ticket_before_established{false};

int count_ticket(gnutls_session_t, unsigned, unsigned, unsigned incoming, const gnutls_datum_t*) {
  if (incoming) ++g_tickets_received;
  return 0;
}

class TicketCountingClient : public EchoClientApp {
 public:
  using EchoClientApp::EchoClientApp;
  std::error_code on_conn_established(aq::Connection& conn,
                                      const aq::HandshakeInfo& info) override {
    auto session =
        static_cast<gnutls_session_t>(ngtcp2_conn_get_tls_native_handle(conn.native_handle()));
    g_ticket_before_established = gnutls_session_get_flags(session) & GNUTLS_SFLAGS_SESSION_TICKET;
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET,
                                       GNUTLS_HOOK_POST, count_ticket);
    return EchoClientApp::on_conn_established(conn, info);
  }
};

TEST_F(TransportTest, ServerSendsOneSessionTicketAfterItsHandshake) {
  g_tickets_received = 0;
  g_ticket_before_established = false;
  start_server([] { return std::make_shared<EchoServerApp>(); });
  auto client = std::make_shared<TicketCountingClient>(
      std::vector<std::shared_ptr<const std::vector<uint8_t>>>{make_payload(100000, 3)},
      /*close_when_done=*/false);
  auto connected = connect(client);
  ASSERT_FALSE(get_within(connected, 5s, "connect").ec);
  auto result = client->result();
  ASSERT_FALSE(get_within(result, 10s, "echo").error);
  EXPECT_FALSE(g_ticket_before_established.load());
  // The ticket goes out with HANDSHAKE_DONE, before the echo's first byte.
  EXPECT_EQ(g_tickets_received.load(), 1);
}

// A SessionStore that records what passes through it, over the library's own, and can hand
// out a garbled ticket instead of the kept one.
class WatchedStore : public aq::SessionStore {
 public:
  void put(const std::string& key, std::vector<uint8_t> ticket) override {
    {
      std::lock_guard lock(m_);
      put_keys_.push_back(key);
    }
    inner_->put(key, std::move(ticket));
  }
  std::optional<std::vector<uint8_t>> take(const std::string& key) override {
    {
      std::lock_guard lock(m_);
      taken_keys_.push_back(key);
    }
    auto t = inner_->take(key);
    if (t && garble_) {
      for (auto& b : *t)
        b ^= 0x5a;
    }
    return t;
  }
  // Waits (bounded) until `n` tickets have been put; returns their keys.
  std::vector<std::string> wait_puts(size_t n) {
    eventually(
        [&] {
          std::lock_guard lock(m_);
          return put_keys_.size() >= n;
        },
        5s);
    std::lock_guard lock(m_);
    return put_keys_;
  }
  std::vector<std::string> taken_keys() {
    std::lock_guard lock(m_);
    return taken_keys_;
  }
  std::atomic<bool> garble_{false};

 private:
  std::shared_ptr<aq::SessionStore> inner_ = aq::make_session_store();
  std::mutex m_;
  std::vector<std::string> put_keys_;
  std::vector<std::string> taken_keys_;
};

class TransportResumptionTest : public TransportTest {
 protected:
  void SetUp() override {
    start_server([this] {
      auto app = std::make_shared<EchoServerApp>();
      std::lock_guard lock(m_);
      server_apps_.push_back(app);
      return app;
    });
  }

  // Connects with `s` and returns whether TLS resumed, as the client's HandshakeInfo and handle
  // and the server's HandshakeInfo of the same connection tell it (they must agree).
  bool connect_resumed(const aq::ClientSettings& s) {
    auto app = std::make_shared<RecordingApp>();
    auto connecting = connect(app, s);
    const Connected c = get_within(connecting, 5s, "connect");
    EXPECT_FALSE(c.ec) << c.ec.message();
    if (c.ec) return false;
    auto established = app->established();
    const bool resumed = get_within(established, 5s, "established").resumed;
    EXPECT_EQ(c.handle.resumed(), resumed);
    ++connections_;
    std::shared_ptr<EchoServerApp> server_app;
    eventually(
        [&] {
          std::lock_guard lock(m_);
          if (server_apps_.size() >= connections_) server_app = server_apps_[connections_ - 1];
          return server_app != nullptr;
        },
        5s);
    EXPECT_TRUE(server_app) << "the server did not accept connection " << connections_;
    if (server_app) {
      auto server_established = server_app->established();
      EXPECT_EQ(get_within(server_established, 5s, "server established").resumed, resumed);
    }
    return resumed;
  }

 private:
  std::mutex m_;
  std::vector<std::shared_ptr<EchoServerApp>> server_apps_;
  size_t connections_ = 0;
};

TEST_F(TransportResumptionTest, SecondConnectionResumesWithTheFirstOnesTicket) {
  auto store = std::make_shared<WatchedStore>();
  auto s = client_settings();
  s.session_store = store;
  EXPECT_FALSE(connect_resumed(s));
  ASSERT_EQ(store->wait_puts(1).size(), 1u);
  EXPECT_TRUE(connect_resumed(s));
  // The resumed connection brings a fresh ticket, and a third one resumes with that.
  ASSERT_EQ(store->wait_puts(2).size(), 2u);
  EXPECT_TRUE(connect_resumed(s));
}

TEST_F(TransportResumptionTest, WithoutAStoreEveryHandshakeIsFull) {
  EXPECT_FALSE(connect_resumed(client_settings()));
  EXPECT_FALSE(connect_resumed(client_settings()));
}

TEST_F(TransportResumptionTest, AGarbledTicketMeansAFullHandshake) {
  auto store = std::make_shared<WatchedStore>();
  auto s = client_settings();
  s.session_store = store;
  EXPECT_FALSE(connect_resumed(s));
  ASSERT_EQ(store->wait_puts(1).size(), 1u);
  store->garble_ = true;
  EXPECT_FALSE(connect_resumed(s));
  // The full handshake still brings a ticket that works.
  ASSERT_EQ(store->wait_puts(2).size(), 2u);
  store->garble_ = false;
  EXPECT_TRUE(connect_resumed(s));
}

TEST_F(TransportResumptionTest, NoTicketCrossesToAConnectionThatVerifiesOtherwise) {
  auto store = std::make_shared<WatchedStore>();
  auto unverified = client_settings();
  unverified.tls.insecure_skip_verify = true;
  unverified.session_store = store;
  EXPECT_FALSE(connect_resumed(unverified));
  ASSERT_EQ(store->wait_puts(1).size(), 1u);

  // A verifying client has a key of its own, so the unverified connection's ticket is not used.
  auto verified = client_settings();
  verified.session_store = store;
  EXPECT_FALSE(connect_resumed(verified));
  const auto keys = store->wait_puts(2);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_NE(keys[0], keys[1]);
  // Another name for the same server is another key too.
  verified.tls.server_name = "localhost";
  EXPECT_FALSE(connect_resumed(verified));
  EXPECT_EQ(store->taken_keys().size(), 3u);
  // Each one resumes with its own.
  EXPECT_TRUE(connect_resumed(unverified));
}

using asioquic::test_support::AnyServerStore;

TEST_F(TransportTest, ListenersWithOneStaticSecretResumeEachOthersTickets) {
  const auto echo = [] { return std::make_shared<EchoServerApp>(); };
  auto shared = server_settings();
  shared.static_secret = std::array<uint8_t, 32>{1, 2, 3};
  auto other = server_settings();
  other.static_secret = std::array<uint8_t, 32>{9, 8, 7};
  start_server(echo, shared);
  TestServer twin(ex(), shared, echo);     // a restarted process, or another one behind a balancer
  TestServer stranger(ex(), other, echo);  // another secret
  TestServer random_key(ex(), server_settings(), echo);  // no secret: a random ticket key

  auto store = std::make_shared<AnyServerStore>();
  auto s = client_settings();
  s.session_store = store;
  const auto resumed_at = [&](uint16_t port) {
    auto app = std::make_shared<RecordingApp>();
    auto connecting = connect(app, s, port);
    const Connected c = get_within(connecting, 5s, "connect");
    EXPECT_FALSE(c.ec) << c.ec.message();
    auto established = app->established();
    return !c.ec && get_within(established, 5s, "established").resumed;
  };
  EXPECT_FALSE(resumed_at(server_->port()));
  ASSERT_TRUE(store->wait_puts(1));
  EXPECT_TRUE(resumed_at(twin.port()));
  ASSERT_TRUE(store->wait_puts(2));
  EXPECT_FALSE(resumed_at(stranger.port()));  // declined: a full handshake, nothing worse
  ASSERT_TRUE(store->wait_puts(3));
  EXPECT_FALSE(resumed_at(random_key.port()));
}

// 0-RTT with an application of one's own: it starts before the handshake completes and its
// streams go as early data. A server that cannot read the ticket drops that data; an
// application that does not override on_early_data_rejected is then closed with
// errc::early_data_rejected rather than left with streams that no longer exist.
TEST_F(TransportTest, EarlyDataStartsTheApplicationAndARefusalClosesItByDefault) {
  const auto echo = [] { return std::make_shared<EchoServerApp>(); };
  start_server(echo);
  TestServer stranger(ex(), server_settings(), echo);  // another ticket key
  auto store = std::make_shared<AnyServerStore>();
  auto s = client_settings();
  s.session_store = store;
  s.early_data = true;

  const auto echo_once = [&](uint16_t port) {
    const Payloads payloads{make_payload(3000, 7)};
    auto app = std::make_shared<EchoClientApp>(payloads);
    auto connecting = connect(app, s, port);
    const Connected c = get_within(connecting, 5s, "connect");
    EXPECT_FALSE(c.ec) << c.ec.message();
    auto established = app->established();
    const bool early = get_within(established, 5s, "established").early_data;
    auto result = app->result();
    expect_echoed(get_within(result, 5s, "echo"), payloads);
    EXPECT_EQ(c.handle.early_data_accepted(), early);
    EXPECT_TRUE(c.handle.handshake_completed());
    return early;
  };
  EXPECT_FALSE(echo_once(server_->port())) << "no ticket yet";
  ASSERT_TRUE(store->wait_puts(1));
  EXPECT_TRUE(echo_once(server_->port())) << "the ticket allows 0-RTT";
  ASSERT_TRUE(store->wait_puts(2));

  auto app = std::make_shared<EchoClientApp>(Payloads{make_payload(3000, 8)});
  auto connecting = connect(app, s, stranger.port());
  const Connected c = get_within(connecting, 5s, "connect");
  ASSERT_FALSE(c.ec) << c.ec.message();
  auto established = app->established();
  EXPECT_TRUE(get_within(established, 5s, "established").early_data);
  auto closed = app->closed();
  // Closed as for any error of the application: code 0x1, the error's message as the reason.
  const Closed end = get_within(closed, 5s, "closed");
  EXPECT_FALSE(end.info.by_peer);
  EXPECT_TRUE(end.info.is_application);
  EXPECT_EQ(end.info.code, 1u);
  EXPECT_EQ(end.info.reason, aq::make_error_code(aq::errc::early_data_rejected).message());
  EXPECT_FALSE(c.handle.early_data_accepted());
}

}  // namespace
}  // namespace aqtest
