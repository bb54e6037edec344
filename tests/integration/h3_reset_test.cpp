// RESET_STREAM and STOP_SENDING on request streams, from each side, before and after the FIN of
// the direction concerned: a reader sees errc::stream_reset with the peer's code, a writer sees
// errc::stream_stopped, nothing is reported once the body is complete, and the connection keeps
// serving requests.
#include "integration/h3_support.hpp"

namespace h3test {
namespace {

constexpr uint64_t kCode = h3::kRequestCancelled;

// What the handler saw, and the client's cues to it. Shared between the client coroutine and
// the handler (on the connection's executor), hence atomics.
struct State {
  std::atomic<bool> client_read_some{false};     // the client has body bytes
  std::atomic<bool> client_read_all{false};      // the client has read the body to its end
  std::atomic<bool> server_read_some{false};     // the handler has request body bytes
  std::atomic<bool> client_write_failed{false};  // the client's writer saw STOP_SENDING
  std::atomic<bool> server_done{false};          // the handler recorded its outcome
  std::mutex m;
  std::error_code server_ec;  // the handler's read or write outcome
  uint64_t server_reset_code = 0;
  uint64_t server_bytes = 0;

  void record(std::error_code ec, uint64_t reset_code = 0, uint64_t bytes = 0) {
    {
      std::lock_guard lock(m);
      server_ec = ec;
      server_reset_code = reset_code;
      server_bytes = bytes;
    }
    server_done = true;
  }
};

// Reads the request body to its end or failure, noting the first bytes.
awaitable<BodyResult> read_noting(h3::ServerRequest req, State& st) {
  BodyResult out;
  std::vector<uint8_t> buf(16 * 1024);
  for (;;) {
    auto [ec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    out.size += n;
    if (n > 0) st.server_read_some = true;
    if (ec == asio::error::eof) co_return out;
    if (ec) {
      out.ec = ec;
      co_return out;
    }
  }
}

awaitable<void> handler(std::shared_ptr<State> st, h3::ServerRequest req, h3::ServerResponse res) {
  const auto path = req.path();
  const auto chunk = payload(64 * 1024, 3);
  if (path == "/ok") {
    co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), use_awaitable);
  } else if (path == "/server-resets-before-fin") {
    co_await res.async_send_headers(200, {}, use_awaitable);
    co_await res.async_write(aq::Buffer::shared(chunk, *chunk), use_awaitable);
    co_await wait_until([&] { return st->client_read_some.load(); }, 5s);
    res.reset(kCode);
  } else if (path == "/server-resets-after-fin") {
    co_await res.async_respond(200, {}, aq::Buffer::shared(chunk, *chunk), use_awaitable);
    co_await wait_until([&] { return st->client_read_all.load(); }, 5s);
    res.reset(kCode);
    st->record({});
  } else if (path == "/server-stops-before-fin") {
    std::vector<uint8_t> buf(1024);
    auto [ec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    st->record(ec, 0, n);
    req.stop_reading(kCode);
    co_await res.async_respond(200, {}, aq::Buffer::copy("stopped"), use_awaitable);
  } else if (path == "/server-stops-while-responding") {
    // The response stays open until the client's writer has seen the STOP_SENDING, so it
    // cannot learn it from the stream's end.
    std::vector<uint8_t> buf(1024);
    co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    req.stop_reading(kCode);
    co_await res.async_send_headers(200, {}, use_awaitable);
    const bool seen = co_await wait_until([&] { return st->client_write_failed.load(); }, 5s);
    st->record(seen ? std::error_code() : err(aq::errc::operation_aborted));
    co_await res.async_finish({}, use_awaitable);
  } else if (path == "/server-stops-after-fin") {
    const auto body = co_await read_noting(req, *st);
    req.stop_reading(kCode);
    st->record(body.ec, 0, body.size);
    co_await res.async_respond(200, {}, aq::Buffer::copy("read all"), use_awaitable);
  } else if (path == "/client-resets-before-fin" || path == "/client-resets-after-fin") {
    const auto body = co_await read_noting(req, *st);
    st->record(body.ec, req.reset_code(), body.size);
    co_await res.async_respond(200, {}, aq::Buffer::copy("after reset"), as_tuple(use_awaitable));
  } else if (path == "/client-stops-before-fin") {
    // Writes until the client's STOP_SENDING stops it (far less than this arrives first).
    std::error_code ec;
    uint64_t sent = 0;
    std::tie(ec) = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    while (!ec && sent < (256u << 20)) {
      std::tie(ec) =
          co_await res.async_write(aq::Buffer::shared(chunk, *chunk), as_tuple(use_awaitable));
      sent += chunk->size();
    }
    st->record(ec, 0, sent);
  } else if (path == "/client-stops-after-fin") {
    auto [ec] = co_await res.async_respond(200, {}, aq::Buffer::shared(chunk, *chunk),
                                           as_tuple(use_awaitable));
    co_await wait_until([&] { return st->client_read_all.load(); }, 5s);
    // The client's STOP_SENDING came after the end: the response stays a success.
    st->record(ec);
  }
}

// A further request on the same connection is answered.
awaitable<std::error_code> still_serving(h3::ClientH3Controller client, uint16_t port) {
  auto r = co_await fetch(client, request("GET", port, "/ok"));
  if (!r.ec && (r.status != 200 || r.body != "ok")) r.ec = err(aq::errc::malformed_message);
  co_return r.ec;
}

// Writes 64 KiB chunks, up to 256 MiB (far more than the windows hold), until a write fails:
// only the server's STOP_SENDING ends it early. Returns the first error.
awaitable<std::error_code> write_until_stopped(h3::ClientRequest req) {
  const auto chunk = payload(64 * 1024, 4);
  std::error_code ec;
  for (int i = 0; i < 4096 && !ec; ++i) {
    std::tie(ec) =
        co_await req.async_write(aq::Buffer::shared(chunk, *chunk), as_tuple(use_awaitable));
  }
  co_return ec;
}

class H3Reset : public ::testing::Test {
 protected:
  H3Reset()
      : srv_(io_, [st = st_](h3::ServerRequest req, h3::ServerResponse res) {
          return handler(st, std::move(req), std::move(res));
        }) {}

  awaitable<bool> server_done() {
    return wait_until([st = st_] { return st->server_done.load(); }, 5s);
  }

  std::shared_ptr<State> st_ = std::make_shared<State>();
  Io io_;
  TestServer srv_;
};

// ------------------------------------------------------------------ the server's actions

TEST_F(H3Reset, ServerResetsResponseBeforeFin) {
  struct Out {
    std::error_code request, read, after;
    uint64_t code = 0, bytes = 0;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, res] =
            co_await client.async_request(request("GET", srv_.port(), "/server-resets-before-fin"),
                                          std::nullopt, as_tuple(use_awaitable));
        out.request = ec;
        if (ec) co_return out;
        std::vector<uint8_t> buf(1024);
        for (;;) {
          auto [rec, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
          out.bytes += n;
          st_->client_read_some = true;
          if (rec) {
            out.read = rec;
            break;
          }
        }
        out.code = res.reset_code();
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      10s, "server reset before FIN");
  ASSERT_FALSE(o.request) << o.request.message();
  EXPECT_GT(o.bytes, 0u);
  EXPECT_LE(o.bytes, 64u * 1024);
  EXPECT_EQ(o.read, err(aq::errc::stream_reset)) << o.read.message();
  EXPECT_EQ(o.code, kCode);
  EXPECT_FALSE(o.after) << o.after.message();
}

TEST_F(H3Reset, ServerResetsResponseAfterFin) {
  struct Out {
    Response r;
    std::error_code again, after;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, res] =
            co_await client.async_request(request("GET", srv_.port(), "/server-resets-after-fin"),
                                          std::nullopt, as_tuple(use_awaitable));
        out.r.ec = ec;
        if (ec) co_return out;
        std::tie(out.r.ec, out.r.body) =
            co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
        st_->client_read_all = true;
        co_await server_done();
        co_await sleep_for(50ms);  // room for a (wrong) late reset to arrive
        char c;
        std::tie(out.again, std::ignore) =
            co_await res.async_read_some(asio::buffer(&c, 1), as_tuple(use_awaitable));
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      10s, "server reset after FIN");
  ASSERT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body, to_string(payload(64 * 1024, 3)));
  EXPECT_EQ(o.again, asio::error::eof) << o.again.message();
  EXPECT_FALSE(o.after) << o.after.message();
}

TEST_F(H3Reset, ServerStopsReadingBeforeFin) {
  struct Out {
    std::error_code open, write, response, after;
    Response r;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, req] = co_await client.async_open(
            request("POST", srv_.port(), "/server-stops-before-fin"), as_tuple(use_awaitable));
        out.open = ec;
        if (ec) co_return out;
        out.write = co_await write_until_stopped(req);
        auto [ec2, res] = co_await req.async_response(as_tuple(use_awaitable));
        out.response = ec2;
        if (!ec2) {
          out.r.status = res.status();
          std::tie(out.r.ec, out.r.body) =
              co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
        }
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      20s, "server STOP_SENDING before FIN");
  ASSERT_FALSE(o.open) << o.open.message();
  EXPECT_EQ(o.write, err(aq::errc::stream_stopped)) << o.write.message();
  ASSERT_FALSE(o.response) << o.response.message();
  EXPECT_EQ(o.r.status, 200);
  EXPECT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body, "stopped");
  EXPECT_FALSE(o.after) << o.after.message();
}

// The client writes far more than the server reads; the server stops reading after 1 KiB and
// keeps its response open until the client's writer has seen the STOP_SENDING.
struct StopWhileResponding {
  std::error_code open, write, response, after;
};

awaitable<StopWhileResponding> stop_while_responding(State& st, uint16_t port) {
  StopWhileResponding out;
  auto client = co_await connect(port);
  auto [ec, req] = co_await client.async_open(
      request("POST", port, "/server-stops-while-responding"), as_tuple(use_awaitable));
  out.open = ec;
  if (ec) co_return out;
  out.write = co_await write_until_stopped(req);
  st.client_write_failed = true;
  auto [ec2, res] = co_await req.async_response(as_tuple(use_awaitable));
  out.response = ec2;
  if (!ec2) {
    std::tie(out.response, std::ignore) =
        co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
  }
  out.after = co_await still_serving(client, port);
  client.close();
  co_return out;
}

void expect_stopped_while_responding(const StopWhileResponding& o, State& st) {
  ASSERT_FALSE(o.open) << o.open.message();
  EXPECT_EQ(o.write, err(aq::errc::stream_stopped)) << o.write.message();
  EXPECT_FALSE(o.response) << o.response.message();
  EXPECT_FALSE(o.after) << o.after.message();
  std::lock_guard lock(st.m);
  EXPECT_FALSE(st.server_ec) << "the writer learned of STOP_SENDING only when the stream ended";
}

TEST_F(H3Reset, ServerStopsReadingWhileResponding) {
  const auto o = io_.run(stop_while_responding(*st_, srv_.port()), 20s,
                         "server STOP_SENDING while its response is open");
  expect_stopped_while_responding(o, *st_);
}

// As above, with a stream window (16 KiB) the client fills long before the STOP_SENDING
// arrives: ngtcp2 0.12 reveals a peer's STOP_SENDING only when the stream is written to, so a
// writer held by flow control learns it only because blocked streams are offered again when
// packets arrive (QuicConn::reoffer_flow_blocked).
TEST_F(H3Reset, StopSendingReachesAWriterHeldByFlowControl) {
  auto quic = server_quic_settings();
  quic.initial_max_stream_data = 16 * 1024;
  quic.max_stream_data_window = 16 * 1024;
  TestServer small_window(
      io_,
      [st = st_](h3::ServerRequest req, h3::ServerResponse res) {
        return handler(st, std::move(req), std::move(res));
      },
      {}, quic);
  const auto o = io_.run(stop_while_responding(*st_, small_window.port()), 20s,
                         "STOP_SENDING to a writer held by flow control");
  expect_stopped_while_responding(o, *st_);
}

TEST_F(H3Reset, ServerStopsReadingAfterFin) {
  struct Out {
    std::error_code finish, after;
    Response r;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, req] = co_await client.async_open(
            request("POST", srv_.port(), "/server-stops-after-fin"), as_tuple(use_awaitable));
        if (!ec) ec = co_await send_body(req, payload(100'000, 4));
        out.finish = ec;
        if (ec) co_return out;
        auto [ec2, res] = co_await req.async_response(as_tuple(use_awaitable));
        out.r.ec = ec2;
        if (!ec2) {
          out.r.status = res.status();
          std::tie(out.r.ec, out.r.body) =
              co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
        }
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      10s, "server STOP_SENDING after FIN");
  ASSERT_FALSE(o.finish) << o.finish.message();
  EXPECT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body, "read all");
  std::lock_guard lock(st_->m);
  EXPECT_FALSE(st_->server_ec) << st_->server_ec.message();
  EXPECT_EQ(st_->server_bytes, 100'000u);
  EXPECT_FALSE(o.after) << o.after.message();
}

// ------------------------------------------------------------------ the client's actions

TEST_F(H3Reset, ClientResetsRequestBeforeFin) {
  const auto after = io_.run(
      [&]() -> awaitable<std::error_code> {
        auto client = co_await connect(srv_.port());
        auto [ec, req] = co_await client.async_open(
            request("POST", srv_.port(), "/client-resets-before-fin"), as_tuple(use_awaitable));
        if (ec) co_return ec;
        std::tie(ec) =
            co_await req.async_write(aq::Buffer::copy("first bytes"), as_tuple(use_awaitable));
        if (ec) co_return ec;
        co_await wait_until([&] { return st_->server_read_some.load(); }, 5s);
        req.reset(kCode);
        // Our own writer is done for; the response may still come.
        auto [wec] = co_await req.async_write(aq::Buffer::copy("late"), as_tuple(use_awaitable));
        EXPECT_EQ(wec, err(aq::errc::stream_finished)) << wec.message();
        co_await server_done();
        auto e = co_await still_serving(client, srv_.port());
        client.close();
        co_return e;
      }(),
      10s, "client reset before FIN");
  EXPECT_FALSE(after) << after.message();
  ASSERT_TRUE(st_->server_done);
  std::lock_guard lock(st_->m);
  EXPECT_EQ(st_->server_ec, err(aq::errc::stream_reset)) << st_->server_ec.message();
  EXPECT_EQ(st_->server_reset_code, kCode);
  EXPECT_EQ(st_->server_bytes, 11u);
}

TEST_F(H3Reset, ClientResetsRequestAfterFin) {
  struct Out {
    std::error_code finish, after;
    Response r;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, req] = co_await client.async_open(
            request("POST", srv_.port(), "/client-resets-after-fin"), as_tuple(use_awaitable));
        if (!ec) ec = co_await send_body(req, payload(50'000, 5));
        out.finish = ec;
        if (ec) co_return out;
        auto [ec2, res] = co_await req.async_response(as_tuple(use_awaitable));
        out.r.ec = ec2;
        if (!ec2) {
          std::tie(out.r.ec, out.r.body) =
              co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
        }
        req.reset(kCode);  // the body was delivered in full: nothing to abandon
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      10s, "client reset after FIN");
  ASSERT_FALSE(o.finish) << o.finish.message();
  EXPECT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body, "after reset");
  std::lock_guard lock(st_->m);
  EXPECT_FALSE(st_->server_ec) << st_->server_ec.message();
  EXPECT_EQ(st_->server_bytes, 50'000u);
  EXPECT_FALSE(o.after) << o.after.message();
}

TEST_F(H3Reset, ClientStopsReadingBeforeFin) {
  const auto after = io_.run(
      [&]() -> awaitable<std::error_code> {
        auto client = co_await connect(srv_.port());
        auto [ec, res] =
            co_await client.async_request(request("GET", srv_.port(), "/client-stops-before-fin"),
                                          std::nullopt, as_tuple(use_awaitable));
        if (ec) co_return ec;
        std::vector<uint8_t> buf(1024);
        auto [rec, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
        if (rec) co_return rec;
        res.stop_reading(kCode);
        // The body is abandoned: a later read fails rather than waiting for it.
        std::tie(rec, n) = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
        EXPECT_TRUE(rec && rec != asio::error::eof) << rec.message();
        co_await server_done();
        auto e = co_await still_serving(client, srv_.port());
        client.close();
        co_return e;
      }(),
      20s, "client STOP_SENDING before FIN");
  EXPECT_FALSE(after) << after.message();
  ASSERT_TRUE(st_->server_done);
  std::lock_guard lock(st_->m);
  EXPECT_EQ(st_->server_ec, err(aq::errc::stream_stopped)) << st_->server_ec.message();
  EXPECT_LT(st_->server_bytes, 256u << 20);
}

TEST_F(H3Reset, ClientStopsReadingAfterFin) {
  struct Out {
    Response r;
    std::error_code after;
  };
  const auto o = io_.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv_.port());
        auto [ec, res] =
            co_await client.async_request(request("GET", srv_.port(), "/client-stops-after-fin"),
                                          std::nullopt, as_tuple(use_awaitable));
        out.r.ec = ec;
        if (ec) co_return out;
        std::tie(out.r.ec, out.r.body) =
            co_await res.async_read_all(1 << 20, as_tuple(use_awaitable));
        res.stop_reading(kCode);  // after the end: nothing to stop
        st_->client_read_all = true;
        co_await server_done();
        out.after = co_await still_serving(client, srv_.port());
        client.close();
        co_return out;
      }(),
      10s, "client STOP_SENDING after FIN");
  ASSERT_FALSE(o.r.ec) << o.r.ec.message();
  EXPECT_EQ(o.r.body.size(), 64u * 1024);
  std::lock_guard lock(st_->m);
  EXPECT_FALSE(st_->server_ec) << st_->server_ec.message();
  EXPECT_FALSE(o.after) << o.after.message();
}

}  // namespace
}  // namespace h3test
