// 0-RTT from the HTTP/3 client (ClientSettings::early_data): with a ticket from a server that
// takes early data, safe requests leave before the handshake completes; with one from a server
// that refuses it, they go again after it; unsafe requests always wait for the handshake. What
// went as early data is read from the client's qlog, where ngtcp2 names each packet's type.
// Every connection goes through a relay that holds the server's datagrams back, so the requests
// are made before the server's handshake reply can arrive, however the threads are scheduled.
#include <asio/experimental/awaitable_operators.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "integration/any_server_store.hpp"
#include "integration/h3_support.hpp"
#include "integration/udp_relay.hpp"

namespace h3test {
namespace {

using namespace asio::experimental::awaitable_operators;

// Answers with the method, the request body's size, and "early" for a request handed over
// before the handshake completed.
awaitable<void> echo_method(h3::ServerRequest req, h3::ServerResponse res) {
  const bool early = req.early_data();
  const auto body = co_await read_body(req);
  const std::string text =
      std::string(req.method()) + " " + std::to_string(body.size) + (early ? " early" : "");
  co_await res.async_respond(200, {}, aq::Buffer::copy(text), use_awaitable);
}

using asioquic::test_support::AnyServerStore;
using asioquic::test_support::UdpRelay;

// How long the relay holds each of the server's datagrams: far longer than the client takes from
// the connect's completion to its requests, even on a loaded machine, and short enough that a
// test's five connections take about a second.
constexpr std::chrono::milliseconds kServerDelay = 50ms;

struct Exchange {
  std::string get, post;  // the two responses' bodies
  bool established_at_connect = true;
  bool resumed = false;
  bool early_accepted = false;
  std::string trace_id;
};

class H3EarlyData : public ::testing::Test {
 protected:
  void SetUp() override {
    qlog_dir_ = std::filesystem::temp_directory_path() /
                ("asioquic-early-" + std::to_string(::getpid()) + "-" +
                 ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(qlog_dir_);
    settings_.session_store = store_;
    settings_.early_data = true;
    settings_.qlog_dir = qlog_dir_.string();
  }
  void TearDown() override {
    for (auto& relay : relays_)
      relay->stop();
    std::filesystem::remove_all(qlog_dir_);
  }

  // One connection through a relay to `port`: a GET and a POST made at once, right after the
  // connect completes. The relay stays until the test ends, so the close reaches the server.
  Exchange exchange(uint16_t port) {
    auto relay =
        relays_.emplace_back(std::make_shared<UdpRelay>(io_.executor(), port, kServerDelay));
    relay->start();
    return io_.run(
        [&]() -> awaitable<Exchange> {
          Exchange x;
          auto client = co_await connect(relay->port(), {}, settings_);
          x.established_at_connect = client.connection().handshake_completed();
          x.trace_id = client.connection().trace_id();
          // Both requests are made before either is answered: the GET first.
          auto [get, post] = co_await (
              fetch(client, request("GET", port, "/a"), std::nullopt) &&
              fetch(client, request("POST", port, "/b"), aq::Buffer::copy(std::string(3000, 'p'))));
          x.get = std::move(get);
          x.post = std::move(post);
          x.resumed = client.connection().resumed();
          x.early_accepted = client.connection().early_data_accepted();
          client.close();
          co_return x;
        }(),
        20s, "exchange");
  }

  // Makes one request and returns its response body.
  static awaitable<std::string> fetch(h3::ClientH3Controller& client, h3::Fields fields,
                                      std::optional<aq::Buffer> body) {
    auto [ec, res] =
        co_await client.async_request(std::move(fields), std::move(body), as_tuple(use_awaitable));
    if (ec) throw std::runtime_error("request: " + ec.message());
    auto [bec, text] = co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
    if (bec) throw std::runtime_error("body: " + bec.message());
    co_return text;
  }

  // Stream IDs that the client's qlog shows in packets of `type` ("0RTT", "1RTT").
  std::set<int64_t> streams_sent_in(const std::string& trace_id, const std::string& type) {
    std::ifstream f(qlog_dir_ / (trace_id + "-client.sqlog"));
    std::set<int64_t> ids;
    std::string line;
    const std::string want = "\"packet_type\":\"" + type + "\"";
    while (std::getline(f, line)) {
      if (line.find("packet_sent") == std::string::npos || line.find(want) == std::string::npos) {
        continue;
      }
      for (size_t at = line.find("\"stream_id\":"); at != std::string::npos;
           at = line.find("\"stream_id\":", at + 1)) {
        ids.insert(std::stoll(line.substr(at + 12)));
      }
    }
    return ids;
  }

  Io io_;
  std::vector<std::shared_ptr<UdpRelay>> relays_;
  std::shared_ptr<AnyServerStore> store_ = std::make_shared<AnyServerStore>();
  aq::ClientSettings settings_ = client_quic_settings();
  std::filesystem::path qlog_dir_;
};

TEST_F(H3EarlyData, ResumedClientSendsSafeRequestsAsEarlyData) {
  TestServer srv(io_, echo_method);
  const Exchange first = exchange(srv.port());
  EXPECT_TRUE(first.established_at_connect) << "no ticket yet: a full handshake first";
  EXPECT_FALSE(first.resumed);
  EXPECT_TRUE(streams_sent_in(first.trace_id, "0RTT").empty());
  ASSERT_TRUE(store_->wait_puts(1));

  // The server answers a GET that came as early data before its handshake completes
  // (0.5-RTT): h3::Server attaches its driver where the connection is created, so the answer
  // is ready before the client's Finished is read.
  for (size_t i = 0; i < 4; ++i) {
    const Exchange next = exchange(srv.port());
    EXPECT_FALSE(next.established_at_connect) << "the connect completes on 0-RTT keys";
    EXPECT_TRUE(next.resumed);
    EXPECT_TRUE(next.early_accepted);
    EXPECT_EQ(next.get, "GET 0 early") << "connection " << i;
    EXPECT_EQ(next.post, "POST 3000") << "only safe requests go early";
    // The GET (stream 0) went as early data; the POST (stream 4) waited for the handshake.
    const auto early = streams_sent_in(next.trace_id, "0RTT");
    EXPECT_TRUE(early.count(0)) << "GET not sent in 0-RTT";
    EXPECT_FALSE(early.count(4)) << "POST sent in 0-RTT";
    EXPECT_TRUE(streams_sent_in(next.trace_id, "1RTT").count(4));
    ASSERT_TRUE(store_->wait_puts(i + 2));
  }
}

TEST_F(H3EarlyData, RefusedEarlyDataIsSentAgainAfterTheHandshake) {
  // The ticket allows 0-RTT, but the server it goes to cannot read it (its ticket key is
  // another), so it makes a full handshake and drops the early data.
  TestServer issuer(io_, echo_method);
  TestServer stranger(io_, echo_method);
  exchange(issuer.port());
  ASSERT_TRUE(store_->wait_puts(1));

  const Exchange second = exchange(stranger.port());
  EXPECT_FALSE(second.established_at_connect);
  EXPECT_FALSE(second.resumed);
  EXPECT_FALSE(second.early_accepted);
  EXPECT_EQ(second.get, "GET 0");
  EXPECT_EQ(second.post, "POST 3000");
  // The GET was sent early, dropped, and sent again on a new stream 0 in 1-RTT.
  EXPECT_TRUE(streams_sent_in(second.trace_id, "0RTT").count(0));
  EXPECT_TRUE(streams_sent_in(second.trace_id, "1RTT").count(0));
}

// A server that acts on nothing early answers 425 (Too Early): the client asks again once the
// handshake is done, and the caller only sees the final answer (RFC 8470 §4.2).
TEST_F(H3EarlyData, TooEarlyIsAskedAgainAfterTheHandshake) {
  std::atomic<int> too_early{0};
  TestServer srv(io_, [&](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    if (req.early_data()) {
      ++too_early;
      co_await res.async_respond(425, {}, aq::Buffer(), use_awaitable);
      co_return;
    }
    co_await echo_method(std::move(req), std::move(res));
  });
  exchange(srv.port());
  ASSERT_TRUE(store_->wait_puts(1));
  const Exchange next = exchange(srv.port());
  EXPECT_TRUE(next.early_accepted);
  EXPECT_EQ(next.get, "GET 0") << "the caller sees the answer to the request asked again";
  EXPECT_EQ(next.post, "POST 3000");
  EXPECT_TRUE(streams_sent_in(next.trace_id, "0RTT").count(0));
  EXPECT_EQ(too_early.load(), 1);
}

TEST_F(H3EarlyData, WithoutEarlyDataTheConnectWaitsForTheHandshake) {
  TestServer srv(io_, echo_method);
  settings_.early_data = false;
  exchange(srv.port());
  ASSERT_TRUE(store_->wait_puts(1));
  const Exchange second = exchange(srv.port());
  EXPECT_TRUE(second.established_at_connect);
  EXPECT_TRUE(second.resumed);
  EXPECT_FALSE(second.early_accepted);
  EXPECT_TRUE(streams_sent_in(second.trace_id, "0RTT").empty());
}

TEST_F(H3EarlyData, EarlyDataNeedsASessionStore) {
  settings_.session_store = nullptr;
  auto [ec, client] = io_.run(
      [&]() -> awaitable<std::tuple<std::error_code, h3::ClientH3Controller>> {
        co_return co_await h3::async_connect(io_.executor(), "127.0.0.1", 9, settings_, {},
                                             as_tuple(use_awaitable));
      }(),
      5s, "connect");
  EXPECT_EQ(ec, aq::make_error_code(aq::errc::invalid_argument));
}

}  // namespace
}  // namespace h3test
