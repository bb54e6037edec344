// Stateless reset end to end: a connection made through one server is moved (by a relay in the
// middle, as a load balancer would after a restart) to a second server that never knew it. With
// the same static secret the second server's reset carries the token the first one issued, and
// the client ends the connection at once; with another secret the client cannot tell the reset
// from noise and the connection only ends at its idle timeout.
#include "integration/support.hpp"
#include "integration/udp_relay.hpp"

namespace aqtest {
namespace {

using namespace std::chrono_literals;

using asioquic::test_support::UdpRelay;

class StatelessResetTest : public TransportTest {
 protected:
  static aq::ServerSettings with_secret(uint8_t fill) {
    aq::ServerSettings s = server_settings();
    std::array<uint8_t, 32> secret;
    secret.fill(fill);
    s.static_secret = secret;
    return s;
  }

  // Connects through a relay to a server with secret 1, moves the relay to a second server
  // with `second_secret`, and returns how the client's connection ended.
  Closed move_to_second_server(uint8_t second_secret) {
    auto factory = [] { return std::make_shared<RecordingApp>(); };
    start_server(factory, with_secret(1));
    TestServer second(ex(), with_secret(second_secret), factory);
    auto relay = std::make_shared<UdpRelay>(ex(), server_->port());
    relay->start();

    aq::ClientSettings cs = client_settings();
    cs.keep_alive = 100ms;  // something to send once the relay has moved
    cs.idle_timeout = 2s;
    auto app = std::make_shared<RecordingApp>();
    auto connecting = connect(app, cs, relay->port());
    const Connected conn = get_within(connecting, 5s, "connect through the relay");
    EXPECT_FALSE(conn.ec) << conn.ec.message();
    auto established = app->established();
    get_within(established, 5s, "handshake");

    relay->point_at(second.port());
    auto closed = app->closed();
    Closed c = get_within(closed, 10s, "the client's connection to end");
    // The listener counts a reset after sending it: the client may have seen it first.
    EXPECT_TRUE(eventually([&] { return second.stats().stateless_resets_sent > 0; }, 5s))
        << "the second server sent no stateless reset";
    relay->stop();
    return c;
  }
};

TEST_F(StatelessResetTest, SameSecretResetsTheMovedConnection) {
  const Closed c = move_to_second_server(1);
  EXPECT_EQ(c.ec, aq::errc::stateless_reset) << c.ec.message();
}

TEST_F(StatelessResetTest, OtherSecretsResetIsIgnored) {
  const Closed c = move_to_second_server(2);
  EXPECT_NE(c.ec, aq::errc::stateless_reset) << c.ec.message();
  EXPECT_EQ(c.ec, aq::errc::idle_timeout) << c.ec.message();
}

}  // namespace
}  // namespace aqtest
