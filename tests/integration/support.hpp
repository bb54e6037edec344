// Harness for the transport integration tests on loopback: an io_context on background threads,
// a test server (listener on 127.0.0.1:0 with a self-signed certificate and an accept loop), a
// client connector, echo applications and SHA-256 helpers.
//
// Every wait is bounded: a wait that times out throws TimeoutError, which GoogleTest reports as a
// failure of the running test, so a hung connection fails instead of hanging the binary.
#pragma once

#include <asioquic/asioquic.hpp>

#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace aqtest {

namespace aq = asioquic;
using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

constexpr const char* kAlpn = "echo";

// ------------------------------------------------------------------ bounded waits

struct TimeoutError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The value of `f`, or TimeoutError naming `what` if it is not ready within `timeout`.
template <typename T>
T get_within(std::future<T>& f, Ms timeout, const std::string& what) {
  if (f.wait_for(timeout) != std::future_status::ready) {
    throw TimeoutError("timed out after " + std::to_string(timeout.count()) + " ms: " + what);
  }
  return f.get();
}

/// Polls `pred` until it holds; false after `timeout`.
bool eventually(const std::function<bool()>& pred, Ms timeout);

/// A promise that may be fulfilled from several places; only the first value counts. Its
/// future (and so each accessor below returning one) may be taken once.
template <typename T>
class OnceValue {
 public:
  void set(T v) {
    if (!done_.exchange(true)) p_.set_value(std::move(v));
  }
  bool is_set() const noexcept { return done_.load(); }
  std::future<T> future() { return p_.get_future(); }

 private:
  std::promise<T> p_;
  std::atomic<bool> done_{false};
};

// ------------------------------------------------------------------ bytes and hashes

using Digest = std::array<uint8_t, 32>;

/// SHA-256 of `data` (gnutls_hash_fast).
Digest sha256(std::span<const uint8_t> data);
std::string hex(const Digest& d);

/// Incremental SHA-256, for data that arrives in pieces.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::span<const uint8_t> data);
  Digest finish();

 private:
  void* h_;  // gnutls_hash_hd_t
};

/// `n` pseudo-random bytes, the same for the same seed.
std::shared_ptr<const std::vector<uint8_t>> make_payload(size_t n, uint64_t seed);

std::span<const uint8_t> as_bytes(std::string_view s);

// ------------------------------------------------------------------ runtime

/// An io_context run by `threads` background threads until destroyed.
class IoThreads {
 public:
  explicit IoThreads(unsigned threads = 2);
  ~IoThreads();
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  asio::any_io_executor executor() { return io_.get_executor(); }

  /// Releases the work guard and waits for run() to return on every thread, which happens only
  /// once no socket, timer or handler is left: false (and the context is stopped) if something
  /// still holds work after `timeout`, i.e. a connection or router outlived its end.
  bool drain(Ms timeout);

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  std::vector<std::thread> threads_;
  std::vector<std::future<void>> done_;
};

// ------------------------------------------------------------------ TLS material

/// The test certificate (names "localhost" and "127.0.0.1"), made once per process.
const aq::Certificate& test_certificate();
/// A temporary PEM file holding test_certificate().cert_pem, removed at exit.
const std::string& test_ca_file();

/// Server settings: the test certificate, ALPN "echo".
aq::ServerSettings server_settings();
/// Client settings: ALPN "echo", trusting the test certificate through tls.ca_file.
aq::ClientSettings client_settings();

// ------------------------------------------------------------------ server

using AppFactory = std::function<std::shared_ptr<aq::ApplicationOverQuic>()>;

/// A listener on 127.0.0.1:0 whose accept loop starts every connection with `factory()`.
class TestServer {
 public:
  TestServer(asio::any_io_executor ex, aq::ServerSettings settings, AppFactory factory);
  /// Closes the listener and every connection it accepted, waiting (bounded) for their end.
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  uint16_t port() const { return port_; }
  aq::ListenerStats stats() const { return listener_.stats(); }
  /// Handles of the connections started so far.
  std::vector<aq::ConnectionHandle> connections() const;

 private:
  struct State;
  aq::Listener listener_;
  uint16_t port_ = 0;
  std::shared_ptr<State> state_;
};

// ------------------------------------------------------------------ client

struct Connected {
  std::error_code ec;
  aq::ConnectionHandle handle;
};

struct Closed {
  std::error_code ec;
  aq::CloseInfo info;
};

std::future<Closed> wait_closed(const aq::ConnectionHandle& h);

/// Closes each handle (no error) and waits for its end; false if one did not end in `timeout`.
bool close_all(const std::vector<aq::ConnectionHandle>& handles, Ms timeout);

// ------------------------------------------------------------------ applications

/// Records on_conn_established and on_conn_close; does nothing else. Base of the test apps.
class RecordingApp : public aq::ApplicationOverQuic {
 public:
  std::error_code on_conn_established(aq::Connection& conn, const aq::HandshakeInfo& info) override;
  std::error_code process_reads(aq::Connection&) override { return {}; }
  std::error_code process_writes(aq::Connection&) override { return {}; }
  void on_conn_close(aq::Connection& conn, const aq::ConnectionStats& stats,
                     std::error_code result) override;

  std::future<aq::HandshakeInfo> established() { return established_.future(); }
  /// The result and the connection's CloseInfo as on_conn_close saw them.
  std::future<Closed> closed() { return closed_.future(); }

 private:
  OnceValue<aq::HandshakeInfo> established_;
  OnceValue<Closed> closed_;
};

/// The echo server of examples/echo: every byte of a stream goes back on it, FIN included;
/// reads only what the send buffer can take, so flow control paces the peer.
class EchoServerApp : public RecordingApp {
 public:
  std::error_code process_reads(aq::Connection& conn) override;
  std::error_code process_writes(aq::Connection& conn) override;

 private:
  void pump(aq::Connection& conn);
  std::set<int64_t> pending_;  // streams with data or a FIN not yet echoed
  std::array<uint8_t, 64 * 1024> buf_{};
};

/// Sends one payload per bidirectional stream and hashes what comes back. Streams are opened as
/// the peer's limit allows; sending follows stream_send_capacity (zero-copy Buffer::shared
/// slices of the payload). When every stream has been echoed up to its FIN, result() is ready
/// and the connection is closed with no error if `close_when_done`.
class EchoClientApp : public RecordingApp {
 public:
  struct StreamResult {
    int64_t id = -1;
    size_t bytes = 0;
    Digest digest{};
  };
  struct Result {
    std::error_code error;              // set if the connection ended before every echo
    std::vector<StreamResult> streams;  // in payload order
    size_t stream_limit_hits = 0;       // open_bidi_stream calls that returned stream_limit
  };

  EchoClientApp(std::vector<std::shared_ptr<const std::vector<uint8_t>>> payloads,
                bool close_when_done = true);
  ~EchoClientApp() override;

  std::error_code process_reads(aq::Connection& conn) override;
  std::error_code process_writes(aq::Connection& conn) override;
  void on_conn_close(aq::Connection& conn, const aq::ConnectionStats& stats,
                     std::error_code result) override;

  std::future<Result> result() { return result_.future(); }

 private:
  struct Stream;
  std::vector<std::shared_ptr<const std::vector<uint8_t>>> payloads_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::map<int64_t, Stream*> by_id_;
  size_t opened_ = 0;
  size_t finished_ = 0;
  size_t limit_hits_ = 0;
  bool close_when_done_;
  std::array<uint8_t, 64 * 1024> buf_{};
  OnceValue<Result> result_;
};

using Payloads = std::vector<std::shared_ptr<const std::vector<uint8_t>>>;

/// Expects every payload back intact, in order, each on its own stream.
void expect_echoed(const EchoClientApp::Result& r, const Payloads& payloads);

// ------------------------------------------------------------------ fixture

/// Two I/O threads, at most one TestServer, and the client connections made through connect().
/// TearDown closes every connection, then checks that the io_context runs out of work (nothing
/// leaked: no router, socket or timer outlives its connections).
class TransportTest : public ::testing::Test {
 protected:
  void TearDown() override;

  asio::any_io_executor ex() { return io_.executor(); }
  TestServer& start_server(AppFactory factory, aq::ServerSettings settings = server_settings());
  /// async_connect to the server (or `port`); the handle is closed at TearDown.
  std::future<Connected> connect(std::shared_ptr<aq::ApplicationOverQuic> app,
                                 const aq::ClientSettings& settings = client_settings(),
                                 uint16_t port = 0, const std::string& host = "127.0.0.1");

  IoThreads io_{2};
  std::unique_ptr<TestServer> server_;

 private:
  std::mutex m_;
  bool tearing_down_ = false;
  std::vector<aq::ConnectionHandle> clients_;
};

}  // namespace aqtest
