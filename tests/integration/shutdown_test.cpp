// Shutdown of an h3::Server with 500 requests in flight (issue 5, item 5): 10 connections of 50
// requests each, every handler streaming a slow body. Whatever the way down — graceful drain,
// stop now, or a drain deadline shorter than the bodies — each request either completes intact
// or ends with a clean error, nothing hangs, run() returns, and the io_context runs out of work
// (no connection, worker or timer outlives the server).
#include <charconv>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kConnections = 10;
constexpr size_t kPerConnection = 50;
constexpr size_t kRequests = kConnections * kPerConnection;
constexpr size_t kChunk = 1024;

// What the server's handlers did.
struct ServerSide {
  ServerSide(size_t n, Ms g) : chunks(n), gap(g) {}
  const size_t chunks;
  const Ms gap;
  std::array<std::atomic<bool>, kRequests> started{};
  std::atomic<size_t> started_count{0};
  std::atomic<size_t> ended{0};
  std::atomic<size_t> failed{0};  // a write or the finish reported an error
  Payload body() const { return payload(chunks * kChunk, 5); }
};

// "/slow" (request x-id): the body in kChunk pieces, `gap` apart. Anything else: "ok".
awaitable<void> slow_handler(std::shared_ptr<ServerSide> st, h3::ServerRequest req,
                             h3::ServerResponse res) {
  size_t id = kRequests;
  if (auto v = h3::find(req.headers(), "x-id"))
    std::from_chars(v->data(), v->data() + v->size(), id);
  if (req.path() != "/slow" || id >= kRequests) {
    co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), as_tuple(use_awaitable));
    co_return;
  }
  if (!st->started[id].exchange(true)) ++st->started_count;
  const Payload body = st->body();
  auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
  for (size_t i = 0; i < st->chunks && !ec; ++i) {
    co_await sleep_for(st->gap);
    std::tie(ec) = co_await res.async_write(
        aq::Buffer::shared(body, {body->data() + i * kChunk, kChunk}), as_tuple(use_awaitable));
  }
  if (!ec) std::tie(ec) = co_await res.async_finish({}, as_tuple(use_awaitable));
  if (ec) ++st->failed;
  ++st->ended;
}

// How one request ended, seen by the client.
struct Outcome {
  std::error_code ec;  // of the request or of its body; empty: the body ended normally
  bool intact = false;
  Clock::time_point at;
};

struct ClientSide {
  std::mutex m;
  std::array<Outcome, kRequests> outcomes{};
  std::atomic<size_t> done{0};
  std::vector<h3::ClientH3Controller> clients;
};

awaitable<void> one_request(h3::ClientH3Controller client, uint16_t port, size_t id,
                            Payload expected, std::shared_ptr<ClientSide> cs) {
  Outcome o;
  // Built outside the co_await: g++ 12 miscompiles an initializer list inside one.
  h3::Fields fields = request("GET", port, "/slow", {{"x-id", std::to_string(id)}});
  auto [ec, res] =
      co_await client.async_request(std::move(fields), std::nullopt, as_tuple(use_awaitable));
  if (ec) {
    o.ec = ec;
  } else {
    const auto b = co_await read_body(res, 4096);
    o.ec = b.ec;
    o.intact =
        !b.ec && res.status() == 200 && b.size == expected->size() && b.sha == sha256(*expected);
  }
  o.at = Clock::now();
  {
    std::lock_guard lock(cs->m);
    cs->outcomes[id] = o;
  }
  ++cs->done;
}

// Connects kConnections clients and starts kPerConnection requests on each.
awaitable<void> start_requests(uint16_t port, Payload expected, std::shared_ptr<ClientSide> cs) {
  for (size_t c = 0; c < kConnections; ++c) {
    auto client = co_await connect(port);
    cs->clients.push_back(client);
    for (size_t r = 0; r < kPerConnection; ++r) {
      asio::co_spawn(client.executor(),
                     one_request(client, port, c * kPerConnection + r, expected, cs),
                     asio::detached);
    }
  }
}

bool clean(std::error_code ec) {
  return ec == aq::errc::going_away || ec == aq::errc::request_rejected ||
         ec == aq::errc::stream_reset || ec == aq::errc::connection_closed;
}

bool wait_for(const std::function<bool()>& pred, Ms timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

// A server with 500 requests in flight, all handlers started; `down` takes it down.
class ShutdownTest : public ::testing::Test {
 protected:
  void start(size_t chunks, Ms gap) {
    st_ = std::make_shared<ServerSide>(chunks, gap);
    server_.emplace(io_, [st = st_](h3::ServerRequest req, h3::ServerResponse res) {
      return slow_handler(st, std::move(req), std::move(res));
    });
    io_.run(start_requests(server_->port(), st_->body(), cs_), 15s, "connect the clients");
    ASSERT_TRUE(wait_for([&] { return st_->started_count == kRequests; }, 15s))
        << st_->started_count << " of " << kRequests << " handlers started";
    ASSERT_EQ(cs_->done, 0u) << "a request ended before the shutdown";
  }

  // Waits (bounded) for every request, every handler and run() to end.
  void expect_all_end(Ms timeout) {
    EXPECT_TRUE(wait_for([&] { return cs_->done == kRequests; }, timeout))
        << cs_->done << " of " << kRequests << " requests ended";
    EXPECT_TRUE(wait_for([&] { return st_->ended == kRequests; }, timeout))
        << st_->ended << " of " << kRequests << " handlers ended";
    EXPECT_TRUE(wait_for([&] { return server_->stopped(); }, timeout))
        << "h3::Server::run() did not return";
  }

  // Counts outcomes; every one must be intact or a clean error.
  struct Tally {
    size_t intact = 0, errors = 0;
    Clock::time_point last{};
  };
  Tally tally() {
    Tally t;
    std::lock_guard lock(cs_->m);
    for (size_t i = 0; i < kRequests; ++i) {
      const Outcome& o = cs_->outcomes[i];
      if (o.intact) {
        ++t.intact;
      } else {
        ++t.errors;
        EXPECT_TRUE(clean(o.ec)) << "request " << i << ": " << o.ec.message();
      }
      t.last = std::max(t.last, o.at);
    }
    return t;
  }

  // Nothing may be left running once the server is gone.
  void expect_no_leftovers() {
    cs_->clients.clear();
    server_.reset();
    EXPECT_TRUE(io_.drain(10s)) << "the io_context still had work after the shutdown";
  }

  std::shared_ptr<ClientSide> cs_ = std::make_shared<ClientSide>();
  std::shared_ptr<ServerSide> st_;
  Io io_{2};
  std::optional<TestServer> server_;
};

// Graceful: GOAWAY, every request already received runs to its end, then the connections close.
TEST_F(ShutdownTest, GracefulDrainCompletesEveryRequestInFlight) {
  start(40, 25ms);  // about 1 s per body
  if (HasFatalFailure()) return;
  server_->server().shutdown(20s);
  // Requests sent after the shutdown began: served if they beat the GOAWAY, else refused.
  std::vector<Response> late(kConnections);
  io_.run(
      [&]() -> awaitable<void> {
        for (size_t c = 0; c < kConnections; ++c)
          late[c] = co_await fetch(cs_->clients[c], request("GET", server_->port(), "/late"));
      }(),
      15s, "late requests");
  expect_all_end(15s);
  const auto t = tally();
  EXPECT_EQ(t.intact, kRequests) << "requests in flight must finish under a long drain";
  EXPECT_EQ(st_->failed, 0u);
  for (const auto& r : late)
    EXPECT_TRUE(!r.ec || clean(r.ec)) << r.ec.message();
  expect_no_leftovers();
}

// stop(): every connection closes at once; the requests fail promptly, the handlers' writes too.
TEST_F(ShutdownTest, StopEndsEveryRequestAtOnce) {
  start(400, 25ms);  // 10 s per body: none can finish
  if (HasFatalFailure()) return;
  const auto t0 = Clock::now();
  server_->server().stop();
  expect_all_end(5s);
  const auto t = tally();
  EXPECT_EQ(t.intact, 0u);
  EXPECT_EQ(t.errors, kRequests);
  EXPECT_LT(t.last - t0, 2s) << "requests ended only "
                             << std::chrono::duration_cast<Ms>(t.last - t0).count()
                             << " ms after stop()";
  EXPECT_EQ(st_->failed, kRequests);
  expect_no_leftovers();
}

// A drain deadline shorter than the bodies: GOAWAY, then the connections are cut at the deadline.
TEST_F(ShutdownTest, DrainDeadlineCutsSlowBodies) {
  start(400, 25ms);
  if (HasFatalFailure()) return;
  constexpr Ms kDrain{500};
  const auto t0 = Clock::now();
  server_->server().shutdown(kDrain);
  expect_all_end(8s);
  const auto t = tally();
  EXPECT_EQ(t.intact, 0u);
  EXPECT_EQ(t.errors, kRequests);
  const auto cut = std::chrono::duration_cast<Ms>(t.last - t0);
  EXPECT_GE(cut, kDrain) << "cut before the deadline";
  EXPECT_LT(cut, kDrain + 2s) << "cut long after the deadline";
  EXPECT_EQ(st_->failed, kRequests);
  expect_no_leftovers();
}

}  // namespace
}  // namespace h3test
