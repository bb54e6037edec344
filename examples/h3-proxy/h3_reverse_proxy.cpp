// An HTTP/3 reverse proxy: every request that arrives is forwarded to one upstream HTTP/3
// server over a shared connection, and its response is relayed back. Bodies stream both ways at
// once, as BodyReader::async_read_buffer hands them over: the proxy passes the Buffers the
// connection received on to async_write, copying nothing itself.
//
//   h3_reverse_proxy LISTEN_ADDR:PORT UPSTREAM_HOST UPSTREAM_PORT [UPSTREAM_CA_FILE]
//
// The proxy presents a self-signed certificate. It verifies the upstream against
// UPSTREAM_CA_FILE if given, else it skips that check (for a local test upstream). SIGINT or
// SIGTERM: GOAWAY to the clients, up to 5 s for requests in flight, then exit status 0.
// Everything runs on one thread, so the Upstream below needs no lock.
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
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
    if (client_) client_->shutdown();
    client_.reset();
  }

  // After a request failed with `ec`: forget a connection that cannot take more requests.
  void failed(std::error_code ec) {
    if (ec == aq::errc::connection_closed || ec == aq::errc::going_away) client_.reset();
  }

 private:
  std::string host_;
  uint16_t port_;
  aq::ClientSettings quic_;
  std::optional<h3::ClientH3Controller> client_;
};

// Copies one body to the other side as it arrives, then its end (with trailers). On an error
// the reading side is told to stop and the writing side is reset, so neither peer waits.
awaitable<std::error_code> pump(h3::BodyReader from, h3::BodyWriter to) {
  for (;;) {
    auto [ec, chunk] = co_await from.async_read_buffer(kMaxChunk, as_tuple(use_awaitable));
    if (!chunk.empty()) {
      auto [wec] = co_await to.async_write(std::move(chunk), as_tuple(use_awaitable));
      if (wec) {
        from.stop_reading();
        co_return wec;
      }
    }
    if (ec == asio::error::eof) {
      h3::Fields trailers = from.trailers();
      auto [fec] = co_await to.async_finish(std::move(trailers), as_tuple(use_awaitable));
      co_return fec;
    }
    if (ec) {
      to.reset(h3::kRequestCancelled);
      co_return ec;
    }
  }
}

awaitable<void> answer(h3::ServerResponse res, int status, std::string text) {
  h3::Fields fields{{"content-type", "text/plain"}};
  co_await res.async_respond(status, std::move(fields), aq::Buffer::take(text + "\n"),
                             as_tuple(use_awaitable));
}

// The upstream's response: its status and fields (pseudo-fields are the transport's), then its
// body.
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
    co_return hec;
  }
  co_return co_await pump(ures, res);
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
  auto [req_ec, res_ec] = co_await (pump(req, up) && relay_response(up, res));
  upstream.failed(req_ec ? req_ec : res_ec);
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
  Upstream upstream(argv[2], static_cast<uint16_t>(std::stoi(argv[3])), quic);

  asio::io_context io;
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
  asio::co_spawn(io, server.run(), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code signal_ec, int) {
    if (signal_ec) return;
    server.shutdown(std::chrono::seconds(5));
    upstream.shutdown();
  });
  io.run();
}
