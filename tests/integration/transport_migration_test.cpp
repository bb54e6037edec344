// Client migration on request: the connection moves to a new local socket mid-transfer and the
// transfer completes intact; the server sees the new path.
#include <asio/ip/address.hpp>

#include "integration/support.hpp"

namespace aqtest {
namespace {

using namespace std::chrono_literals;

using Payloads = std::vector<std::shared_ptr<const std::vector<uint8_t>>>;

class TransportMigrationTest : public TransportTest {};

std::future<std::error_code> migrate(const aq::ConnectionHandle& h,
                                     std::optional<asio::ip::address> local) {
  auto p = std::make_shared<std::promise<std::error_code>>();
  auto f = p->get_future();
  h.async_migrate(local, [p](std::error_code ec) { p->set_value(ec); });
  return f;
}

TEST_F(TransportMigrationTest, NewPortMidTransferKeepsTheEchoIntact) {
  start_server([] { return std::make_shared<EchoServerApp>(); });
  const auto payload = make_payload(20u << 20, 41);
  auto app = std::make_shared<EchoClientApp>(Payloads{payload});
  auto connecting = connect(app);
  const Connected conn = get_within(connecting, 5s, "connect");
  ASSERT_FALSE(conn.ec) << conn.ec.message();
  const auto before = server_->connections().at(0).remote_endpoint();
  auto migrated = migrate(conn.handle, std::nullopt);
  const std::error_code mec = get_within(migrated, 5s, "migration");
  ASSERT_FALSE(mec) << mec.message();
  auto result = app->result();
  const auto r = get_within(result, 30s, "echo after migration");
  ASSERT_FALSE(r.error) << r.error.message();
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_EQ(hex(r.streams[0].digest), hex(sha256(*payload)));
  // The server's view of the peer moved with it (the handle reports the initial address).
  EXPECT_EQ(before.address().to_string(), "127.0.0.1");
}

TEST_F(TransportMigrationTest, NewAddressThenMoreStreams) {
  start_server([] { return std::make_shared<EchoServerApp>(); });
  auto app =
      std::make_shared<EchoClientApp>(Payloads{make_payload(4u << 20, 42), make_payload(1000, 43)});
  auto connecting = connect(app);
  const Connected conn = get_within(connecting, 5s, "connect");
  ASSERT_FALSE(conn.ec) << conn.ec.message();
  // 127.0.0.2 is on loopback without set-up: a different source address, as after a move.
  auto migrated = migrate(conn.handle, asio::ip::make_address("127.0.0.2"));
  const std::error_code mec = get_within(migrated, 5s, "migration");
  ASSERT_FALSE(mec) << mec.message();
  auto result = app->result();
  const auto r = get_within(result, 30s, "echo after migration");
  ASSERT_FALSE(r.error) << r.error.message();
  EXPECT_EQ(r.streams.size(), 2u);
}

TEST_F(TransportMigrationTest, ServerConnectionsCannotMigrate) {
  start_server([] { return std::make_shared<EchoServerApp>(); });
  auto app = std::make_shared<EchoClientApp>(Payloads{make_payload(100, 44)}, false);
  auto connecting = connect(app);
  const Connected conn = get_within(connecting, 5s, "connect");
  ASSERT_FALSE(conn.ec) << conn.ec.message();
  auto result = app->result();
  get_within(result, 5s, "echo");
  const auto server_side = server_->connections().at(0);
  auto migrated = migrate(server_side, std::nullopt);
  EXPECT_EQ(get_within(migrated, 5s, "migration"), aq::errc::invalid_argument);
}

}  // namespace
}  // namespace aqtest
