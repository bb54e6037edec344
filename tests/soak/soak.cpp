// Soak test: an HTTP/3 server and its clients in one process, under mixed traffic for a bounded
// time (SOAK_SECONDS, default 300): short GETs, bursts of parallel GETs, uploads, large
// downloads, requests reset by the client (reading or writing), connections opened and closed,
// and migrations (ConnectionHandle::async_migrate). Every exchange is checked (sizes, SHA-256).
//
// Memory and file descriptors are sampled every SOAK_SAMPLE_SECONDS (default 5). The bounds:
//   - after a warm-up (a fifth of the run, at least 10 s) the traffic is paused until every
//     connection has ended, and the baseline is taken; at the end the same quiet state must
//     come back within 4 MiB of live heap, 16 MiB of RSS (64 under a sanitizer), and exactly
//     the same descriptors;
//   - while traffic runs, no sample may exceed the baseline by 256 MiB of RSS or 64 descriptors
//     (runaway growth fails early instead of at the end).
// Prints one "CHECK <name>: PASS|FAIL <detail>" line per check (tests/soak/run.sh counts them)
// and exits non-zero if any failed.
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <dirent.h>
#include <gnutls/crypto.h>
#include <malloc.h>
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
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" size_t __sanitizer_get_current_allocated_bytes();
// Shadow memory grows with every address touched, so RSS gets more room.
constexpr size_t kRssBound = 64u << 20;
#else
constexpr size_t kRssBound = 16u << 20;
#endif

namespace {

namespace aq = asioquic;
namespace h3 = asioquic::h3;
using asio::awaitable;
using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Ms = std::chrono::milliseconds;
using Payload = std::shared_ptr<const std::vector<uint8_t>>;
using Digest = std::array<uint8_t, 32>;

constexpr int kLanes = 6;  // client coroutines, each on its own connection at a time
constexpr size_t kLargeDownload = 4u << 20;
constexpr size_t kUpload = 1u << 20;
constexpr size_t kChunk = 64 * 1024;

long env_or(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtol(v, nullptr, 10) : fallback;
}

Digest sha256(std::span<const uint8_t> data) {
  Digest d{};
  gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), d.data());
  return d;
}

Payload make_payload(size_t n, uint64_t seed) {
  auto v = std::make_shared<std::vector<uint8_t>>(n);
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < n; i += 8) {
    const uint64_t x = rng();
    std::memcpy(v->data() + i, &x, std::min<size_t>(8, n - i));
  }
  return v;
}

// ------------------------------------------------------------------ process measurements

struct Sample {
  double t = 0;  // seconds since start
  size_t rss = 0;
  size_t heap = 0;
  size_t fds = 0;
};

Sample measure(Clock::time_point start) {
  Sample s;
  s.t = std::chrono::duration<double>(Clock::now() - start).count();
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  s.heap = __sanitizer_get_current_allocated_bytes();
#else
  // RSS of what is in use, not of what malloc's arenas happen to keep.
  ::malloc_trim(0);
  const auto mi = ::mallinfo2();
  s.heap = mi.uordblks + mi.hblkhd;
#endif
  std::ifstream statm("/proc/self/statm");
  size_t total = 0, resident = 0;
  statm >> total >> resident;
  s.rss = resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (const dirent* e = ::readdir(d))
      s.fds += e->d_name[0] != '.';
    ::closedir(d);
    --s.fds;  // the directory stream's own descriptor
  }
  return s;
}

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return buf;
}

// ------------------------------------------------------------------ shared state

struct Stats {
  std::atomic<uint64_t> connections{0}, requests{0}, bytes{0}, migrations{0}, resets{0};
  std::atomic<uint64_t> errors{0};
  std::mutex m;
  std::map<std::string, uint64_t> error_kinds;

  void error(const std::string& what, std::error_code ec = {}) {
    ++errors;
    const std::string key = ec ? what + ": " + ec.message() : what;
    std::lock_guard lock(m);
    if (error_kinds[key]++ == 0) std::cerr << "soak error: " << key << "\n";
  }
};

struct Control {
  std::atomic<bool> stop{false};
  std::atomic<bool> pause{false};
  std::atomic<int> parked{0};
};

awaitable<void> sleep_for(Ms d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(as_tuple(use_awaitable));
}

// ------------------------------------------------------------------ server

// /small: "ok". /bytes/N: N bytes of the download payload. /upload: the body's size and
// SHA-256 prefix. /slow: 1 KiB every 10 ms until the client gives up (or 30 s).
awaitable<void> handle(Payload download, h3::ServerRequest req, h3::ServerResponse res) {
  const std::string_view path = req.path();
  if (path == "/small") {
    co_await res.async_respond(200, {}, aq::Buffer::copy("ok"), as_tuple(use_awaitable));
  } else if (path.starts_with("/bytes/")) {
    size_t n = 0;
    std::from_chars(path.data() + 7, path.data() + path.size(), n);
    n = std::min(n, download->size());
    // Built outside the co_await: g++ 12 miscompiles an initializer list inside one.
    h3::Fields fields{{"content-length", std::to_string(n)}};
    auto [ec] = co_await res.async_send_headers(200, std::move(fields), as_tuple(use_awaitable));
    for (size_t off = 0; off < n && !ec; off += kChunk) {
      std::tie(ec) = co_await res.async_write(
          aq::Buffer::shared(download, {download->data() + off, std::min(kChunk, n - off)}),
          as_tuple(use_awaitable));
    }
    if (!ec) co_await res.async_finish({}, as_tuple(use_awaitable));
  } else if (path == "/upload") {
    std::vector<uint8_t> all, buf(kChunk);
    for (;;) {
      auto [ec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
      all.insert(all.end(), buf.begin(), buf.begin() + static_cast<ptrdiff_t>(n));
      if (ec == asio::error::eof) break;
      if (ec) co_return;  // the client reset its upload
    }
    const Digest d = sha256(all);
    std::string answer = std::to_string(all.size()) + ":";
    answer.append(reinterpret_cast<const char*>(d.data()), 8);
    co_await res.async_respond(200, {}, aq::Buffer::take(std::move(answer)),
                               as_tuple(use_awaitable));
  } else if (path == "/slow") {
    auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    for (int i = 0; i < 3000 && !ec; ++i) {
      std::tie(ec) = co_await res.async_write(aq::Buffer::copy(std::string(1024, 's')),
                                              as_tuple(use_awaitable));
      co_await sleep_for(10ms);
    }
  } else {
    co_await res.async_respond(404, {}, aq::Buffer::copy("no"), as_tuple(use_awaitable));
  }
}

// ------------------------------------------------------------------ client operations

struct Lane {
  h3::ClientH3Controller client;
  uint16_t port;
  Payload download, upload;
  Stats& stats;
  std::mt19937 rng;

  h3::Fields fields(std::string_view method, std::string_view path) const {
    return h3::request_fields(method, "127.0.0.1:" + std::to_string(port), path);
  }

  awaitable<void> get_small() {
    auto f = fields("GET", "/small");
    auto [ec, res] =
        co_await client.async_request(std::move(f), std::nullopt, as_tuple(use_awaitable));
    if (ec) co_return stats.error("GET /small", ec);
    auto [ec2, body] = co_await res.async_read_all(1024, as_tuple(use_awaitable));
    if (ec2 || body != "ok") co_return stats.error("GET /small body", ec2);
    ++stats.requests;
  }

  // Ten GETs at once on the connection.
  awaitable<void> burst() {
    auto left = std::make_shared<std::atomic<int>>(10);
    for (int i = 0; i < 10; ++i) {
      asio::co_spawn(
          client.executor(),
          [](Lane* self, std::shared_ptr<std::atomic<int>> n) -> awaitable<void> {
            co_await self->get_small();
            --*n;
          }(this, left),
          asio::detached);
    }
    while (*left > 0)
      co_await sleep_for(2ms);
  }

  awaitable<void> get_bytes(size_t n) {
    const std::string path = "/bytes/" + std::to_string(n);
    auto f = fields("GET", path);
    auto [ec, res] =
        co_await client.async_request(std::move(f), std::nullopt, as_tuple(use_awaitable));
    if (ec) co_return stats.error("GET /bytes", ec);
    auto [ec2, body] = co_await res.async_read_all(n, as_tuple(use_awaitable));
    if (ec2) co_return stats.error("GET /bytes body", ec2);
    if (body.size() != n || sha256({reinterpret_cast<const uint8_t*>(body.data()), n}) !=
                                sha256({download->data(), n})) {
      co_return stats.error("GET /bytes: corrupted");
    }
    ++stats.requests;
    stats.bytes += n;
  }

  awaitable<void> post_upload() {
    auto f = fields("POST", "/upload");
    auto [ec, req] = co_await client.async_open(std::move(f), as_tuple(use_awaitable));
    if (ec) co_return stats.error("open /upload", ec);
    for (size_t off = 0; off < upload->size() && !ec; off += kChunk) {
      std::tie(ec) = co_await req.async_write(
          aq::Buffer::shared(upload, {upload->data() + off, kChunk}), as_tuple(use_awaitable));
    }
    if (!ec) std::tie(ec) = co_await req.async_finish({}, as_tuple(use_awaitable));
    if (ec) co_return stats.error("upload", ec);
    auto [ec2, res] = co_await req.async_response(as_tuple(use_awaitable));
    if (ec2) co_return stats.error("upload response", ec2);
    auto [ec3, body] = co_await res.async_read_all(1024, as_tuple(use_awaitable));
    const Digest d = sha256(*upload);
    std::string want = std::to_string(upload->size()) + ":";
    want.append(reinterpret_cast<const char*>(d.data()), 8);
    if (ec3 || body != want) co_return stats.error("upload: wrong answer", ec3);
    ++stats.requests;
    stats.bytes += upload->size();
  }

  // A download abandoned after its first bytes (STOP_SENDING), then an upload abandoned in
  // the middle (RESET_STREAM).
  awaitable<void> resets() {
    {
      auto f = fields("GET", "/slow");
      auto [ec, res] =
          co_await client.async_request(std::move(f), std::nullopt, as_tuple(use_awaitable));
      if (ec) co_return stats.error("GET /slow", ec);
      std::array<uint8_t, 512> buf;
      auto [ec2, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
      if (ec2 || n == 0) co_return stats.error("read /slow", ec2);
      res.stop_reading();
    }
    {
      auto f = fields("POST", "/upload");
      auto [ec, req] = co_await client.async_open(std::move(f), as_tuple(use_awaitable));
      if (ec) co_return stats.error("open /upload to reset", ec);
      std::tie(ec) = co_await req.async_write(aq::Buffer::shared(upload, {upload->data(), kChunk}),
                                              as_tuple(use_awaitable));
      if (ec) co_return stats.error("write before reset", ec);
      req.reset();
    }
    ++stats.resets;
  }

  awaitable<void> migrate() {
    auto [ec] = co_await client.connection().async_migrate(std::nullopt, as_tuple(use_awaitable));
    if (ec) co_return stats.error("migrate", ec);
    ++stats.migrations;
  }
};

awaitable<void> lane(int id, uint16_t port, Payload download, Payload upload, Stats& stats,
                     Control& ctl) {
  auto ex = co_await asio::this_coro::executor;
  aq::ClientSettings quic;
  quic.tls.insecure_skip_verify = true;
  std::mt19937 rng(static_cast<unsigned>(id));
  while (!ctl.stop) {
    if (ctl.pause) {
      ++ctl.parked;
      while (ctl.pause && !ctl.stop)
        co_await sleep_for(20ms);
      --ctl.parked;
      continue;
    }
    auto [ec, client] =
        co_await h3::async_connect(ex, "127.0.0.1", port, quic, {}, as_tuple(use_awaitable));
    if (ec) {
      stats.error("connect", ec);
      co_await sleep_for(100ms);
      continue;
    }
    ++stats.connections;
    Lane l{client, port, download, upload, stats, std::mt19937(rng())};
    bool migrated = false;
    const int ops = 5 + static_cast<int>(rng() % 20);
    for (int i = 0; i < ops && !ctl.stop && !ctl.pause; ++i) {
      switch (rng() % 10) {
        case 0:
        case 1:
        case 2:
          co_await l.get_small();
          break;
        case 3:
          co_await l.burst();
          break;
        case 4:
          co_await l.post_upload();
          break;
        case 5:
          co_await l.get_bytes(kLargeDownload);
          break;
        case 6:
          co_await l.get_bytes(1 + rng() % (256 * 1024));
          break;
        case 7:
          co_await l.resets();
          break;
        default:
          if (!migrated) co_await l.migrate();
          migrated = true;
          break;
      }
    }
    client.close();
    auto [cec, info] = co_await client.connection().async_wait_closed(as_tuple(use_awaitable));
    if (!info.closed) stats.error("close", cec);
  }
}

}  // namespace

int main() {
  const auto duration = std::chrono::seconds(env_or("SOAK_SECONDS", 300));
  const auto sample_every = std::chrono::seconds(env_or("SOAK_SAMPLE_SECONDS", 5));
  const auto warmup = std::max<std::chrono::seconds>(10s, duration / 5);
  const auto start = Clock::now();

  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i)
    threads.emplace_back([&] { io.run(); });

  std::error_code ec;
  const auto cert = aq::make_self_signed_certificate({"localhost", "127.0.0.1"}, ec);
  if (ec) {
    std::cerr << "certificate: " << ec.message() << "\n";
    return 2;
  }
  aq::ServerSettings settings;
  settings.tls.alpn = {"h3"};
  settings.tls.cert_pem = cert.cert_pem;
  settings.tls.key_pem = cert.key_pem;
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  aq::Listener listener = aq::listen(io.get_executor(), {&ep, 1}, settings, ec);
  if (ec) {
    std::cerr << "listen: " << ec.message() << "\n";
    return 2;
  }
  const uint16_t port = listener.local_endpoints().at(0).port();
  const Payload download = make_payload(kLargeDownload, 1);
  const Payload upload = make_payload(kUpload, 2);
  h3::Server server(listener, {}, [download](h3::ServerRequest req, h3::ServerResponse res) {
    return handle(download, std::move(req), std::move(res));
  });
  std::atomic<bool> server_done{false};
  asio::co_spawn(io, server.run(), [&](std::exception_ptr) { server_done = true; });

  Stats stats;
  Control ctl;
  std::atomic<int> lanes_done{0};
  for (int i = 0; i < kLanes; ++i) {
    asio::co_spawn(io, lane(i, port, download, upload, stats, ctl), [&](std::exception_ptr e) {
      if (e) stats.error("lane threw");
      ++lanes_done;
    });
  }

  bool ok = true;
  auto check = [&](const std::string& name, bool pass, const std::string& detail) {
    std::cout << "CHECK " << name << ": " << (pass ? "PASS " : "FAIL ") << detail << std::endl;
    ok = ok && pass;
  };
  auto wait_for = [](const std::function<bool()>& pred, Ms timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!pred()) {
      if (Clock::now() >= deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  };
  // Every lane parked between connections and every connection ended on both sides; then the
  // descriptors of migrated sockets (closed a few seconds after the move) are gone too.
  auto quiesce = [&](const char* when) {
    ctl.pause = true;
    const bool quiet = wait_for(
        [&] {
          return ctl.parked == kLanes && server.connections() == 0 &&
                 listener.stats().connections_active == 0;
        },
        60s);
    check(std::string("quiesce-") + when, quiet,
          std::to_string(ctl.parked.load()) + " lanes parked, " +
              std::to_string(listener.stats().connections_active) + " connections active");
    std::this_thread::sleep_for(200ms);
  };
  auto print = [&](const Sample& s, const char* tag) {
    std::cout << tag << " t=" << static_cast<int>(s.t) << "s rss=" << mib(s.rss)
              << " heap=" << mib(s.heap) << " fds=" << s.fds << " connections=" << stats.connections
              << " requests=" << stats.requests << " MB=" << stats.bytes / 1'000'000
              << " migrations=" << stats.migrations << " resets=" << stats.resets
              << " errors=" << stats.errors << std::endl;
  };

  // Warm-up, then the quiet baseline.
  while (Clock::now() - start < warmup)
    std::this_thread::sleep_for(100ms);
  quiesce("baseline");
  const Sample base = measure(start);
  print(base, "baseline");
  ctl.pause = false;

  // Traffic, sampled.
  size_t max_rss = base.rss, max_fds = base.fds;
  bool runaway = false;
  auto next = Clock::now() + sample_every;
  while (Clock::now() - start < duration && !runaway) {
    std::this_thread::sleep_until(std::min(next, start + duration));
    if (Clock::now() < next) break;
    next += sample_every;
    const Sample s = measure(start);
    print(s, "sample");
    max_rss = std::max(max_rss, s.rss);
    max_fds = std::max(max_fds, s.fds);
    runaway = s.rss > base.rss + (256u << 20) || s.fds > base.fds + 64;
  }
  check("no-runaway-growth", !runaway,
        "max RSS " + mib(max_rss) + ", max fds " + std::to_string(max_fds) + " (baseline " +
            mib(base.rss) + ", " + std::to_string(base.fds) + ")");

  // The same quiet state again.
  quiesce("end");
  wait_for([&] { return measure(start).fds <= base.fds; }, 10s);
  const Sample end = measure(start);
  print(end, "end");
  check("traffic",
        stats.errors == 0 && stats.connections > kLanes && stats.migrations > 0 && stats.resets > 0,
        std::to_string(stats.errors) + " errors in " + std::to_string(stats.requests) +
            " requests, " + std::to_string(stats.connections) + " connections, " +
            std::to_string(stats.migrations) + " migrations, " + std::to_string(stats.resets) +
            " resets");
  check("heap", end.heap <= base.heap + (4u << 20),
        mib(base.heap) + " -> " + mib(end.heap) + " (bound +4 MiB)");
  check("rss", end.rss <= base.rss + kRssBound,
        mib(base.rss) + " -> " + mib(end.rss) + " (bound +" + mib(kRssBound) + ")");
  check("fds", end.fds == base.fds, std::to_string(base.fds) + " -> " + std::to_string(end.fds));

  // Shut down: lanes end, the server stops, the io_context runs out of work.
  ctl.stop = true;
  server.shutdown(2s);
  const bool down = wait_for([&] { return lanes_done == kLanes && server_done; }, 30s);
  guard.reset();
  auto joined = std::async(std::launch::async, [&] {
    for (auto& t : threads)
      t.join();
  });
  const bool drained = joined.wait_for(10s) == std::future_status::ready;
  check("shutdown", down && drained,
        std::string(down ? "" : "lanes or server still running; ") +
            (drained ? "io_context drained" : "io_context still had work"));
  if (!drained) {
    io.stop();
    joined.wait();
  }
  return ok ? 0 : 1;
}
