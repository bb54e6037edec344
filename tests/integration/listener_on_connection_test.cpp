// Listener::on_connection: new connections go to the function where they are created, not to
// async_accept; a function that throws closes its connection; an empty function queues them
// for async_accept again.
#include <atomic>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "integration/support.hpp"

namespace aqtest {
namespace {

TEST_F(TransportTest, OnConnectionTakesNewConnectionsInsteadOfAsyncAccept) {
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  std::error_code ec;
  auto listener = aq::listen(ex(), {&ep, 1}, server_settings(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const uint16_t port = listener.local_endpoints().at(0).port();

  std::mutex m;
  std::vector<aq::ConnectionHandle> started;
  const auto start_echo = [&](aq::IncomingConnection& in) {
    auto h = in.start(std::make_shared<EchoServerApp>());
    std::lock_guard lock(m);
    started.push_back(h);
  };
  // Waiting before on_connection is set: it must get only what comes after the function is
  // taken away again.
  // (Shared: after a failed ASSERT the listener's close completes it after this frame.)
  auto accepted = std::make_shared<OnceValue<std::error_code>>();
  auto accepted_future = accepted->future();
  listener.async_accept([accepted, start_echo](std::error_code e, aq::IncomingConnection in) {
    if (!e) start_echo(in);
    accepted->set(e);
  });

  std::atomic<int> calls{0};
  std::atomic<bool> refuse{false};
  listener.on_connection([&](aq::IncomingConnection in) {
    ++calls;
    if (refuse) throw std::runtime_error("refused by the test");
    start_echo(in);
  });

  const auto echo_once = [&] {
    const Payloads payloads{make_payload(5000, 3)};
    auto app = std::make_shared<EchoClientApp>(payloads);
    auto connecting = connect(app, client_settings(), port);
    ASSERT_FALSE(get_within(connecting, 5s, "connect").ec);
    auto result = app->result();
    expect_echoed(get_within(result, 5s, "echo"), payloads);
  };
  echo_once();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(accepted_future.wait_for(0s), std::future_status::timeout)
      << "async_accept took a connection on_connection should have had";

  // A function that throws: the connection it was given is closed as an IncomingConnection
  // dropped unstarted is, with application code 0: APPLICATION_ERROR while the server's
  // handshake runs (RFC 9000 §10.2.3), which may end the client's connect or, if the client
  // saw its handshake complete first, the connection.
  refuse = true;
  auto refused = connect(std::make_shared<RecordingApp>(), client_settings(), port);
  const Connected rc = get_within(refused, 5s, "connect refused by on_connection");
  if (rc.ec) {
    EXPECT_TRUE(rc.ec == aq::wire_error_code(false, 0xc) || rc.ec == aq::errc::connection_closed)
        << rc.ec.message();
  } else {
    auto closed = wait_closed(rc.handle);
    const aq::CloseInfo end = get_within(closed, 5s, "refused connection closed").info;
    EXPECT_TRUE(end.by_peer);
    EXPECT_EQ(end.code, end.is_application ? 0u : 0xcu);
  }
  EXPECT_EQ(calls.load(), 2);

  // An empty function: the next connection goes to the waiting async_accept.
  listener.on_connection({});
  echo_once();
  EXPECT_FALSE(get_within(accepted_future, 5s, "async_accept"));
  EXPECT_EQ(calls.load(), 2);

  listener.close();
  std::vector<aq::ConnectionHandle> handles;
  {
    std::lock_guard lock(m);
    handles = started;
  }
  EXPECT_EQ(handles.size(), 2u);
  EXPECT_TRUE(close_all(handles, 5s));
}

}  // namespace
}  // namespace aqtest
