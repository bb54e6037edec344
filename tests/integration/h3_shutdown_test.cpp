// Graceful shutdown and connection-level limits: GOAWAY while a large response streams (through
// h3::Server and through ServerH3Controller), the drain deadline, max_requests_per_connection
// and post_accept_timeout.
#include <asio/experimental/awaitable_operators.hpp>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr size_t kStreamed = 8u << 20;

// Cues between a client coroutine and the handler.
struct Gate {
  std::atomic<bool> open{false};
  std::atomic<bool> handler_done{false};
  std::mutex m;
  std::error_code handler_ec;
};

// "/big": half of a kStreamed body, then (once the gate opens) the rest. "/forever": a trickle
// that only an error ends. Anything else: "ok".
awaitable<void> streaming_handler(std::shared_ptr<Gate> g, h3::ServerRequest req,
                                  h3::ServerResponse res) {
  const auto body = payload(kStreamed, 7);
  std::error_code ec;
  if (req.path() == "/big") {
    std::tie(ec) = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    const size_t half = body->size() / 2;
    if (!ec) {
      ec = co_await write_body(
          res, std::make_shared<std::vector<uint8_t>>(body->begin(), body->begin() + half));
    }
    if (!ec) co_await wait_until([&] { return g->open.load(); }, 10s);
    if (!ec) {
      ec = co_await send_body(
          res, std::make_shared<std::vector<uint8_t>>(body->begin() + half, body->end()));
    }
  } else if (req.path() == "/forever") {
    std::tie(ec) = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    for (int i = 0; i < 1000 && !ec; ++i) {  // 20 s at most
      std::tie(ec) = co_await res.async_write(aq::Buffer::copy("tick"), as_tuple(use_awaitable));
      co_await sleep_for(20ms);
    }
  } else {
    std::tie(ec) =
        co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), as_tuple(use_awaitable));
  }
  {
    std::lock_guard lock(g->m);
    g->handler_ec = ec;
  }
  g->handler_done = true;
}

bool refused(std::error_code ec) {
  return ec == aq::errc::going_away || ec == aq::errc::request_rejected;
}

struct Closed {
  std::error_code ec;
  aq::CloseInfo info;
};

awaitable<Closed> wait_closed(aq::ConnectionHandle h) {
  auto [ec, info] = co_await h.async_wait_closed(as_tuple(use_awaitable));
  co_return Closed{ec, info};
}

struct DrainOutcome {
  std::error_code request;  // the /big request
  std::error_code refused;  // a request sent after GOAWAY
  BodyResult big;           // the /big body
  Closed closed;            // how the connection ended
};

// Requests /big, reads a little, calls `shutdown`, checks that a new request is refused, opens
// the gate and reads the rest; then waits for the connection's end.
awaitable<DrainOutcome> drain_scenario(uint16_t port, std::shared_ptr<Gate> g,
                                       std::function<void()> shutdown) {
  DrainOutcome o;
  auto client = co_await connect(port);
  auto [ec, res] = co_await client.async_request(request("GET", port, "/big"), std::nullopt,
                                                 as_tuple(use_awaitable));
  o.request = ec;
  if (ec) co_return o;
  std::vector<uint8_t> first(1000);
  auto [rec, n] = co_await res.async_read_some(asio::buffer(first), as_tuple(use_awaitable));
  if (rec) {
    o.big.ec = rec;
    co_return o;
  }
  shutdown();
  co_await sleep_for(400ms);  // both GOAWAY frames are out by now (200 ms apart)
  auto late = co_await fetch(client, request("GET", port, "/late"));
  o.refused = late.ec;
  g->open = true;
  o.big = co_await read_body(res);
  // read_body hashed what followed the first n bytes.
  const auto body = payload(kStreamed, 7);
  if (!o.big.ec &&
      (!std::equal(first.begin(), first.begin() + static_cast<ptrdiff_t>(n), body->begin()) ||
       o.big.sha != sha256({body->data() + n, body->size() - n}))) {
    o.big.ec = err(aq::errc::malformed_message);  // corrupted
  }
  o.big.size += n;
  o.closed = co_await wait_closed(client.connection());
  co_return o;
}

void expect_drained(const DrainOutcome& o, const Gate& g) {
  ASSERT_FALSE(o.request) << o.request.message();
  EXPECT_TRUE(refused(o.refused)) << "a request after GOAWAY: " << o.refused.message();
  EXPECT_FALSE(o.big.ec) << "the in-flight response: " << o.big.ec.message();
  EXPECT_EQ(o.big.size, kStreamed);
  EXPECT_TRUE(o.closed.info.closed);
  EXPECT_TRUE(o.closed.info.by_peer);
  EXPECT_TRUE(o.closed.info.is_application);
  EXPECT_EQ(o.closed.info.code, h3::kNoError);
  EXPECT_TRUE(g.handler_done.load());
}

// ------------------------------------------------------------------ h3::Server::shutdown

TEST(H3Shutdown, ServerShutdownLetsTheInFlightResponseFinish) {
  auto g = std::make_shared<Gate>();
  Io io;
  TestServer srv(io, [g](h3::ServerRequest req, h3::ServerResponse res) {
    return streaming_handler(g, std::move(req), std::move(res));
  });
  const auto o =
      io.run(drain_scenario(srv.port(), g, [&] { srv.server().shutdown(10s); }), 20s, "drain");
  expect_drained(o, *g);
  {
    std::lock_guard lock(g->m);
    EXPECT_FALSE(g->handler_ec) << g->handler_ec.message();
  }
  // The listener is closed: a new connection gets no answer.
  const auto connect_ec = io.run(
      [&]() -> awaitable<std::error_code> {
        auto quic = client_quic_settings();
        quic.handshake_timeout = 300ms;
        auto ex = co_await asio::this_coro::executor;
        auto [ec, c] = co_await h3::async_connect(ex, "127.0.0.1", srv.port(), quic, {},
                                                  as_tuple(use_awaitable));
        co_return ec;
      }(),
      5s, "connect after shutdown");
  EXPECT_EQ(connect_ec, err(aq::errc::handshake_timeout)) << connect_ec.message();
  EXPECT_TRUE(io.run(wait_until([&] { return srv.stopped(); }, 5s), 6s, "run() returns"));
}

// The drain deadline closes a connection whose request never ends.
TEST(H3Shutdown, DrainDeadlineCutsARequestThatNeverEnds) {
  auto g = std::make_shared<Gate>();
  Io io;
  TestServer srv(io, [g](h3::ServerRequest req, h3::ServerResponse res) {
    return streaming_handler(g, std::move(req), std::move(res));
  });
  struct Out {
    std::error_code request;
    BodyResult body;
    Ms elapsed{0};
    Closed closed;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/forever"),
                                                       std::nullopt, as_tuple(use_awaitable));
        out.request = ec;
        if (ec) co_return out;
        const auto t0 = std::chrono::steady_clock::now();
        srv.server().shutdown(500ms);
        out.body = co_await read_body(res);
        out.elapsed = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0);
        out.closed = co_await wait_closed(client.connection());
        co_return out;
      }(),
      10s, "drain deadline");
  ASSERT_FALSE(o.request) << o.request.message();
  EXPECT_TRUE(o.body.ec && o.body.ec != asio::error::eof) << o.body.ec.message();
  EXPECT_GT(o.body.size, 0u);
  EXPECT_GE(o.elapsed, 400ms) << "cut before the drain period";
  EXPECT_LT(o.elapsed, 3000ms) << "not cut at the drain deadline";
  EXPECT_TRUE(o.closed.info.by_peer);
  EXPECT_TRUE(io.run(wait_until([&] { return g->handler_done.load(); }, 5s), 6s, "handler"));
  std::lock_guard lock(g->m);
  EXPECT_TRUE(g->handler_ec) << "the handler's writes must fail once the connection is gone";
}

// ------------------------------------------------------------------ ServerH3Controller

// A server built from h3::start(): the test holds each connection's controller.
class ControlledServer {
 public:
  ControlledServer(Io& io, std::shared_ptr<Gate> g, const h3::Settings& h3s = {}) {
    std::error_code ec;
    const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    listener_ = aq::listen(io.executor(), {&ep, 1}, server_quic_settings(), ec);
    if (ec) throw std::runtime_error("listen: " + ec.message());
    port_ = listener_.local_endpoints().at(0).port();
    asio::co_spawn(io.executor(), accept_loop(listener_, h3s, g, st_), asio::detached);
  }
  ~ControlledServer() { listener_.close(); }

  uint16_t port() const { return port_; }
  /// The controller of the first connection, once there is one.
  std::optional<h3::ServerH3Controller> first() const {
    std::lock_guard lock(st_->m);
    if (st_->controllers.empty()) return std::nullopt;
    return st_->controllers.front();
  }
  /// Set once the first connection's async_accept reported its end.
  bool accept_ended() const { return st_->accept_ended.load(); }
  std::error_code accept_error() const {
    std::lock_guard lock(st_->m);
    return st_->accept_ec;
  }

 private:
  struct State {
    mutable std::mutex m;
    std::vector<h3::ServerH3Controller> controllers;
    std::atomic<bool> accept_ended{false};
    std::error_code accept_ec;
  };

  static awaitable<void> accept_loop(aq::Listener l, h3::Settings h3s, std::shared_ptr<Gate> g,
                                     std::shared_ptr<State> st) {
    for (;;) {
      auto [ec, incoming] = co_await l.async_accept(as_tuple(use_awaitable));
      if (ec) co_return;
      auto ctl = h3::start(std::move(incoming), h3s);
      {
        std::lock_guard lock(st->m);
        st->controllers.push_back(ctl);
      }
      asio::co_spawn(ctl.executor(), requests(ctl, g, st), asio::detached);
    }
  }

  static awaitable<void> requests(h3::ServerH3Controller ctl, std::shared_ptr<Gate> g,
                                  std::shared_ptr<State> st) {
    for (;;) {
      auto [ec, req, res] = co_await ctl.async_accept(as_tuple(use_awaitable));
      if (ec) {
        {
          std::lock_guard lock(st->m);
          st->accept_ec = ec;
        }
        st->accept_ended = true;
        co_return;
      }
      asio::co_spawn(ctl.executor(), streaming_handler(g, std::move(req), std::move(res)),
                     asio::detached);
    }
  }

  aq::Listener listener_;
  uint16_t port_ = 0;
  std::shared_ptr<State> st_ = std::make_shared<State>();
};

TEST(H3Shutdown, ControllerShutdownLetsTheInFlightResponseFinish) {
  auto g = std::make_shared<Gate>();
  Io io;
  ControlledServer srv(io, g);
  const auto o = io.run(drain_scenario(srv.port(), g, [&] { srv.first()->shutdown(10s); }), 20s,
                        "controller drain");
  expect_drained(o, *g);
  EXPECT_TRUE(io.run(wait_until([&] { return srv.accept_ended(); }, 5s), 6s, "accept ends"));
  EXPECT_TRUE(srv.accept_error()) << "async_accept must fail once the connection is closed";
}

// ------------------------------------------------------------------ limits

TEST(H3Limits, MaxRequestsPerConnectionSequential) {
  auto g = std::make_shared<Gate>();
  h3::Settings s;
  s.max_requests_per_connection = 3;
  Io io;
  TestServer srv(
      io,
      [g](h3::ServerRequest req, h3::ServerResponse res) {
        return streaming_handler(g, std::move(req), std::move(res));
      },
      s);
  struct Out {
    std::vector<Response> r;
    Closed closed;
    std::error_code next_connection;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        // The GOAWAY goes out when the third request arrives, ahead of its response.
        for (int i = 0; i < 4; ++i)
          out.r.push_back(co_await fetch(client, request("GET", srv.port(), "/ok")));
        out.closed = co_await wait_closed(client.connection());
        out.r.push_back(co_await fetch(client, request("GET", srv.port(), "/ok")));
        // A new connection serves again.
        auto again = co_await connect(srv.port());
        out.next_connection = (co_await fetch(again, request("GET", srv.port(), "/ok"))).ec;
        again.close();
        co_return out;
      }(),
      10s, "request limit");
  ASSERT_EQ(o.r.size(), 5u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(o.r[i].ec) << i << ": " << o.r[i].ec.message();
    EXPECT_EQ(o.r[i].body, "ok");
  }
  EXPECT_TRUE(refused(o.r[3].ec)) << o.r[3].ec.message();
  // After the server's clean close (H3_NO_ERROR).
  EXPECT_EQ(o.r[4].ec, err(aq::errc::connection_closed)) << o.r[4].ec.message();
  EXPECT_EQ(o.closed.info.code, h3::kNoError);
  EXPECT_FALSE(o.next_connection) << o.next_connection.message();
}

// Requests beyond the limit that were sent before the GOAWAY are rejected, safe to retry.
TEST(H3Limits, MaxRequestsPerConnectionConcurrent) {
  auto g = std::make_shared<Gate>();
  h3::Settings s;
  s.max_requests_per_connection = 3;
  Io io;
  TestServer srv(
      io,
      [g](h3::ServerRequest req, h3::ServerResponse res) {
        return streaming_handler(g, std::move(req), std::move(res));
      },
      s);
  const auto r = io.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        auto f = [&] { return fetch(client, request("GET", srv.port(), "/ok")); };
        auto [a, b, c, d, e, f6] = co_await (f() && f() && f() && f() && f() && f());
        client.close();
        co_return std::vector<Response>{a, b, c, d, e, f6};
      }(),
      10s, "concurrent requests over the limit");
  int ok = 0, rejected = 0;
  for (const auto& x : r) {
    if (!x.ec && x.body == "ok") ++ok;
    if (x.ec == aq::errc::request_rejected) ++rejected;
  }
  EXPECT_EQ(ok, 3);
  EXPECT_EQ(rejected, 3);
}

// Requests queued behind the stream limit when the GOAWAY arrives fail with going_away; the
// ones already sent are served.
TEST(H3Limits, QueuedRequestsFailOnGoaway) {
  auto g = std::make_shared<Gate>();
  h3::Settings s;
  s.max_requests_per_connection = 2;
  auto quic = server_quic_settings();
  quic.max_streams_bidi = 1;
  Io io;
  TestServer srv(
      io,
      [g](h3::ServerRequest req, h3::ServerResponse res) {
        return streaming_handler(g, std::move(req), std::move(res));
      },
      s, quic);
  const auto r = io.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        auto f = [&] { return fetch(client, request("GET", srv.port(), "/ok")); };
        auto [a, b, c, d] = co_await (f() && f() && f() && f());
        co_return std::vector<Response>{a, b, c, d};
      }(),
      10s, "queued requests and GOAWAY");
  ASSERT_EQ(r.size(), 4u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_FALSE(r[i].ec) << i << ": " << r[i].ec.message();
    EXPECT_EQ(r[i].body, "ok");
  }
  for (int i = 2; i < 4; ++i)
    EXPECT_EQ(r[i].ec, err(aq::errc::going_away)) << i << ": " << r[i].ec.message();
}

TEST(H3Limits, PostAcceptTimeoutClosesAnIdleConnection) {
  auto g = std::make_shared<Gate>();
  h3::Settings s;
  s.post_accept_timeout = 300ms;
  Io io;
  TestServer srv(
      io,
      [g](h3::ServerRequest req, h3::ServerResponse res) {
        return streaming_handler(g, std::move(req), std::move(res));
      },
      s);
  struct Out {
    Closed idle;
    Ms idle_after{0};
    Response busy_first, busy_later;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        const auto t0 = std::chrono::steady_clock::now();
        auto idle = co_await connect(srv.port());
        auto busy = co_await connect(srv.port());
        out.busy_first = co_await fetch(busy, request("GET", srv.port(), "/ok"));
        out.idle = co_await wait_closed(idle.connection());
        out.idle_after = std::chrono::duration_cast<Ms>(std::chrono::steady_clock::now() - t0);
        co_await sleep_for(300ms);
        out.busy_later = co_await fetch(busy, request("GET", srv.port(), "/ok"));
        busy.close();
        co_return out;
      }(),
      10s, "post-accept timeout");
  EXPECT_TRUE(o.idle.info.by_peer);
  EXPECT_EQ(o.idle.info.code, h3::kNoError);
  EXPECT_GE(o.idle_after, 250ms);
  EXPECT_LT(o.idle_after, 2000ms);
  EXPECT_FALSE(o.busy_first.ec) << o.busy_first.ec.message();
  EXPECT_FALSE(o.busy_later.ec) << "a connection that sent a request stays: "
                                << o.busy_later.ec.message();
}

}  // namespace
}  // namespace h3test
