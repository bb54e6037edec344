// listen_sharded(): one socket per shard on one port, each shard an io_context on a thread of its
// own, and the kernel steering every datagram by the shard byte of its destination connection
// ID. New connections spread over the shards; every request of a connection is served by its
// shard's thread, also after the client moves to a new port (the 4-tuple hash of a plain
// SO_REUSEPORT group would pick a socket at random then); Retry tokens made by one shard are
// accepted by it. Run under TSan (scripts/tsan.sh), this also checks that shards share nothing
// unguarded.
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

constexpr int kShards = 2;

// Which threads served each connection, by its trace id.
struct Served {
  std::mutex m;
  std::map<std::string, std::set<std::thread::id>> threads;

  void note(const std::string& conn) {
    std::lock_guard lock(m);
    threads[conn].insert(std::this_thread::get_id());
  }
};

awaitable<void> hello_noting_thread(std::shared_ptr<Served> served, h3::ServerRequest req,
                                    h3::ServerResponse res) {
  served->note(req.connection_trace_id());
  h3::Fields fields;  // named: g++ 12 mishandles braced temporaries in co_await arguments
  auto body = aq::Buffer::copy(std::string_view("hello"));
  co_await res.async_respond(200, std::move(fields), std::move(body), use_awaitable);
}

// A sharded h3::Server on 127.0.0.1 (port chosen by the kernel), each shard an io_context run
// by one thread, made for one thread (no strands).
class ShardedServer {
 public:
  explicit ShardedServer(aq::ServerSettings quic = server_quic_settings()) {
    for (int i = 0; i < kShards; ++i) {
      shards_.push_back(std::make_unique<Io>(1, ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    }
    std::vector<asio::any_io_executor> executors;
    for (auto& s : shards_)
      executors.push_back(s->executor());
    const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    std::error_code ec;
    listener_ = aq::listen_sharded(executors, {&ep, 1}, quic, ec);
    if (ec) throw std::runtime_error("listen_sharded: " + ec.message());
    server_.emplace(listener_, h3::Settings{},
                    [s = served_](h3::ServerRequest req, h3::ServerResponse res) {
                      return hello_noting_thread(s, std::move(req), std::move(res));
                    });
    asio::co_spawn(executors[0], server_->run(),
                   [d = done_](std::exception_ptr) { d->store(true); });
  }
  ~ShardedServer() {
    server_->stop();
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done_->load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    if (!done_->load()) ADD_FAILURE() << "h3::Server::run() did not return after stop()";
  }

  uint16_t port() const { return listener_.local_endpoints().at(0).port(); }
  const aq::Listener& listener() const { return listener_; }
  Served& served() { return *served_; }

 private:
  std::shared_ptr<Served> served_ = std::make_shared<Served>();
  std::shared_ptr<std::atomic<bool>> done_ = std::make_shared<std::atomic<bool>>(false);
  std::vector<std::unique_ptr<Io>> shards_;  // before the server: it ends first
  aq::Listener listener_;
  std::optional<h3::Server> server_;
};

struct ConnectionResult {
  std::vector<Response> responses;
  std::error_code migrate_ec;
};

// `conns` connections one after another, each `requests` GETs, with a migration to a new local
// port halfway through when `migrate`.
awaitable<std::vector<ConnectionResult>> run_clients(uint16_t port, int conns, int requests,
                                                     bool migrate) {
  std::vector<ConnectionResult> out;
  for (int c = 0; c < conns; ++c) {
    ConnectionResult r;
    auto client = co_await connect(port);
    for (int i = 0; i < requests; ++i) {
      if (migrate && i == requests / 2) {
        auto [ec] =
            co_await client.connection().async_migrate(std::nullopt, as_tuple(use_awaitable));
        r.migrate_ec = ec;
      }
      r.responses.push_back(co_await fetch(client, request("GET", port, "/hello")));
    }
    client.close();
    out.push_back(std::move(r));
  }
  co_return out;
}

void expect_all_served(const std::vector<ConnectionResult>& results, int requests) {
  for (size_t c = 0; c < results.size(); ++c) {
    EXPECT_FALSE(results[c].migrate_ec) << c << ": " << results[c].migrate_ec.message();
    ASSERT_EQ(results[c].responses.size(), static_cast<size_t>(requests));
    for (const auto& r : results[c].responses) {
      EXPECT_FALSE(r.ec) << "connection " << c << ": " << r.ec.message();
      EXPECT_EQ(r.status, 200);
      EXPECT_EQ(r.body, "hello");
    }
  }
}

// Each connection stays on one shard's thread, and the connections use both shards.
void expect_one_thread_per_connection(Served& served, size_t conns) {
  std::lock_guard lock(served.m);
  EXPECT_EQ(served.threads.size(), conns);
  std::set<std::thread::id> used;
  for (const auto& [conn, threads] : served.threads) {
    EXPECT_EQ(threads.size(), 1u) << conn << " was served by " << threads.size() << " threads";
    used.insert(threads.begin(), threads.end());
  }
  EXPECT_EQ(used.size(), static_cast<size_t>(kShards)) << "connections did not spread";
}

TEST(ShardedListener, ConnectionsSpreadAndStayOnTheirShard) {
  constexpr int kConns = 16;
  constexpr int kRequests = 4;
  Io client(1);
  ShardedServer srv;
  EXPECT_EQ(srv.listener().local_endpoints().size(), 1u);
  const auto results = client.run(run_clients(srv.port(), kConns, kRequests, false), 30s,
                                  "clients of a sharded listener");
  expect_all_served(results, kRequests);
  expect_one_thread_per_connection(srv.served(), kConns);
  EXPECT_EQ(srv.listener().stats().connections_accepted, static_cast<uint64_t>(kConns));
}

// After a migration the client sends from a new port: the program, not the kernel's 4-tuple
// hash, picks the socket, so the connection's own shard still gets its packets.
TEST(ShardedListener, MigratedConnectionsKeepTheirShard) {
  // Sixteen: a new connection's shard follows a byte of the client's random first DCID, and
  // with eight all landed on one shard about once in 128 runs (0.5^7): no spread.
  constexpr int kConns = 16;
  constexpr int kRequests = 4;
  Io client(1);
  ShardedServer srv;
  const auto results = client.run(run_clients(srv.port(), kConns, kRequests, true), 30s,
                                  "migrating clients of a sharded listener");
  expect_all_served(results, kRequests);
  expect_one_thread_per_connection(srv.served(), kConns);
}

// A Retry's new connection ID names the shard that sent it, so the token comes back to the
// shard that made it.
TEST(ShardedListener, RetryTokensReturnToTheirShard) {
  constexpr int kConns = 8;
  auto quic = server_quic_settings();
  quic.retry = true;
  Io client(1);
  ShardedServer srv(quic);
  const auto results =
      client.run(run_clients(srv.port(), kConns, 2, false), 30s, "clients after Retry");
  expect_all_served(results, 2);
  const auto st = srv.listener().stats();
  EXPECT_EQ(st.retries_sent, static_cast<uint64_t>(kConns));
  EXPECT_EQ(st.invalid_tokens, 0u);
  EXPECT_EQ(st.connections_accepted, static_cast<uint64_t>(kConns));
}

// local_endpoints() names each bound address once: a plain listener's sockets each have their
// own, a sharded listener's shards share their endpoint's.
TEST(ShardedListener, LocalEndpointsNameEachAddressOnce) {
  asio::io_context io;
  const std::vector<asio::ip::udp::endpoint> eps{{asio::ip::make_address("127.0.0.1"), 0},
                                                 {asio::ip::make_address("127.0.0.2"), 0}};
  std::error_code ec;
  auto plain = aq::listen(io.get_executor(), eps, server_quic_settings(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const std::vector<asio::any_io_executor> shards(kShards,
                                                  asio::any_io_executor(io.get_executor()));
  auto sharded = aq::listen_sharded(shards, eps, server_quic_settings(), ec);
  ASSERT_FALSE(ec) << ec.message();
  for (const aq::Listener* l : {&plain, &sharded}) {
    const auto bound = l->local_endpoints();
    ASSERT_EQ(bound.size(), 2u);
    EXPECT_EQ(bound[0].address(), eps[0].address());
    EXPECT_EQ(bound[1].address(), eps[1].address());
    EXPECT_NE(bound[0].port(), 0);
    EXPECT_NE(bound[1].port(), 0);
  }
  plain.close();
  sharded.close();
  io.run();  // the routers start, then stop accepting and close their sockets
}

TEST(ShardedListener, RefusesBadShardCounts) {
  asio::io_context io;
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  std::error_code ec;
  auto none = aq::listen_sharded({}, {&ep, 1}, server_quic_settings(), ec);
  EXPECT_EQ(ec, err(aq::errc::invalid_argument));
  EXPECT_FALSE(none.valid());
  const std::vector<asio::any_io_executor> too_many(aq::kMaxShards + 1,
                                                    asio::any_io_executor(io.get_executor()));
  ec = {};
  auto many = aq::listen_sharded(too_many, {&ep, 1}, server_quic_settings(), ec);
  EXPECT_EQ(ec, err(aq::errc::invalid_argument));
  EXPECT_FALSE(many.valid());
  ec = {};
  auto no_endpoint = aq::listen_sharded({&too_many[0], 1}, {}, server_quic_settings(), ec);
  EXPECT_EQ(ec, err(aq::errc::invalid_argument));
}

}  // namespace
}  // namespace h3test
