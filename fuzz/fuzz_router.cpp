// Fuzz target: a live server's router and acceptor fed arbitrary datagrams — routing by DCID,
// Version Negotiation, Retry (on for odd inputs), stateless resets, refusals, connection
// creation and the engine's handling of whatever a new connection receives next.
//
// Input: a sequence of records [source port byte][length (2 bytes)][datagram].
#include <asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <span>

#include "asioquic/certificate.hpp"
#include "engine/tls_context.hpp"
#include "quic/listener_impl.hpp"

using namespace asioquic;

namespace {

struct Server {
  asio::io_context io;
  std::shared_ptr<quic::ListenerImpl> plain;
  std::shared_ptr<quic::ListenerImpl> retry;

  Server() {
    plain = make(false);
    retry = make(true);
  }

  std::shared_ptr<quic::ListenerImpl> make(bool with_retry) {
    std::error_code ec;
    const auto cert = make_self_signed_certificate({"localhost"}, ec);
    auto ctx = std::make_shared<quic::ServerContext>();
    ctx->settings.tls.alpn = {"h3"};
    ctx->settings.tls.cert_pem = cert.cert_pem;
    ctx->settings.tls.key_pem = cert.key_pem;
    ctx->settings.retry = with_retry;
    // Few connections at once: the fuzzer never lets time pass, so none would time out.
    ctx->settings.max_handshakes = 32;
    ctx->settings.max_connections = 64;
    ctx->settings.stateless_reset_rate = 1'000'000;
    ctx->tls = engine::TlsContext::create(engine::TlsContext::Role::server, ctx->settings.tls, ec);
    ctx->secret = {7, 7, 7};
    std::vector<quic::ListenerImpl::RoutedSocket> socks;
    socks.push_back(
        {std::make_unique<net::UdpSocket>(
             io.get_executor(), asio::ip::udp::endpoint(asio::ip::make_address("127.0.0.1"), 0),
             net::SocketOptions{}, ec),
         io.get_executor(), 0});
    auto l = std::make_shared<quic::ListenerImpl>(io.get_executor(), ctx);
    l->open(std::move(socks));
    return l;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Server server;
  const auto& listener = (size & 1) ? server.retry : server.plain;
  auto& router = *listener->routers().front();
  const net::Address local = router.socket().local_address();
  size_t off = 0;
  while (off + 3 <= size) {
    net::Address remote = net::Address::from(
        {asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(40000 + data[off])});
    const size_t len = std::min<size_t>(size - off - 3, (data[off + 1] << 8) | data[off + 2]);
    off += 3;
    quic::Datagram d;
    d.data = {data + off, len};
    d.local = &local;
    d.remote = &remote;
    d.ts = 1'000'000'000 + off;
    // Posted so the router's strand runs it, as a real receive would.
    asio::post(router.executor(), [&router, d] { router.inject(d); });
    server.io.poll();
    server.io.restart();
    off += len;
  }
  return 0;
}
