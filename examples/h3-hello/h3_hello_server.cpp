// The smallest HTTP/3 server: answers every request with a greeting.
//
//   h3_hello_server [ADDR:PORT]      (default 127.0.0.1:4433; makes a self-signed certificate)
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <iostream>

namespace aq = asioquic;

int main(int argc, char** argv) {
  std::error_code ec;
  const auto ep = aq::parse_endpoint(argc > 1 ? argv[1] : "127.0.0.1:4433", ec);
  auto cert = aq::make_self_signed_certificate({"localhost", ep.address().to_string()}, ec);
  if (ec) {
    std::cerr << "setup: " << ec.message() << "\n";
    return 1;
  }
  aq::ServerSettings settings;
  settings.tls.alpn = {"h3"};
  settings.tls.cert_pem = cert.cert_pem;
  settings.tls.key_pem = cert.key_pem;

  asio::io_context io;
  auto listener = aq::listen(io.get_executor(), {&ep, 1}, settings, ec);
  if (ec) {
    std::cerr << "listen: " << ec.message() << "\n";
    return 1;
  }
  std::cout << "serving https://" << listener.local_endpoints()[0] << "/" << std::endl;

  auto hello = [](aq::h3::ServerRequest req, aq::h3::ServerResponse res) -> asio::awaitable<void> {
    std::string body = "hello from asio-quic, you asked for " + std::string(req.path()) + "\n";
    // (A named Fields: g++ 12 miscompiles braced lists inside co_await expressions.)
    aq::h3::Fields fields{{"content-type", "text/plain"}};
    co_await res.async_respond(200, std::move(fields), aq::Buffer::take(std::move(body)),
                               asio::use_awaitable);
  };
  asio::co_spawn(io, aq::h3::serve(listener, {}, hello), asio::detached);
  io.run();
}
