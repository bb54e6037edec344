#include "integration/support.hpp"

#include <gnutls/crypto.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace aqtest {

bool eventually(const std::function<bool()>& pred, Ms timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
}

// ------------------------------------------------------------------ bytes and hashes

Digest sha256(std::span<const uint8_t> data) {
  Digest d{};
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), d.data()) < 0) {
    throw std::runtime_error("gnutls_hash_fast failed");
  }
  return d;
}

std::string hex(const Digest& d) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s;
  for (uint8_t b : d) {
    s += kDigits[b >> 4];
    s += kDigits[b & 0xf];
  }
  return s;
}

Sha256::Sha256() {
  gnutls_hash_hd_t h;
  if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) throw std::runtime_error("gnutls_hash_init");
  h_ = h;
}

Sha256::~Sha256() {
  if (h_) gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(h_), nullptr);
}

void Sha256::update(std::span<const uint8_t> data) {
  if (!data.empty()) gnutls_hash(static_cast<gnutls_hash_hd_t>(h_), data.data(), data.size());
}

Digest Sha256::finish() {
  Digest d{};
  gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(h_), d.data());
  h_ = nullptr;
  return d;
}

std::shared_ptr<const std::vector<uint8_t>> make_payload(size_t n, uint64_t seed) {
  auto v = std::make_shared<std::vector<uint8_t>>(n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i += 8) {
    // splitmix64: fast enough for 50 MB in a Debug build.
    uint64_t z = (x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::memcpy(v->data() + i, &z, std::min<size_t>(8, n - i));
  }
  return v;
}

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// ------------------------------------------------------------------ runtime

IoThreads::IoThreads(unsigned threads) : guard_(io_.get_executor()) {
  for (unsigned i = 0; i < threads; ++i) {
    std::promise<void> p;
    done_.push_back(p.get_future());
    threads_.emplace_back([this, p = std::move(p)]() mutable {
      io_.run();
      p.set_value();
    });
  }
}

IoThreads::~IoThreads() {
  io_.stop();
  for (auto& t : threads_)
    t.join();
}

bool IoThreads::drain(Ms timeout) {
  guard_.reset();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& f : done_) {
    if (f.wait_until(deadline) != std::future_status::ready) {
      io_.stop();
      return false;
    }
  }
  return true;
}

// ------------------------------------------------------------------ TLS material

const aq::Certificate& test_certificate() {
  static const aq::Certificate cert = [] {
    std::error_code ec;
    auto c = aq::make_self_signed_certificate({"localhost", "127.0.0.1"}, ec);
    if (ec) throw std::runtime_error("make_self_signed_certificate: " + ec.message());
    return c;
  }();
  return cert;
}

namespace {

struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

}  // namespace

const std::string& test_ca_file() {
  static const TempFile file = [] {
    TempFile f;
    f.path = (std::filesystem::temp_directory_path() /
              ("asioquic-integ-ca-" + std::to_string(::getpid()) + ".pem"))
                 .string();
    std::ofstream out(f.path, std::ios::binary | std::ios::trunc);
    out << test_certificate().cert_pem;
    if (!out) throw std::runtime_error("cannot write " + f.path);
    return f;
  }();
  return file.path;
}

aq::ServerSettings server_settings() {
  aq::ServerSettings s;
  s.tls.cert_pem = test_certificate().cert_pem;
  s.tls.key_pem = test_certificate().key_pem;
  s.tls.alpn = {kAlpn};
  return s;
}

aq::ClientSettings client_settings() {
  aq::ClientSettings s;
  s.tls.alpn = {kAlpn};
  s.tls.ca_file = test_ca_file();
  return s;
}

// ------------------------------------------------------------------ server

struct TestServer::State : std::enable_shared_from_this<State> {
  AppFactory factory;
  aq::Listener listener;
  mutable std::mutex m;
  bool closing = false;
  std::vector<aq::ConnectionHandle> handles;

  void accept() {
    listener.async_accept(
        [self = shared_from_this()](std::error_code ec, aq::IncomingConnection in) {
          if (ec) return;  // listener closed
          {
            std::lock_guard lock(self->m);
            // Closing: `in` closes itself when dropped.
            if (self->closing) return;
            self->handles.push_back(in.start(self->factory()));
          }
          self->accept();
        });
  }
};

TestServer::TestServer(asio::any_io_executor ex, aq::ServerSettings settings, AppFactory factory)
    : state_(std::make_shared<State>()) {
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  std::error_code ec;
  listener_ = aq::listen(ex, {&ep, 1}, settings, ec);
  if (ec) throw std::runtime_error("listen: " + ec.message());
  port_ = listener_.local_endpoints().at(0).port();
  state_->factory = std::move(factory);
  state_->listener = listener_;
  state_->accept();
}

TestServer::~TestServer() {
  std::vector<aq::ConnectionHandle> handles;
  {
    std::lock_guard lock(state_->m);
    state_->closing = true;
    handles = state_->handles;
  }
  listener_.close();
  if (!close_all(handles, 5s)) ADD_FAILURE() << "server connections did not end after close";
}

std::vector<aq::ConnectionHandle> TestServer::connections() const {
  std::lock_guard lock(state_->m);
  return state_->handles;
}

// ------------------------------------------------------------------ client

void expect_echoed(const EchoClientApp::Result& r, const Payloads& payloads) {
  ASSERT_FALSE(r.error) << r.error.message();
  ASSERT_EQ(r.streams.size(), payloads.size());
  for (size_t i = 0; i < payloads.size(); ++i) {
    EXPECT_EQ(r.streams[i].bytes, payloads[i]->size()) << "stream " << r.streams[i].id;
    EXPECT_EQ(hex(r.streams[i].digest), hex(sha256(*payloads[i]))) << "stream " << r.streams[i].id;
  }
}

std::future<Closed> wait_closed(const aq::ConnectionHandle& h) {
  auto p = std::make_shared<std::promise<Closed>>();
  auto f = p->get_future();
  h.async_wait_closed([p](std::error_code ec, aq::CloseInfo info) {
    p->set_value({ec, std::move(info)});
  });
  return f;
}

bool close_all(const std::vector<aq::ConnectionHandle>& handles, Ms timeout) {
  std::vector<std::future<Closed>> ends;
  for (const auto& h : handles) {
    if (!h.valid()) continue;
    h.close();
    ends.push_back(wait_closed(h));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  return std::all_of(ends.begin(), ends.end(),
                     [&](auto& f) { return f.wait_until(deadline) == std::future_status::ready; });
}

// ------------------------------------------------------------------ applications

std::error_code RecordingApp::on_conn_established(aq::Connection&, const aq::HandshakeInfo& info) {
  established_.set(info);
  return {};
}

void RecordingApp::on_conn_close(aq::Connection& conn, const aq::ConnectionStats&,
                                 std::error_code result) {
  closed_.set({result, conn.close_info()});
}

std::error_code EchoServerApp::process_reads(aq::Connection& conn) {
  while (auto id = conn.next_readable())
    pending_.insert(*id);
  pump(conn);
  return {};
}

// Runs every turn: acknowledgements may have made room to echo more.
std::error_code EchoServerApp::process_writes(aq::Connection& conn) {
  pump(conn);
  return {};
}

void EchoServerApp::pump(aq::Connection& conn) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    const int64_t id = *it;
    bool done = false;
    while (size_t room = conn.stream_send_capacity(id)) {
      bool fin = false;
      std::error_code ec;
      const size_t n = conn.stream_recv(id, {buf_.data(), std::min(room, buf_.size())}, fin, ec);
      if (ec) {  // reset by the peer: stop echoing
        conn.stream_reset(id, 0, ec);
        done = true;
        break;
      }
      if (n == 0 && !fin) break;
      conn.stream_send(id, {buf_.data(), n}, fin, ec);
      if (fin || ec) {
        done = true;
        break;
      }
    }
    it = done ? pending_.erase(it) : std::next(it);
  }
}

struct EchoClientApp::Stream {
  int64_t id = -1;
  size_t sent = 0;
  bool fin_sent = false;
  size_t received = 0;
  Sha256 hash;
  bool done = false;
  Digest digest{};
};

EchoClientApp::EchoClientApp(std::vector<std::shared_ptr<const std::vector<uint8_t>>> payloads,
                             bool close_when_done)
    : payloads_(std::move(payloads)), close_when_done_(close_when_done) {
  for (size_t i = 0; i < payloads_.size(); ++i)
    streams_.push_back(std::make_unique<Stream>());
}

EchoClientApp::~EchoClientApp() = default;

std::error_code EchoClientApp::process_writes(aq::Connection& conn) {
  // Slices larger than this would hold the whole send buffer in one Buffer.
  constexpr size_t kMaxSlice = 256 * 1024;
  while (opened_ < streams_.size()) {
    std::error_code ec;
    const int64_t id = conn.open_bidi_stream(ec);
    if (ec == aq::errc::stream_limit) {
      ++limit_hits_;  // retried next turn; MAX_STREAMS wakes us
      break;
    }
    if (ec) return ec;
    streams_[opened_]->id = id;
    by_id_[id] = streams_[opened_].get();
    ++opened_;
  }
  for (size_t i = 0; i < opened_; ++i) {
    Stream& s = *streams_[i];
    const auto& payload = payloads_[i];
    while (!s.fin_sent) {
      const size_t room = conn.stream_send_capacity(s.id);
      if (room == 0) break;  // back-pressure: acknowledgements make room
      const size_t n = std::min({room, payload->size() - s.sent, kMaxSlice});
      const bool fin = s.sent + n == payload->size();
      std::error_code ec;
      conn.stream_send(s.id, aq::Buffer::shared(payload, {payload->data() + s.sent, n}), fin, ec);
      if (ec == aq::errc::would_block) break;
      if (ec) return ec;
      s.sent += n;
      s.fin_sent = fin;
    }
  }
  return {};
}

std::error_code EchoClientApp::process_reads(aq::Connection& conn) {
  while (auto id = conn.next_readable()) {
    auto it = by_id_.find(*id);
    if (it == by_id_.end() || it->second->done) continue;
    Stream& s = *it->second;
    for (;;) {
      bool fin = false;
      std::error_code ec;
      const size_t n = conn.stream_recv(*id, {buf_.data(), buf_.size()}, fin, ec);
      if (ec) return ec;
      s.hash.update({buf_.data(), n});
      s.received += n;
      if (fin) {
        s.done = true;
        s.digest = s.hash.finish();
        ++finished_;
        break;
      }
      if (n == 0) break;
    }
  }
  if (finished_ == streams_.size() && !result_.is_set()) {
    Result r;
    r.stream_limit_hits = limit_hits_;
    for (const auto& s : streams_)
      r.streams.push_back({s->id, s->received, s->digest});
    result_.set(std::move(r));
    if (close_when_done_) conn.close(0, "done");
  }
  return {};
}

void EchoClientApp::on_conn_close(aq::Connection& conn, const aq::ConnectionStats& stats,
                                  std::error_code result) {
  RecordingApp::on_conn_close(conn, stats, result);
  Result r;
  r.error = result ? result : make_error_code(aq::errc::connection_closed);
  result_.set(std::move(r));  // ignored if the echo completed
}

// ------------------------------------------------------------------ fixture

TestServer& TransportTest::start_server(AppFactory factory, aq::ServerSettings settings) {
  server_ = std::make_unique<TestServer>(ex(), std::move(settings), std::move(factory));
  return *server_;
}

std::future<Connected> TransportTest::connect(std::shared_ptr<aq::ApplicationOverQuic> app,
                                              const aq::ClientSettings& settings, uint16_t port,
                                              const std::string& host) {
  if (port == 0) port = server_->port();
  auto p = std::make_shared<std::promise<Connected>>();
  auto f = p->get_future();
  aq::async_connect(ex(), host, port, settings, std::move(app),
                    [this, p](std::error_code ec, aq::ConnectionHandle h) {
                      {
                        std::lock_guard lock(m_);
                        if (tearing_down_) h.close();
                        clients_.push_back(h);
                      }
                      p->set_value({ec, std::move(h)});
                    });
  return f;
}

void TransportTest::TearDown() {
  std::vector<aq::ConnectionHandle> clients;
  {
    std::lock_guard lock(m_);
    tearing_down_ = true;
    clients.swap(clients_);
  }
  EXPECT_TRUE(close_all(clients, 5s)) << "client connections did not end after close";
  server_.reset();
  EXPECT_TRUE(io_.drain(10s)) << "the io_context still had work after every connection ended";
}

}  // namespace aqtest
