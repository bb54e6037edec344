// TLS during the QUIC handshake on loopback: ALPN negotiation and certificate verification
// (system trust, an extra CA file, the checked name).
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

}  // namespace
}  // namespace aqtest
