// An HTTP/3 reverse proxy: every request that arrives is forwarded to one upstream HTTP/3
// server over a shared connection, and its response is relayed back. Bodies stream both ways at
// once, as BodyReader::async_read_buffer hands them over: the proxy passes the Buffers the
// connection received on to async_write, copying nothing itself.
//
//   h3_reverse_proxy LISTEN_ADDR:PORT UPSTREAM_HOST UPSTREAM_PORT [UPSTREAM_CA_FILE]
//
// The proxy presents a self-signed certificate. It verifies the upstream against
// UPSTREAM_CA_FILE if given, else it skips that check (for a local test upstream). SIGINT or
// SIGTERM: GOAWAY to the clients, up to 5 s for requests in flight, then exit status 0; a
// connection still open a second after that is closed at once.
// Everything runs on one thread, so the Upstream below needs no lock.
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>

#include <iostream>
#include <optional>
#include <string>

namespace aq = asioquic;
namespace h3 = asioquic::h3;
using asio::awaitable;
using asio::use_awaitable;
using asio::experimental::as_tuple;
using namespace asio::experimental::awaitable_operators;

// The most one read hands over; bounds how much a Buffer holds, not what is allocated.
constexpr size_t kMaxChunk = 256 * 1024;
// A graceful stop: how long requests in flight may run on, then how long closing may take.
constexpr std::chrono::seconds kDrain{5};
constexpr std::chrono::seconds kGrace{1};

// The upstream connection, made when first needed and made again once it is lost.
class Upstream {
 public:
  Upstream(std::string host, uint16_t port, aq::ClientSettings quic)
      : host_(std::move(host)), port_(port), quic_(std::move(quic)) {}

  awaitable<std::tuple<std::error_code, h3::ClientH3Controller>> get() {
    if (client_) co_return std::make_tuple(std::error_code(), *client_);
    auto ex = co_await asio::this_coro::executor;
    const h3::Settings h3s;
    auto [ec, client] =
        co_await h3::async_connect(ex, host_, port_, quic_, h3s, as_tuple(use_awaitable));
    if (!ec && client_) {
      // Another request connected while this one waited: keep one connection.
      client.shutdown();
      co_return std::make_tuple(std::error_code(), *client_);
    }
    if (!ec) client_ = client;
    co_return std::make_tuple(ec, client);
  }

  // Graceful: the requests in flight finish, then the connection closes.
  void shutdown() {
    if (client_) {
      client_->shutdown();
      closing_ = client_->connection();
    }
    client_.reset();
  }

  // Closes at once the connection that shutdown() left to close.
  void close() const {
    if (closing_) closing_->close(h3::kNoError);
  }

  // Completes once the connection that shutdown() left to close is gone.
  awaitable<void> closed() const {
    if (closing_) co_await closing_->async_wait_closed(as_tuple(use_awaitable));
  }

  // After the upstream side of a request failed with `ec`: a connection that cannot take more
  // requests is replaced by the next get(). It is shut down, not only forgotten, so that it
  // cannot hold the process open until its idle timeout.
  void failed(std::error_code ec) {
    if (client_ && (ec == aq::errc::connection_closed || ec == aq::errc::going_away)) {
      client_->shutdown();
      client_.reset();
    }
  }

 private:
  std::string host_;
  uint16_t port_;
  aq::ClientSettings quic_;
  std::optional<h3::ClientH3Controller> client_;
  std::optional<aq::ConnectionHandle> closing_;
};

// How a pump ended: the reading side's error and the writing side's.
struct Pumped {
  std::error_code from, to;
};

// Copies one body to the other side as it arrives, then its end (with trailers). On an error
// the reading side is told to stop and the writing side is reset, so neither peer waits.
awaitable<Pumped> pump(h3::BodyReader from, h3::BodyWriter to) {
  for (;;) {
    auto [ec, chunk] = co_await from.async_read_buffer(kMaxChunk, as_tuple(use_awaitable));
    if (!chunk.empty()) {
      auto [wec] = co_await to.async_write(std::move(chunk), as_tuple(use_awaitable));
      if (wec) {
        from.stop_reading();
        co_return Pumped{{}, wec};
      }
    }
    if (ec == asio::error::eof) {
      h3::Fields trailers = from.trailers();
      auto [fec] = co_await to.async_finish(std::move(trailers), as_tuple(use_awaitable));
      co_return Pumped{{}, fec};
    }
    if (ec) {
      to.reset(h3::kRequestCancelled);
      co_return Pumped{ec, {}};
    }
  }
}

awaitable<void> answer(h3::ServerResponse res, int status, std::string text) {
  h3::Fields fields{{"content-type", "text/plain"}};
  co_await res.async_respond(status, std::move(fields), aq::Buffer::take(text + "\n"),
                             as_tuple(use_awaitable));
}

// The upstream's response: its status and fields (pseudo-fields are the transport's), then its
// body. Returns the upstream side's error: a client that went away is not the upstream's fault.
awaitable<std::error_code> relay_response(h3::ClientRequest up, h3::ServerResponse res) {
  auto [ec, ures] = co_await up.async_response(as_tuple(use_awaitable));
  if (ec) {
    co_await answer(res, 502, "upstream: " + ec.message());
    co_return ec;
  }
  h3::Fields fields;
  for (const auto& f : ures.headers()) {
    if (!f.name.starts_with(':')) fields.push_back(f);
  }
  auto [hec] =
      co_await res.async_send_headers(ures.status(), std::move(fields), as_tuple(use_awaitable));
  if (hec) {
    ures.stop_reading();
    co_return std::error_code();
  }
  co_return (co_await pump(ures, res)).from;
}

awaitable<void> forward(Upstream& upstream, h3::ServerRequest req, h3::ServerResponse res) {
  auto [ec, client] = co_await upstream.get();
  h3::ClientRequest up;
  if (!ec) {
    h3::Fields fields = req.headers();  // pseudo-fields first, as they arrived
    fields.push_back({"via", "3 asio-quic-proxy"});
    std::tie(ec, up) = co_await client.async_open(std::move(fields), as_tuple(use_awaitable));
  }
  if (ec) {
    upstream.failed(ec);
    co_await answer(res, 502, "upstream: " + ec.message());
    co_return;
  }
  // Both directions at once: an upstream may answer before the request body has ended.
  auto [sent, upstream_ec] = co_await (pump(req, up) && relay_response(up, res));
  upstream.failed(sent.to ? sent.to : upstream_ec);
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: h3_reverse_proxy LISTEN_ADDR:PORT UPSTREAM_HOST UPSTREAM_PORT "
                 "[UPSTREAM_CA_FILE]\n";
    return 2;
  }
  std::error_code ec;
  const auto ep = aq::parse_endpoint(argv[1], ec);
  auto cert = ec ? aq::Certificate{}
                 : aq::make_self_signed_certificate({"localhost", ep.address().to_string()}, ec);
  if (ec) {
    std::cerr << "setup: " << ec.message() << "\n";
    return 1;
  }
  aq::ServerSettings settings;
  settings.tls.alpn = {"h3"};
  settings.tls.cert_pem = cert.cert_pem;
  settings.tls.key_pem = cert.key_pem;

  aq::ClientSettings quic;
  if (argc > 4) {
    quic.tls.ca_file = argv[4];
    quic.tls.use_system_trust = false;
  } else {
    quic.tls.insecure_skip_verify = true;
  }
  // First, so that it is destroyed last: the connections and timers below belong to it.
  asio::io_context io;
  Upstream upstream(argv[2], static_cast<uint16_t>(std::stoi(argv[3])), quic);

  auto listener = aq::listen(io.get_executor(), {&ep, 1}, settings, ec);
  if (ec) {
    std::cerr << "listen: " << ec.message() << "\n";
    return 1;
  }
  std::cout << "proxying https://" << listener.local_endpoints()[0] << "/ to " << argv[2] << ":"
            << argv[3] << std::endl;
  auto handler = [&upstream](h3::ServerRequest req, h3::ServerResponse res) {
    return forward(upstream, std::move(req), std::move(res));
  };
  const h3::Server server(listener, {}, handler);
  // Set on a signal; cancelled once everything has closed, so that the process exits then.
  asio::steady_timer deadline(io);
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await server.run();  // returns once shut down and every client connection is gone
        upstream.shutdown();
        co_await upstream.closed();
        deadline.cancel();
      },
      asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code signal_ec, int) {
    if (signal_ec) return;
    server.shutdown(kDrain);
    upstream.shutdown();
    // The stop is bounded: a connection still open after the drain and the grace period (a
    // peer that went silent, say) is closed at once.
    deadline.expires_after(kDrain + kGrace);
    deadline.async_wait([&](std::error_code timer_ec) {
      if (timer_ec) return;
      server.stop();
      upstream.close();
    });
  });
  io.run();
}
