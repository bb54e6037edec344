// Life of HTTP/3 connections and handles: client shutdown, server stop with requests in flight
// and queued, handles outliving their connection, misuse of a body writer, priorities, and the
// connection count of h3::Server.
#include <asio/experimental/awaitable_operators.hpp>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

using namespace asio::experimental::awaitable_operators;

// "/slow": 2 MB after 300 ms. "/hang": headers, then nothing until the connection ends.
// "/write-first": body bytes before the headers. "/priority": the priority the request asked
// for. "/read-all": "ok" once the whole request body is in. Anything else: "ok".
awaitable<void> handler(h3::ServerRequest req, h3::ServerResponse res) {
  if (req.path() == "/slow") {
    co_await sleep_for(300ms);
    co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    co_await send_body(res, payload(2'000'000, 21));
  } else if (req.path() == "/hang") {
    auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    // A write that waits is not possible without a reader; poll the stream with empty writes.
    for (int i = 0; i < 1000 && !ec; ++i) {
      co_await sleep_for(10ms);
      std::tie(ec) = co_await res.async_write(aq::Buffer(), as_tuple(use_awaitable));
    }
  } else if (req.path() == "/write-first") {
    auto [ec] = co_await res.async_write(aq::Buffer::copy("body"), as_tuple(use_awaitable));
    const std::string body = ec == aq::errc::invalid_argument ? "refused" : ec.message();
    co_await res.async_respond(200, {}, aq::Buffer::copy(body), as_tuple(use_awaitable));
  } else if (req.path() == "/read-all") {
    auto [ec, body] = co_await req.async_read_all(1 << 20, as_tuple(use_awaitable));
    if (!ec) co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), as_tuple(use_awaitable));
  } else if (req.path() == "/priority") {
    const auto p = req.priority();
    const std::string body = "u=" + std::to_string(p.urgency) + (p.incremental ? ", i" : "");
    co_await res.async_respond(200, {}, aq::Buffer::copy(body), as_tuple(use_awaitable));
  } else {
    co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), as_tuple(use_awaitable));
  }
}

TEST(H3Lifecycle, ClientShutdownFinishesRunningRequests) {
  Io io;
  TestServer srv(io, handler);
  struct Out {
    BodyResult slow;
    std::error_code after_shutdown;
    aq::CloseInfo closed;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/slow"),
                                                       std::nullopt, as_tuple(use_awaitable));
        if (ec) {
          out.slow.ec = ec;
          co_return out;
        }
        client.shutdown();
        out.after_shutdown = (co_await fetch(client, request("GET", srv.port(), "/"))).ec;
        out.slow = co_await read_body(res);
        auto [cec, info] = co_await client.connection().async_wait_closed(as_tuple(use_awaitable));
        out.closed = info;
        co_return out;
      }(),
      10s, "client shutdown");
  EXPECT_EQ(o.after_shutdown, err(aq::errc::going_away)) << o.after_shutdown.message();
  EXPECT_FALSE(o.slow.ec) << o.slow.ec.message();
  EXPECT_EQ(hex(o.slow.sha), hex(sha256(*payload(2'000'000, 21))));
  EXPECT_TRUE(o.closed.closed);
  EXPECT_FALSE(o.closed.by_peer) << "the client closes once its requests are done";
  EXPECT_EQ(o.closed.code, h3::kNoError);
}

// With no request running on a quiet connection, a client's shutdown() closes it at once, not
// at the idle timeout (set far beyond the test's own limit here).
TEST(H3Lifecycle, ClientShutdownWhenIdleClosesAtOnce) {
  Io io;
  TestServer srv(io, handler);
  auto quic = client_quic_settings();
  quic.idle_timeout = std::chrono::seconds(60);
  const auto closed = io.run(
      [&]() -> awaitable<aq::CloseInfo> {
        const h3::Settings h3s;
        auto client = co_await connect(srv.port(), h3s, quic);
        const Response r = co_await fetch(client, request("GET", srv.port(), "/"));
        if (r.ec) throw std::runtime_error("GET: " + r.ec.message());
        co_await sleep_for(500ms);  // until nothing is left to acknowledge: no timer but idle's
        client.shutdown();
        auto [cec, info] = co_await client.connection().async_wait_closed(as_tuple(use_awaitable));
        co_return info;
      }(),
      5s, "idle client shutdown");
  EXPECT_TRUE(closed.closed);
  EXPECT_FALSE(closed.by_peer);
  EXPECT_EQ(closed.code, h3::kNoError);
}

// Server::stop closes connections at once: a request waiting for its response and one queued
// behind the server's stream limit both fail, and nothing hangs.
TEST(H3Lifecycle, ServerStopFailsRequestsInFlightAndQueued) {
  auto quic = server_quic_settings();
  quic.max_streams_bidi = 1;
  Io io;
  TestServer srv(io, handler, {}, quic);
  struct Out {
    std::error_code hanging_read, queued;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/hang"),
                                                       std::nullopt, as_tuple(use_awaitable));
        if (ec) {
          out.hanging_read = ec;
          co_return out;
        }
        // (Not awaitable<void>: asio 1.22 cannot chain `&&` onto one.)
        auto stop = [&]() -> awaitable<bool> {
          co_await sleep_for(100ms);  // the second request is queued by then
          srv.server().stop(h3::kInternalError);
          co_return true;
        };
        auto [body, queued, stopped] = co_await (
            read_body(res) && fetch(client, request("GET", srv.port(), "/queued")) && stop());
        out.hanging_read = body.ec;
        out.queued = queued.ec;
        co_return out;
      }(),
      10s, "stop with requests in flight");
  EXPECT_TRUE(o.hanging_read && o.hanging_read != asio::error::eof) << o.hanging_read.message();
  EXPECT_TRUE(o.queued) << "the queued request must fail, not wait";
  EXPECT_TRUE(io.run(wait_until([&] { return srv.stopped(); }, 5s), 6s, "run() returns"));
}

// Handles stay valid after the connection ended; their operations fail cleanly. The open request
// goes to "/read-all", whose handler waits for a body that never ends: with a path answered at
// once, the response and the server's STOP_SENDING could arrive before the close (seen under
// load), and the late write and read would report those instead.
TEST(H3Lifecycle, HandlesOutliveTheirConnection) {
  Io io;
  TestServer srv(io, handler);
  struct Out {
    std::error_code request, open, write, read;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto [ec, req] = co_await client.async_open(request("POST", srv.port(), "/read-all"),
                                                    as_tuple(use_awaitable));
        if (ec) {
          out.open = ec;
          co_return out;
        }
        client.close();
        co_await client.connection().async_wait_closed(as_tuple(use_awaitable));
        out.request = (co_await fetch(client, request("GET", srv.port(), "/"))).ec;
        std::tie(out.open, std::ignore) =
            co_await client.async_open(request("POST", srv.port(), "/"), as_tuple(use_awaitable));
        std::tie(out.write) =
            co_await req.async_write(aq::Buffer::copy("late"), as_tuple(use_awaitable));
        auto [rec, res] = co_await req.async_response(as_tuple(use_awaitable));
        out.read = rec;
        co_return out;
      }(),
      10s, "handles after the end");
  EXPECT_EQ(o.request, err(aq::errc::connection_closed)) << o.request.message();
  EXPECT_EQ(o.open, err(aq::errc::connection_closed)) << o.open.message();
  EXPECT_EQ(o.write, err(aq::errc::connection_closed)) << o.write.message();
  EXPECT_EQ(o.read, err(aq::errc::connection_closed)) << o.read.message();
}

TEST(H3Lifecycle, WriterMisuseIsReported) {
  Io io;
  TestServer srv(io, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    auto [ec, body] = co_await req.async_read_all(1 << 20, as_tuple(use_awaitable));
    co_await res.async_respond(200, {}, aq::Buffer::take(std::move(body)), use_awaitable);
  });
  struct Out {
    std::error_code empty_write, finish, finish_again, write_after;
    Response r;
    std::error_code read_again;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto [ec, req] =
            co_await client.async_open(request("POST", srv.port(), "/"), as_tuple(use_awaitable));
        if (ec) {
          out.r.ec = ec;
          co_return out;
        }
        std::tie(out.empty_write) = co_await req.async_write(aq::Buffer(), as_tuple(use_awaitable));
        co_await req.async_write(aq::Buffer::copy("abc"), as_tuple(use_awaitable));
        std::tie(out.finish) = co_await req.async_finish({}, as_tuple(use_awaitable));
        std::tie(out.finish_again) = co_await req.async_finish({}, as_tuple(use_awaitable));
        std::tie(out.write_after) =
            co_await req.async_write(aq::Buffer::copy("x"), as_tuple(use_awaitable));
        auto [rec, res] = co_await req.async_response(as_tuple(use_awaitable));
        out.r.ec = rec;
        if (!rec) {
          std::tie(out.r.ec, out.r.body) =
              co_await res.async_read_all(100, as_tuple(use_awaitable));
          char c;
          std::tie(out.read_again, std::ignore) =
              co_await res.async_read_some(asio::buffer(&c, 1), as_tuple(use_awaitable));
        }
        client.close();
        co_return out;
      }(),
      10s, "writer misuse");
  EXPECT_FALSE(o.empty_write) << o.empty_write.message();
  EXPECT_FALSE(o.finish) << o.finish.message();
  EXPECT_EQ(o.finish_again, err(aq::errc::stream_finished)) << o.finish_again.message();
  EXPECT_EQ(o.write_after, err(aq::errc::stream_finished)) << o.write_after.message();
  EXPECT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body, "abc");
  EXPECT_EQ(o.read_again, asio::error::eof) << o.read_again.message();
}

TEST(H3Lifecycle, ResponseBodyBeforeHeadersIsRefused) {
  Io io;
  TestServer srv(io, handler);
  const auto r = io.run(get_once(srv.port(), "/write-first"), 10s, "write before headers");
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.body, "refused");
}

// Connections whose handshake fails never start HTTP/3; the server must still let them go
// (TestServer's destructor checks that run() returns after stop()).
TEST(H3Lifecycle, FailedHandshakesAreForgotten) {
  Io io;
  TestServer srv(io, handler);
  const auto r = io.run(
      [&]() -> awaitable<std::pair<std::error_code, bool>> {
        auto quic = client_quic_settings();
        quic.tls.alpn = {"not-h3"};
        auto ex = co_await asio::this_coro::executor;
        auto [ec, c] = co_await h3::async_connect(ex, "127.0.0.1", srv.port(), quic, {},
                                                  as_tuple(use_awaitable));
        const bool gone = co_await wait_until([&] { return srv.server().connections() == 0; }, 3s);
        // And the server still serves.
        auto ok = co_await get_once(srv.port(), "/");
        co_return std::pair{ec ? ec : ok.ec, gone};
      }(),
      10s, "failed handshake");
  EXPECT_EQ(r.first, err(aq::errc::alpn_mismatch)) << r.first.message();
  EXPECT_TRUE(r.second) << "the failed connection is still counted";
}

TEST(H3Lifecycle, RequestPriorityReachesTheHandler) {
  Io io;
  TestServer srv(io, handler);
  const auto r = io.run(
      [&]() -> awaitable<std::pair<Response, Response>> {
        auto client = co_await connect(srv.port());
        h3::Fields urgent{{"priority", "u=1, i"}};
        auto a = co_await fetch(client, request("GET", srv.port(), "/priority", urgent));
        auto b = co_await fetch(client, request("GET", srv.port(), "/priority"));
        client.close();
        co_return std::pair{std::move(a), std::move(b)};
      }(),
      10s, "priority");
  EXPECT_EQ(r.first.body, "u=1, i");
  EXPECT_EQ(r.second.body, "u=3") << "RFC 9218 default";
}

TEST(H3Lifecycle, ServerCountsItsConnections) {
  Io io;
  TestServer srv(io, handler);
  const auto counts = io.run(
      [&]() -> awaitable<std::vector<size_t>> {
        std::vector<size_t> c;
        auto a = co_await connect(srv.port());
        auto b = co_await connect(srv.port());
        co_await fetch(a, request("GET", srv.port(), "/"));
        co_await fetch(b, request("GET", srv.port(), "/"));
        c.push_back(srv.server().connections());
        a.close();
        co_await a.connection().async_wait_closed(as_tuple(use_awaitable));
        co_await wait_until([&] { return srv.server().connections() < 2; }, 2s);
        c.push_back(srv.server().connections());
        b.close();
        co_return c;
      }(),
      10s, "connection count");
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts[0], 2u);
  EXPECT_EQ(counts[1], 1u);
}

}  // namespace
}  // namespace h3test
