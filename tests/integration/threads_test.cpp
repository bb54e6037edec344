// Handles used from several threads at once, as the docs allow (design.md "Threading and
// lifetimes"): on one HTTP/3 client connection, four plain threads make requests, stream
// request bodies (BodyWriter), read responses (BodyReader), ask for stats, wake the worker and
// migrate it; then one closes the connection while the others wait for its end. And
// Listener::close from a thread of its own while clients connect: every connection is served or
// closed at once, none is left without an application. And a server and client on an
// asio::thread_pool rather than an io_context (the strand then wraps the type-erased executor).
// Run under TSan
// (scripts/tsan.sh), these give it concurrent use of every thread-safe entry point to check.
#include <asio/thread_pool.hpp>
#include <asio/use_future.hpp>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

constexpr int kThreads = 4;
constexpr int kRounds = 8;
constexpr size_t kUpload = 96 * 1024;
constexpr size_t kUploadChunk = 8 * 1024;

// Starts an asynchronous operation with a plain handler and waits (bounded) for its arguments.
template <typename... Args, typename Start>
std::tuple<Args...> call(Start&& start, const std::string& what, Ms timeout = 10s) {
  auto p = std::make_shared<std::promise<std::tuple<Args...>>>();
  auto f = p->get_future();
  start([p](Args... a) { p->set_value(std::make_tuple(std::move(a)...)); });
  if (f.wait_for(timeout) != std::future_status::ready) {
    throw TimeoutError("timed out: " + what);
  }
  return f.get();
}

// "/hello": a short body. Anything else: the request body echoed as it arrives.
awaitable<void> echo_handler(h3::ServerRequest req, h3::ServerResponse res) {
  if (req.path() == "/hello") {
    co_await res.async_respond(200, {}, aq::Buffer::copy("hello"), as_tuple(use_awaitable));
    co_return;
  }
  auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
  std::vector<uint8_t> buf(16 * 1024);
  while (!ec) {
    auto [rec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    if (n > 0) {
      std::tie(ec) =
          co_await res.async_write(aq::Buffer::copy({buf.data(), n}), as_tuple(use_awaitable));
    }
    if (rec == asio::error::eof) {
      std::tie(ec) = co_await res.async_finish({}, as_tuple(use_awaitable));
      break;
    }
    if (rec) break;
  }
}

// One thread's work on the shared connection; throws on the first failure.
void client_thread(const h3::ClientH3Controller& client, uint16_t port, int t) {
  const aq::ConnectionHandle& conn = client.connection();
  for (int round = 0; round < kRounds; ++round) {
    // A whole request, its body read with async_read_all.
    auto [ec, res] = call<std::error_code, h3::ClientResponse>(
        [&](auto h) { client.async_request(request("GET", port, "/hello"), std::nullopt, h); },
        "GET /hello");
    if (ec) throw std::runtime_error("GET /hello: " + ec.message());
    auto [ec2, body] = call<std::error_code, std::string>(
        [&](auto h) { res.async_read_all(1024, h); }, "read /hello");
    if (ec2 || body != "hello") throw std::runtime_error("GET /hello body: " + ec2.message());

    // A streamed upload, echoed back; the writer and the reader are used from this thread.
    const auto up = payload(kUpload, static_cast<uint64_t>(t * 100 + round));
    auto [ec3, req] = call<std::error_code, h3::ClientRequest>(
        [&](auto h) { client.async_open(request("POST", port, "/echo"), h); }, "open /echo");
    if (ec3) throw std::runtime_error("open /echo: " + ec3.message());
    for (size_t off = 0; off < up->size(); off += kUploadChunk) {
      auto [wec] = call<std::error_code>(
          [&](auto h) {
            req.async_write(aq::Buffer::shared(up, {up->data() + off, kUploadChunk}), h);
          },
          "write");
      if (wec) throw std::runtime_error("write: " + wec.message());
    }
    auto [fec] = call<std::error_code>([&](auto h) { req.async_finish({}, h); }, "finish");
    if (fec) throw std::runtime_error("finish: " + fec.message());
    auto [ec4, echoed] = call<std::error_code, h3::ClientResponse>(
        [&](auto h) { req.async_response(h); }, "response /echo");
    if (ec4) throw std::runtime_error("response /echo: " + ec4.message());
    Sha256 hash;
    size_t got = 0;
    std::vector<uint8_t> buf(5000);
    for (;;) {
      auto [rec, n] = call<std::error_code, size_t>(
          [&](auto h) { echoed.async_read_some(asio::buffer(buf), h); }, "read /echo");
      hash.update({buf.data(), n});
      got += n;
      if (rec == asio::error::eof) break;
      if (rec) throw std::runtime_error("read /echo: " + rec.message());
    }
    if (got != up->size() || hash.finish() != sha256(*up)) {
      throw std::runtime_error("echo corrupted: " + std::to_string(got) + " bytes");
    }

    // The transport handle, meanwhile.
    conn.waker().wake();
    auto [stats] = call<aq::ConnectionStats>([&](auto h) { conn.async_stats(h); }, "stats");
    if (stats.bytes_received == 0) throw std::runtime_error("stats of an idle connection");
    if (t == 0 && round == kRounds / 2) {
      auto [mec] =
          call<std::error_code>([&](auto h) { conn.async_migrate(std::nullopt, h); }, "migrate");
      if (mec) throw std::runtime_error("migrate: " + mec.message());
    }
  }
}

// Runs `f(i)` on `n` threads; returns the failures.
std::vector<std::string> on_threads(int n, const std::function<void(int)>& f) {
  std::mutex m;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      try {
        f(i);
      } catch (const std::exception& e) {
        std::lock_guard lock(m);
        failures.push_back("thread " + std::to_string(i) + ": " + e.what());
      }
    });
  }
  for (auto& t : threads)
    t.join();
  return failures;
}

TEST(Threads, ClientHandlesFromFourThreadsOnOneConnection) {
  Io io(4);
  TestServer srv(io, echo_handler);
  const auto client = io.run(connect(srv.port()), 10s, "connect");

  // A fifth thread pokes the connection all along.
  std::atomic<bool> busy{true};
  std::thread poker([&] {
    while (busy) {
      client.connection().waker().wake();
      client.connection().async_stats([](aq::ConnectionStats) {});
      std::this_thread::sleep_for(1ms);
    }
  });
  const auto failures = on_threads(kThreads, [&](int t) { client_thread(client, srv.port(), t); });
  busy = false;
  poker.join();
  for (const auto& f : failures)
    ADD_FAILURE() << f;

  // One thread closes; the others wait for the end, each with its own handle copy.
  std::atomic<int> closed{0};
  const auto ends = on_threads(kThreads, [&](int t) {
    const aq::ConnectionHandle conn = client.connection();
    if (t == 0) conn.close(7, "done");
    auto [ec, info] =
        call<std::error_code, aq::CloseInfo>([&](auto h) { conn.async_wait_closed(h); }, "closed");
    if (!info.closed || info.by_peer || info.code != 7) {
      throw std::runtime_error("close info: " + ec.message());
    }
    ++closed;
  });
  for (const auto& f : ends)
    ADD_FAILURE() << f;
  EXPECT_EQ(closed, kThreads);
}

// One listener closed while four threads connect and make requests.
void listener_close_round() {
  Io io(4);
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  std::error_code lec;
  aq::Listener listener = aq::listen(io.executor(), {&ep, 1}, server_quic_settings(), lec);
  ASSERT_FALSE(lec) << lec.message();
  const uint16_t port = listener.local_endpoints().at(0).port();
  const h3::Server server(listener, {}, echo_handler);
  auto done = std::make_shared<std::atomic<bool>>(false);
  asio::co_spawn(io.executor(), server.run(), [done](std::exception_ptr) { *done = true; });

  std::atomic<int> served{0};
  std::atomic<bool> closed{false};
  const auto failures = on_threads(kThreads + 1, [&](int t) {
    if (t == kThreads) {
      // Once connections are being served (slowly under a sanitizer).
      const auto deadline = std::chrono::steady_clock::now() + 10s;
      while (served < kThreads && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(1ms);
      listener.close();
      closed = true;
      return;
    }
    auto quic = client_quic_settings();
    quic.handshake_timeout = 500ms;  // after close(), Initials are ignored
    // A connection close() caught before it was started is closed with application code 0:
    // APPLICATION_ERROR while the server's handshake runs (RFC 9000 §10.2.3), a clean close
    // after it.
    const auto unstarted = [](std::error_code e) {
      return e == aq::wire_error_code(false, 0xc) || e == aq::errc::connection_closed;
    };
    while (!closed) {
      auto [ec, client] = call<std::error_code, h3::ClientH3Controller>(
          [&](auto h) { h3::async_connect(io.executor(), "127.0.0.1", port, quic, {}, h); },
          "connect");
      if (ec) {
        // Or its Initials were ignored, after close().
        if (ec != aq::errc::handshake_timeout && !unstarted(ec)) {
          throw std::runtime_error("connect: " + ec.message());
        }
        continue;
      }
      auto [rec, res] = call<std::error_code, h3::ClientResponse>(
          [&](auto h) { client.async_request(request("GET", port, "/hello"), std::nullopt, h); },
          "request");
      if (rec && !unstarted(rec)) throw std::runtime_error("request: " + rec.message());
      if (!rec) ++served;
      client.close();
    }
  });
  for (const auto& f : failures)
    ADD_FAILURE() << f;
  EXPECT_GE(served, kThreads);
  // The accept loop has stopped; run() returns once the connections it serves have ended.
  EXPECT_TRUE(io.run(wait_until([&] { return done->load(); }, 5s), 6s, "run() returns"));
  EXPECT_EQ(server.connections(), 0u);
}

// The race it looks for (a connection created just as close() runs) is hit in about one round
// in four.
TEST(Threads, ListenerCloseFromAnotherThreadWhileClientsConnect) {
  for (int round = 0; round < 5 && !HasFailure(); ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    listener_close_round();
  }
}

awaitable<void> say_hello(h3::ServerRequest, h3::ServerResponse res) {
  h3::Fields fields;  // named: g++ 12 mishandles braced temporaries in co_await arguments
  auto body = aq::Buffer::copy(std::string_view("hello"));
  co_await res.async_respond(200, std::move(fields), std::move(body), use_awaitable);
}

awaitable<Response> fetch_hello(uint16_t port) {
  auto client = co_await connect(port);
  Response r = co_await fetch(client, request("GET", port, "/hello"));
  client.close();
  co_return r;
}

// Every executor works, not only an io_context's: here a thread pool of two threads runs the
// listener, the server, and the client's connection.
TEST(Threads, ThreadPoolExecutorServesAndFetches) {
  asio::thread_pool pool(2);
  std::error_code ec;
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  auto listener = aq::listen(pool.get_executor(), {&ep, 1}, server_quic_settings(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const uint16_t port = listener.local_endpoints().at(0).port();
  h3::Server server(listener, {}, say_hello);
  auto served = std::make_shared<std::promise<void>>();
  asio::co_spawn(pool, server.run(), [served](std::exception_ptr) { served->set_value(); });

  for (int i = 0; i < 3; ++i) {
    auto f = asio::co_spawn(pool, fetch_hello(port), asio::use_future);
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "fetch " << i;
    const Response r = f.get();
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "hello");
  }
  server.stop();
  EXPECT_EQ(served->get_future().wait_for(5s), std::future_status::ready);
  pool.join();
}

// say_hello, and whether it ran on an io_context's own executor (1) or another one (0).
awaitable<void> hello_noting_executor(std::shared_ptr<std::atomic<int>> bare, h3::ServerRequest req,
                                      h3::ServerResponse res) {
  const auto ex = co_await asio::this_coro::executor;
  // By type: Asio 1.22's target() casts without checking.
  bare->store(ex.target_type() == typeid(asio::io_context::executor_type) ? 1 : 0);
  co_await say_hello(std::move(req), std::move(res));
}

// An io_context made for one thread at a time (ASIO_CONCURRENCY_HINT_UNSAFE_IO) runs connections
// on its own executor, without a strand; one with the default hint runs them on a strand.
TEST(Threads, OneThreadHintRunsConnectionsWithoutAStrand) {
  for (const int hint : {ASIO_CONCURRENCY_HINT_UNSAFE_IO, ASIO_CONCURRENCY_HINT_DEFAULT}) {
    SCOPED_TRACE("hint " + std::to_string(hint));
    asio::io_context io(hint);
    std::error_code ec;
    const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    auto listener = aq::listen(io.get_executor(), {&ep, 1}, server_quic_settings(), ec);
    ASSERT_FALSE(ec) << ec.message();
    const uint16_t port = listener.local_endpoints().at(0).port();
    auto bare = std::make_shared<std::atomic<int>>(-1);  // 1: the handler ran on io's executor
    h3::Server server(listener, {}, [bare](h3::ServerRequest req, h3::ServerResponse res) {
      return hello_noting_executor(bare, std::move(req), std::move(res));
    });
    asio::co_spawn(io, server.run(), asio::detached);
    auto f = asio::co_spawn(io, fetch_hello(port), asio::use_future);
    std::thread runner([&io] { io.run(); });
    const bool ready = f.wait_for(10s) == std::future_status::ready;
    server.stop();
    runner.join();
    ASSERT_TRUE(ready);
    const Response r = f.get();
    EXPECT_FALSE(r.ec) << r.ec.message();
    EXPECT_EQ(r.body, "hello");
    EXPECT_EQ(bare->load(), hint == ASIO_CONCURRENCY_HINT_UNSAFE_IO ? 1 : 0);
  }
}

}  // namespace
}  // namespace h3test
