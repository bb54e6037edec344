#include "load/runner.hpp"

#include <sys/resource.h>

#include <asio/co_spawn.hpp>
#include <asio/error.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include "load/histogram.hpp"

namespace asioquic::bench {
namespace {

using asio::experimental::as_tuple;
using Clock = std::chrono::steady_clock;

// Body bytes are read into one buffer per thread and dropped: every coroutine of a thread runs
// on that thread, one at a time, so they can share it.
constexpr size_t kReadBuffer = 64 * 1024;

// How long a worker thread may take to finish after an abort before the run gives up on it.
constexpr auto kAbortGrace = std::chrono::seconds(5);

// State shared by every thread, fixed before the threads start except for the atomics.
struct Shared {
  explicit Shared(const LoadOptions& opts) : o(opts) {}

  const LoadOptions& o;
  ClientSettings quic;
  h3::Settings h3;
  h3::Fields fields;
  std::shared_ptr<const std::vector<uint8_t>> body;  // -d: sent by reference, never copied
  Clock::time_point count_from;                      // -D: the end of the warm-up
  Clock::time_point count_until = Clock::time_point::max();

  std::atomic<uint64_t> tickets{0};  // requests (or handshakes) started, against -n
  std::atomic<bool> stop{false};     // -D: the time is up, start nothing new
  std::atomic<bool> aborted{false};  // --max-time: give up
  std::atomic<size_t> established{0};
  std::atomic<size_t> resumed{0};  // established connections that resumed TLS
  std::atomic<size_t> early{0};    // connections whose 0-RTT data the server accepted
  std::atomic<size_t> ramped{0};   // --idle: threads whose connections are all set up
  std::atomic<size_t> finished{0};

  // Takes the right to start one more request or handshake.
  bool take_ticket() {
    if (aborted.load(std::memory_order_relaxed)) return false;
    if (o.requests) return tickets.fetch_add(1, std::memory_order_relaxed) < *o.requests;
    return !stop.load(std::memory_order_relaxed);
  }
  // Whether a request that ended at `t` falls in the measured window.
  bool counts(Clock::time_point t) const { return t >= count_from && t <= count_until; }
};

// What one thread measured; merged after the threads end.
struct Totals {
  Histogram latency;
  uint64_t done = 0;    // completed without error inside the window
  uint64_t all_ok = 0;  // completed without error, window or not (for CPU per request)
  uint64_t errors = 0;
  uint64_t bytes = 0;
  uint64_t status_2xx = 0;
  uint64_t status_other = 0;
  std::map<std::string, uint64_t> error_kinds;
  Clock::time_point first_start = Clock::time_point::max();
  Clock::time_point last_end = Clock::time_point::min();

  void merge(const Totals& t) {
    latency.merge(t.latency);
    done += t.done;
    all_ok += t.all_ok;
    errors += t.errors;
    bytes += t.bytes;
    status_2xx += t.status_2xx;
    status_other += t.status_other;
    for (const auto& [k, v] : t.error_kinds)
      error_kinds[k] += v;
    first_start = std::min(first_start, t.first_start);
    last_end = std::max(last_end, t.last_end);
  }
};

// One thread: an io_context and the connections dealt to it.
class Worker {
 public:
  Worker(Shared& shared, size_t connections) : s_(shared), connections_(connections) {}

  void run() {
    spawn();
    io_.run();
    s_.finished.fetch_add(1);
  }

  // Closes every connection still open (the end of --idle, or an abort) and lets run() return
  // once they are gone.
  void close_all() {
    asio::post(io_, [this] {
      for (const auto& c : live_)
        c.close(h3::kNoError);
      live_.clear();
      guard_.reset();
    });
  }

  const Totals& totals() const { return totals_; }
  size_t live_count() const { return live_size_.load(); }

 private:
  void spawn() {
    auto ex = io_.get_executor();
    auto on_done = [this](std::exception_ptr e) {
      if (e) error("exception");
    };
    switch (s_.o.mode) {
      case Mode::requests:
        for (size_t i = 0; i < connections_; ++i)
          asio::co_spawn(ex, request_connection(), on_done);
        break;
      case Mode::handshakes:
        for (size_t i = 0; i < connections_; ++i)
          asio::co_spawn(ex, handshake_slot(), on_done);
        break;
      case Mode::idle: {
        // The connections stay open after their coroutines end; the guard keeps run() going
        // until close_all().
        guard_.emplace(io_.get_executor());
        const size_t slots = std::min(connections_, s_.o.connect_parallel);
        auto left = std::make_shared<size_t>(slots);
        if (slots == 0) s_.ramped.fetch_add(1);
        for (size_t i = 0; i < slots; ++i) {
          asio::co_spawn(ex, idle_slot(), [this, left](std::exception_ptr e) {
            if (e) error("exception");
            if (--*left == 0) s_.ramped.fetch_add(1);
          });
        }
        break;
      }
    }
  }

  void error(const std::string& kind) {
    ++totals_.errors;
    ++totals_.error_kinds[kind];
  }

  // Connection-level failures: requests on that connection cannot succeed any more.
  static bool connection_gone(const std::error_code& ec) {
    return ec == errc::connection_closed || ec == errc::going_away || ec == errc::idle_timeout;
  }

  asio::awaitable<std::error_code> connect(h3::ClientH3Controller& out,
                                           const ClientSettings& quic) {
    auto [ec, ctl] = co_await h3::async_connect(io_.get_executor(), s_.o.host, s_.o.port, quic,
                                                s_.h3, as_tuple(asio::use_awaitable));
    if (!ec) {
      // A connection on 0-RTT keys is counted once its handshake is done (handshake_slot).
      if (ctl.connection().resumed()) s_.resumed.fetch_add(1, std::memory_order_relaxed);
      out = std::move(ctl);
      s_.established.fetch_add(1, std::memory_order_relaxed);
    }
    co_return ec;
  }

  // One request, its whole response body read and dropped. Sets `status` (0 if none came).
  asio::awaitable<std::error_code> request(const h3::ClientH3Controller& ctl, int& status) {
    std::optional<Buffer> body;
    if (s_.body) body = Buffer::shared(s_.body, {s_.body->data(), s_.body->size()});
    status = 0;
    auto [ec, res] =
        co_await ctl.async_request(s_.fields, std::move(body), as_tuple(asio::use_awaitable));
    if (ec) co_return ec;
    status = res.status();
    for (;;) {
      auto [rec, n] =
          co_await res.async_read_some(asio::buffer(buf_), as_tuple(asio::use_awaitable));
      totals_.bytes += n;
      if (rec == asio::error::eof) co_return std::error_code();
      if (rec) co_return rec;
    }
  }

  // Books one finished request or handshake that began at t0.
  void complete(Clock::time_point t0, const std::error_code& ec, int status, const char* what) {
    const auto t1 = Clock::now();
    if (ec) {
      error(std::string(what) + ": " + ec.message());
      return;
    }
    if (status >= 200 && status < 300) {
      ++totals_.status_2xx;
    } else {
      ++totals_.status_other;
      error("HTTP status " + std::to_string(status));
      return;
    }
    ++totals_.all_ok;
    if (!s_.counts(t1)) return;
    ++totals_.done;
    totals_.latency.record(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    totals_.first_start = std::min(totals_.first_start, t0);
    totals_.last_end = std::max(totals_.last_end, t1);
  }

  asio::awaitable<void> request_connection() {
    h3::ClientH3Controller ctl;
    if (auto ec = co_await connect(ctl, s_.quic)) {
      error("connect: " + ec.message());
      co_return;
    }
    live_.push_back(ctl);
    live_size_.store(live_.size());
    // -m request loops share the connection; the last one to end closes it.
    auto left = std::make_shared<size_t>(s_.o.streams);
    for (size_t i = 0; i < s_.o.streams; ++i) {
      asio::co_spawn(io_.get_executor(), stream_loop(ctl), [this, ctl, left](std::exception_ptr e) {
        if (e) error("exception");
        if (--*left == 0) ctl.close(h3::kNoError);
      });
    }
  }

  asio::awaitable<void> stream_loop(h3::ClientH3Controller ctl) {
    while (s_.take_ticket()) {
      const auto t0 = Clock::now();
      int status = 0;
      const auto ec = co_await request(ctl, status);
      complete(t0, ec, status, "request");
      if (ec && connection_gone(ec)) co_return;
    }
  }

  // One slot's session store: make_session_store(1), counting the tickets put.
  class SlotStore : public SessionStore {
   public:
    void put(const std::string& key, std::vector<uint8_t> ticket) override {
      inner_->put(key, std::move(ticket));
      puts_.fetch_add(1, std::memory_order_release);
    }
    std::optional<std::vector<uint8_t>> take(const std::string& key) override {
      return inner_->take(key);
    }
    size_t puts() const { return puts_.load(std::memory_order_acquire); }

   private:
    std::shared_ptr<SessionStore> inner_ = make_session_store(1);
    std::atomic<size_t> puts_{0};
  };

  // Waits until `store` has had a ticket put since `before`, checking every 200 us for at
  // most 100 ms (the connection itself gives up after three probe timeouts).
  asio::awaitable<void> wait_for_ticket(const SlotStore& store, size_t before) {
    asio::steady_timer t(io_.get_executor());
    for (int i = 0; i < 500 && store.puts() == before; ++i) {
      t.expires_after(std::chrono::microseconds(200));
      co_await t.async_wait(as_tuple(asio::use_awaitable));
    }
  }

  asio::awaitable<void> handshake_slot() {
    // --resume: a store per slot, so that each connection finds the ticket of the one before.
    ClientSettings quic = s_.quic;
    auto store = std::make_shared<SlotStore>();
    if (s_.o.resume) quic.session_store = store;
    quic.early_data = s_.o.early_data;
    while (s_.take_ticket()) {
      const size_t puts_before = store->puts();
      const auto t0 = Clock::now();
      h3::ClientH3Controller ctl;
      if (auto ec = co_await connect(ctl, quic)) {
        complete(t0, ec, 0, "connect");
        continue;
      }
      const bool early = !ctl.connection().handshake_completed();
      int status = 0;
      const auto ec = co_await request(ctl, status);
      // A response on a connection means its handshake completed.
      if (early && status != 0 && ctl.connection().resumed()) {
        s_.resumed.fetch_add(1, std::memory_order_relaxed);
      }
      if (early && ctl.connection().early_data_accepted()) {
        s_.early.fetch_add(1, std::memory_order_relaxed);
      }
      ctl.close(h3::kNoError);
      complete(t0, ec, status, "request");
      // With 0-RTT the answer can come before the server's new ticket, and the closing
      // connection waits for it: so does the slot (outside the latency measured), or its next
      // connection finds no ticket.
      if (early) co_await wait_for_ticket(*store, puts_before);
    }
  }

  asio::awaitable<void> idle_slot() {
    while (next_ < connections_ && !s_.aborted.load()) {
      ++next_;
      h3::ClientH3Controller ctl;
      if (auto ec = co_await connect(ctl, s_.quic)) {
        error("connect: " + ec.message());
        continue;
      }
      // One request proves the connection works end to end before it goes quiet.
      int status = 0;
      const auto t0 = Clock::now();
      const auto ec = co_await request(ctl, status);
      complete(t0, ec, status, "request");
      if (ec || status < 200 || status >= 300) {
        ctl.close(h3::kNoError);
        continue;
      }
      live_.push_back(ctl);
      live_size_.store(live_.size());
    }
  }

  Shared& s_;
  const size_t connections_;
  size_t next_ = 0;  // --idle: connections started so far
  // Run by this worker's thread alone (other threads only post to it): with this hint its
  // connections need no strand (listener.hpp), as in asioquic-server and asioquic-client.
  asio::io_context io_{ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::vector<h3::ClientH3Controller> live_;
  std::atomic<size_t> live_size_{0};
  Totals totals_;
  std::vector<uint8_t> buf_ = std::vector<uint8_t>(kReadBuffer);
};

// Resident set size of this process, from /proc/self/status (KiB; 0 if unreadable).
uint64_t rss_kib() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + tv.tv_usec / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

const char* mode_name(Mode m) {
  switch (m) {
    case Mode::requests:
      return "requests";
    case Mode::handshakes:
      return "handshakes";
    case Mode::idle:
      return "idle";
  }
  return "?";
}

// Sleeps until `until` or until `done` returns true, polling every 10 ms; returns done().
template <typename Pred>
bool wait_until(Clock::time_point until, Pred done) {
  while (!done()) {
    if (Clock::now() >= until) return done();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace

int run_load(const LoadOptions& o, std::ostream& out) {
  Shared s(o);
  s.quic.tls.alpn = {"h3"};
  s.quic.tls.server_name = o.host;
  s.quic.tls.use_system_trust = false;
  if (o.cacert.empty()) {
    s.quic.tls.insecure_skip_verify = true;
  } else {
    s.quic.tls.ca_file = o.cacert;
  }
  s.quic.idle_timeout = o.idle_timeout;
  s.quic.handshake_timeout = o.timeout;
  s.quic.qlog_dir = o.qlog_dir;
  h3::Fields extra{{"user-agent", "asioquic-bench"}};
  if (o.body_size > 0) {
    s.body = std::make_shared<const std::vector<uint8_t>>(o.body_size, uint8_t{'x'});
    extra.push_back({"content-length", std::to_string(o.body_size)});
    s.fields = h3::request_fields("POST", o.authority, o.path, std::move(extra));
  } else {
    s.fields = h3::request_fields("GET", o.authority, o.path, std::move(extra));
  }

  const auto start = Clock::now();
  const auto backstop = start + o.max_time;
  if (o.duration && o.mode != Mode::idle) {
    s.count_from = start + o.warm_up;
    s.count_until = s.count_from + *o.duration;
  }

  // Connections dealt round-robin: thread i gets every threads-th one.
  const size_t threads = std::min(o.threads, o.connections);
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < threads; ++i) {
    const size_t n = o.connections / threads + (i < o.connections % threads ? 1 : 0);
    workers.push_back(std::make_unique<Worker>(s, n));
  }
  const double cpu0 = cpu_seconds();
  std::vector<std::thread> pool;
  for (auto& w : workers)
    pool.emplace_back([&w] { w->run(); });
  auto all_finished = [&] { return s.finished.load() == threads; };

  bool cut_short = false;
  uint64_t idle_rss = 0;
  size_t idle_open = 0;
  double idle_seconds = 0;
  if (o.mode == Mode::idle) {
    cut_short = !wait_until(backstop, [&] { return s.ramped.load() == threads; });
    if (!cut_short) {
      for (auto& w : workers)
        idle_open += w->live_count();
      idle_rss = rss_kib();
      const double ramp = std::chrono::duration<double>(Clock::now() - start).count();
      // Scripts wait for this line, then measure the server while the connections idle.
      out << "idle-ready connections=" << idle_open << " ramp_seconds=" << std::fixed
          << std::setprecision(3) << ramp << " client_rss_kib=" << idle_rss << std::endl;
      const auto hold_from = Clock::now();
      wait_until(std::min(backstop, hold_from + *o.duration), [] { return false; });
      idle_seconds = std::chrono::duration<double>(Clock::now() - hold_from).count();
    }
    for (auto& w : workers)
      w->close_all();
  } else if (o.duration) {
    cut_short = !wait_until(std::min(backstop, s.count_until), [&] { return all_finished(); }) &&
                Clock::now() >= backstop;
    s.stop.store(true);
  }
  if (!cut_short) cut_short = !wait_until(backstop, all_finished);
  if (cut_short) {
    s.aborted.store(true);
    s.stop.store(true);
    for (auto& w : workers)
      w->close_all();
    if (!wait_until(Clock::now() + o.timeout + kAbortGrace, all_finished)) {
      out << "asioquic-bench: --max-time reached and the connections did not close; giving up"
          << std::endl;
      std::fflush(nullptr);
      std::_Exit(3);
    }
  }
  for (auto& t : pool)
    t.join();
  const double cpu = cpu_seconds() - cpu0;

  Totals t;
  for (auto& w : workers)
    t.merge(w->totals());

  double seconds;
  if (o.mode == Mode::idle) {
    seconds = idle_seconds;
  } else if (o.duration) {
    seconds = std::chrono::duration<double>(*o.duration).count();
  } else {
    seconds = t.done ? std::chrono::duration<double>(t.last_end - t.first_start).count() : 0;
  }
  const double rate = seconds > 0 && o.mode != Mode::idle ? t.done / seconds : 0;
  auto us = [&](double q) { return t.latency.quantile(q) / 1000; };

  if (!o.quiet) {
    const char* unit = o.mode == Mode::handshakes ? "handshakes" : "requests";
    out << "asioquic-bench: " << mode_name(o.mode) << ", " << o.connections
        << (o.mode == Mode::handshakes ? " slot(s)" : " connection(s)");
    if (o.mode == Mode::requests) out << " x " << o.streams << " stream(s)";
    out << ", " << threads << " thread(s), " << (o.body_size ? "POST " : "GET ") << o.url << "\n";
    out << std::fixed << std::setprecision(3);
    if (o.mode == Mode::idle) {
      out << "held " << idle_open << " connections open for " << idle_seconds
          << " s; client RSS then " << idle_rss << " KiB\n";
    } else {
      out << "finished: " << t.done << " " << unit << " counted in " << seconds << " s, "
          << std::setprecision(1) << rate << " " << unit << "/s, " << t.errors << " error(s)\n"
          << std::setprecision(3);
    }
    out << "latency: min " << t.latency.min() / 1e3 << " us, p50 " << us(0.5) << " us, p90 "
        << us(0.9) << " us, p99 " << us(0.99) << " us, max " << t.latency.max() / 1e3 << " us\n";
    out << "status: 2xx " << t.status_2xx << ", other " << t.status_other << "; body bytes "
        << t.bytes << "; connections established " << s.established.load() << " (TLS resumed "
        << s.resumed.load() << ", 0-RTT accepted " << s.early.load() << ")\n";
    out << "client CPU: " << cpu << " s\n";
    // The most frequent errors first.
    std::vector<std::pair<uint64_t, std::string>> kinds;
    for (const auto& [k, v] : t.error_kinds)
      kinds.emplace_back(v, k);
    std::sort(kinds.rbegin(), kinds.rend());
    for (size_t i = 0; i < kinds.size() && i < 5; ++i)
      out << "error x" << kinds[i].first << ": " << kinds[i].second << "\n";
    if (cut_short) out << "cut short by --max-time\n";
  }
  out << "result mode=" << mode_name(o.mode) << " conns=" << o.connections
      << " streams=" << o.streams << " threads=" << threads << " done=" << t.done
      << " all=" << t.all_ok << " errors=" << t.errors << std::fixed << std::setprecision(4)
      << " seconds=" << seconds << std::setprecision(1) << " rate=" << rate << " p50_us=" << us(0.5)
      << " p90_us=" << us(0.9) << " p99_us=" << us(0.99) << " max_us=" << t.latency.max() / 1000
      << " bytes=" << t.bytes << std::setprecision(3) << " client_cpu_s=" << cpu
      << " client_rss_kib=" << (o.mode == Mode::idle ? idle_rss : rss_kib())
      << " established=" << s.established.load() << (o.mode == Mode::idle ? " open=" : "")
      << (o.mode == Mode::idle ? std::to_string(idle_open) : std::string())
      << " resumed=" << s.resumed.load() << " early=" << s.early.load()
      << " cut_short=" << (cut_short ? 1 : 0) << std::endl;
  if (cut_short) return 3;
  return t.errors ? 1 : 0;
}

}  // namespace asioquic::bench
