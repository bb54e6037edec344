// Harness for the HTTP/3 driver tests on loopback: an io_context on background threads, an
// h3::Server on 127.0.0.1:0 (self-signed certificate) serving a test-supplied handler, clients
// from h3::async_connect, bodies written from shared payloads and read back as SHA-256 digests.
//
// Every wait is bounded. run() stops the io_context before throwing TimeoutError, so a hung
// exchange fails its test (GoogleTest reports the exception) and nothing keeps running against
// the test's state. Declare test state before the Io, and the TestServer after it, so they are
// torn down in the safe order: server, then threads, then state.
#pragma once

#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <gnutls/crypto.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace h3test {

namespace aq = asioquic;
namespace h3 = asioquic::h3;
using asio::awaitable;
using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

// The large transfers, scaled down under sanitizers (several times slower).
inline constexpr size_t kLargeBody = kSanitized ? (16u << 20) : (100u << 20);
inline constexpr size_t kHugeBody = kSanitized ? (48u << 20) : (200u << 20);

struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// ------------------------------------------------------------------ bytes and hashes

using Digest = std::array<uint8_t, 32>;

inline Digest sha256(std::span<const uint8_t> data) {
  Digest d{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), d.data()) < 0) {
    throw std::runtime_error("gnutls_hash_fast failed");
  }
  return d;
}

/// Incremental SHA-256 for bodies that arrive in pieces.
class Sha256 {
 public:
  Sha256() {
    if (gnutls_hash_init(&h_, GNUTLS_DIG_SHA256) < 0) throw std::runtime_error("gnutls_hash_init");
  }
  ~Sha256() {
    if (h_) gnutls_hash_deinit(h_, nullptr);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const uint8_t> d) {
    if (!d.empty()) gnutls_hash(h_, d.data(), d.size());
  }
  Digest finish() {
    Digest d{};
    gnutls_hash_deinit(h_, d.data());
    h_ = nullptr;
    return d;
  }

 private:
  gnutls_hash_hd_t h_ = nullptr;
};

inline std::string hex(const Digest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kDigits[b >> 4];
    s += kDigits[b & 0xf];
  }
  return s;
}

using Payload = std::shared_ptr<const std::vector<uint8_t>>;

/// `n` pseudo-random bytes (splitmix64), the same for the same seed; cached, since the large
/// ones take a while to make in a Debug build.
inline Payload payload(size_t n, uint64_t seed) {
  static std::mutex m;
  static std::map<std::pair<size_t, uint64_t>, Payload> cache;
  std::lock_guard lock(m);
  auto& p = cache[{n, seed}];
  if (p) return p;
  auto v = std::make_shared<std::vector<uint8_t>>(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(v->data() + i, &z, std::min<size_t>(8, n - i));
  }
  p = std::move(v);
  return p;
}

inline std::string to_string(const Payload& p) {
  return std::string(p->begin(), p->end());
}

/// Resident set size of this process, in bytes.
inline size_t rss_bytes() {
  std::ifstream f("/proc/self/statm");
  size_t pages = 0, resident = 0;
  f >> pages >> resident;
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

// ------------------------------------------------------------------ runtime

/// An io_context run by background threads until destroyed.
class Io {
 public:
  /// `hint`: the io_context's concurrency hint (ASIO_CONCURRENCY_HINT_UNSAFE_IO needs threads 1).
  explicit Io(unsigned threads = 2, int hint = ASIO_CONCURRENCY_HINT_DEFAULT)
      : io_(hint), guard_(io_.get_executor()) {
    for (unsigned i = 0; i < threads; ++i) {
      threads_.emplace_back([this] {
        io_.run();
        ++finished_;
      });
    }
  }
  /// Lets the threads run out of work first: every connection must have ended by then (after a
  /// timeout nothing is checked: the test has failed already).
  ~Io() {
    if (!stopped_ && !drain(5s)) {
      ADD_FAILURE() << "the io_context still had work 5 s after the test: something outlived it";
    }
    stop();
  }
  Io(const Io&) = delete;
  Io& operator=(const Io&) = delete;

  asio::any_io_executor executor() { return io_.get_executor(); }
  bool stopped() const { return stopped_; }

  /// Stops the threads; nothing runs afterwards (pending handlers die with the io_context).
  void stop() {
    stopped_ = true;
    guard_.reset();
    io_.stop();
    for (auto& t : threads_) {
      if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
    }
  }

  /// Releases the work guard and waits for run() to return on every thread; false if something
  /// still holds work after `timeout`.
  bool drain(Ms timeout) {
    guard_.reset();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (finished_ < threads_.size()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(2ms);
    }
    return true;
  }

  /// Runs `a` on the io_context and returns its result; its exception is rethrown. If it does
  /// not finish within `timeout`, stops everything and throws TimeoutError naming `what`.
  template <typename T>
  T run(awaitable<T> a, Ms timeout, const std::string& what) {
    auto p = std::make_shared<std::promise<T>>();
    auto f = p->get_future();
    asio::co_spawn(io_, std::move(a), [p](std::exception_ptr e, T v) {
      if (e) {
        p->set_exception(e);
      } else {
        p->set_value(std::move(v));
      }
    });
    wait(f, timeout, what);
    return f.get();
  }
  void run(awaitable<void> a, Ms timeout, const std::string& what) {
    auto p = std::make_shared<std::promise<void>>();
    auto f = p->get_future();
    asio::co_spawn(io_, std::move(a), [p](std::exception_ptr e) {
      if (e) {
        p->set_exception(e);
      } else {
        p->set_value();
      }
    });
    wait(f, timeout, what);
    f.get();
  }

 private:
  template <typename F>
  void wait(F& f, Ms timeout, const std::string& what) {
    if (f.wait_for(timeout) == std::future_status::ready) return;
    stop();
    throw TimeoutError("timed out after " + std::to_string(timeout.count()) + " ms: " + what);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> finished_{0};
};

/// Sleeps on the current coroutine's executor.
inline awaitable<void> sleep_for(Ms d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(as_tuple(use_awaitable));
}

/// Polls `pred` every 2 ms until it holds (true) or `timeout` passes (false).
inline awaitable<bool> wait_until(std::function<bool()> pred, Ms timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  asio::steady_timer t(co_await asio::this_coro::executor);
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    t.expires_after(2ms);
    co_await t.async_wait(as_tuple(use_awaitable));
  }
  co_return true;
}

// ------------------------------------------------------------------ TLS and settings

inline const aq::Certificate& certificate() {
  static const aq::Certificate cert = [] {
    std::error_code ec;
    auto c = aq::make_self_signed_certificate({"localhost", "127.0.0.1"}, ec);
    if (ec) throw std::runtime_error("make_self_signed_certificate: " + ec.message());
    return c;
  }();
  return cert;
}

inline aq::ServerSettings server_quic_settings() {
  aq::ServerSettings s;
  s.tls.alpn = {"h3"};
  s.tls.cert_pem = certificate().cert_pem;
  s.tls.key_pem = certificate().key_pem;
  return s;
}

inline aq::ClientSettings client_quic_settings() {
  aq::ClientSettings s;
  s.tls.insecure_skip_verify = true;  // the test certificate is self-signed
  return s;
}

// ------------------------------------------------------------------ server

/// An h3::Server on 127.0.0.1:0 serving `handler` (behind `fast`, if given). The destructor
/// stops it (connections closed) and waits, bounded, for run() to return.
class TestServer {
 public:
  TestServer(Io& io, h3::Handler handler, const h3::Settings& h3s = {},
             const aq::ServerSettings& quic = server_quic_settings(), h3::FastPath fast = {})
      : io_(io) {
    std::error_code ec;
    const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
    listener_ = aq::listen(io.executor(), {&ep, 1}, quic, ec);
    if (ec) throw std::runtime_error("listen: " + ec.message());
    port_ = listener_.local_endpoints().at(0).port();
    server_.emplace(listener_, h3s, std::move(handler), std::move(fast));
    asio::co_spawn(io.executor(), server_->run(),
                   [p = done_](std::exception_ptr) { p->store(true); });
  }
  ~TestServer() {
    server_->stop();
    if (io_.stopped()) return;  // a timed-out test: nothing runs any more
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!done_->load() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(2ms);
    if (!done_->load()) ADD_FAILURE() << "h3::Server::run() did not return after stop()";
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  std::string authority() const { return "127.0.0.1:" + std::to_string(port_); }
  const h3::Server& server() const { return *server_; }
  aq::ListenerStats listener_stats() const { return listener_.stats(); }
  /// True once run() has returned.
  bool stopped() const { return done_->load(); }

 private:
  Io& io_;
  aq::Listener listener_;
  uint16_t port_ = 0;
  std::optional<h3::Server> server_;
  std::shared_ptr<std::atomic<bool>> done_ = std::make_shared<std::atomic<bool>>(false);
};

// ------------------------------------------------------------------ client

/// Connects to 127.0.0.1:port; throws on failure.
inline awaitable<h3::ClientH3Controller> connect(uint16_t port, const h3::Settings& h3s = {},
                                                 aq::ClientSettings quic = client_quic_settings()) {
  auto ex = co_await asio::this_coro::executor;
  auto [ec, client] =
      co_await h3::async_connect(ex, "127.0.0.1", port, quic, h3s, as_tuple(use_awaitable));
  if (ec) throw std::runtime_error("h3::async_connect: " + ec.message());
  co_return client;
}

inline h3::Fields request(std::string_view method, uint16_t port, std::string_view path,
                          h3::Fields extra = {}) {
  return h3::request_fields(method, "127.0.0.1:" + std::to_string(port), path, std::move(extra));
}

struct Response {
  std::error_code ec;  // of the request, else of reading the body
  int status = 0;
  std::string body;
  h3::Fields headers;
  h3::Fields trailers;
};

/// One whole exchange: request (optional body), response headers and whole body.
inline awaitable<Response> fetch(h3::ClientH3Controller client, h3::Fields fields,
                                 std::optional<aq::Buffer> body = std::nullopt,
                                 size_t limit = 16u << 20) {
  Response r;
  auto [ec, res] =
      co_await client.async_request(std::move(fields), std::move(body), as_tuple(use_awaitable));
  if (ec) {
    r.ec = ec;
    co_return r;
  }
  r.status = res.status();
  r.headers = res.headers();
  auto [ec2, all] = co_await res.async_read_all(limit, as_tuple(use_awaitable));
  r.ec = ec2;
  r.body = std::move(all);
  if (!ec2) r.trailers = res.trailers();
  co_return r;
}

/// How a request that the server refuses or resets failed: the request's error and, when the
/// server reset the stream, its RESET_STREAM code.
struct Refusal {
  std::error_code ec;
  uint64_t code = 0;
};

/// Sends a request (optional body) expected to fail before its response; reads no body.
inline awaitable<Refusal> request_refusal(h3::ClientH3Controller client, h3::Fields fields,
                                          std::optional<aq::Buffer> body = std::nullopt) {
  auto [ec, res] =
      co_await client.async_request(std::move(fields), std::move(body), as_tuple(use_awaitable));
  Refusal r;
  r.ec = ec;
  if (res.valid()) r.code = res.reset_code();
  co_return r;
}

/// Connects, makes one GET for `path` and closes: a whole one-request connection.
inline awaitable<Response> get_once(uint16_t port, std::string path,
                                    aq::ClientSettings quic = client_quic_settings()) {
  const h3::Settings h3s;  // (named: g++ 12 and braces in co_await)
  auto client = co_await connect(port, h3s, std::move(quic));
  auto out = co_await fetch(client, request("GET", port, path));
  client.close();
  co_return out;
}

// ------------------------------------------------------------------ bodies

struct BodyResult {
  std::error_code ec;  // empty: the body ended normally (eof)
  uint64_t size = 0;
  Digest sha{};
};

/// Reads a body to its end with async_read_some, hashing it.
inline awaitable<BodyResult> read_body(h3::BodyReader r, size_t chunk = 64 * 1024) {
  BodyResult out;
  Sha256 h;
  std::vector<uint8_t> buf(chunk);
  for (;;) {
    auto [ec, n] = co_await r.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    h.update({buf.data(), n});
    out.size += n;
    if (ec == asio::error::eof) break;
    if (ec) {
      out.ec = ec;
      break;
    }
  }
  out.sha = h.finish();
  co_return out;
}

/// Writes `data` in `chunk`-byte Buffers that share it (no copies), without finishing.
inline awaitable<std::error_code> write_body(h3::BodyWriter w, Payload data,
                                             size_t chunk = 256 * 1024) {
  for (size_t off = 0; off < data->size(); off += chunk) {
    const size_t n = std::min(chunk, data->size() - off);
    auto [ec] = co_await w.async_write(aq::Buffer::shared(data, {data->data() + off, n}),
                                       as_tuple(use_awaitable));
    if (ec) co_return ec;
  }
  co_return std::error_code();
}

/// write_body, then async_finish with `trailers`.
inline awaitable<std::error_code> send_body(h3::BodyWriter w, Payload data,
                                            h3::Fields trailers = {}) {
  if (auto ec = co_await write_body(w, data)) co_return ec;
  auto [ec] = co_await w.async_finish(std::move(trailers), as_tuple(use_awaitable));
  co_return ec;
}

/// The errc, for readable failure messages.
inline std::error_code err(aq::errc e) {
  return make_error_code(e);
}

}  // namespace h3test
