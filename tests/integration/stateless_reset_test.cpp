// Stateless reset end to end: a connection made through one server is moved (by a relay in the
// middle, as a load balancer would after a restart) to a second server that never knew it. With
// the same static secret the second server's reset carries the token the first one issued, and
// the client ends the connection at once; with another secret the client cannot tell the reset
// from noise and the connection only ends at its idle timeout.
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/strand.hpp>

#include "integration/support.hpp"

namespace aqtest {
namespace {

using namespace std::chrono_literals;
using udp = asio::ip::udp;

/// Forwards datagrams between the one client that talks to port() and the server it is pointed
/// at; point_at() switches servers mid-connection. Owned through a shared_ptr that its pending
/// receives hold; stop() closes both sockets, after which the io_context has no work from it.
class SwitchableRelay : public std::enable_shared_from_this<SwitchableRelay> {
 public:
  SwitchableRelay(asio::any_io_executor ex, uint16_t server_port)
      : strand_(asio::make_strand(ex)),
        front_(strand_, {asio::ip::make_address("127.0.0.1"), 0}),
        back_(strand_, {asio::ip::make_address("127.0.0.1"), 0}),
        server_(asio::ip::make_address("127.0.0.1"), server_port) {}

  uint16_t port() const { return front_.local_endpoint().port(); }

  void start() {
    asio::post(strand_, [self = shared_from_this()] {
      self->pump(self->front_, self->back_, self->front_buf_, self->client_, self->server_);
      self->pump(self->back_, self->front_, self->back_buf_, self->from_, self->client_);
    });
  }
  void point_at(uint16_t server_port) {
    asio::post(strand_,
               [self = shared_from_this(), server_port] { self->server_.port(server_port); });
  }
  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      std::error_code ignored;
      self->front_.close(ignored);
      self->back_.close(ignored);
    });
  }

 private:
  // Receives on `in` (noting the sender in `sender`) and sends each datagram on `out` to `to`,
  // until `in` is closed. `to` is read at each send, so point_at() takes effect at once.
  void pump(udp::socket& in, udp::socket& out, std::array<uint8_t, 65536>& buf,
            udp::endpoint& sender, const udp::endpoint& to) {
    in.async_receive_from(
        asio::buffer(buf), sender,
        [self = shared_from_this(), &in, &out, &buf, &sender, &to](std::error_code ec, size_t n) {
          if (ec) return;
          std::error_code ignored;
          out.send_to(asio::buffer(buf.data(), n), to, 0, ignored);
          self->pump(in, out, buf, sender, to);
        });
  }

  asio::strand<asio::any_io_executor> strand_;
  udp::socket front_, back_;
  udp::endpoint server_, client_, from_;
  std::array<uint8_t, 65536> front_buf_{}, back_buf_{};
};

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
    auto relay = std::make_shared<SwitchableRelay>(ex(), server_->port());
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
