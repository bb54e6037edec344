// The smallest HTTP/3 client: one GET, prints status and body.
//
//   h3_hello_client HOST PORT [PATH]     (skips certificate checks: pairs with h3_hello_server)
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <iostream>

namespace aq = asioquic;
using asio::experimental::as_tuple;

asio::awaitable<int> get(std::string host, uint16_t port, std::string path) {
  aq::ClientSettings quic;
  quic.tls.insecure_skip_verify = true;  // the demo server's certificate is self-signed
  auto ex = co_await asio::this_coro::executor;
  auto [ec, client] =
      co_await aq::h3::async_connect(ex, host, port, quic, {}, as_tuple(asio::use_awaitable));
  if (ec) {
    std::cerr << "connect: " << ec.message() << "\n";
    co_return 1;
  }
  auto fields = aq::h3::request_fields("GET", host + ":" + std::to_string(port), path);
  auto [ec2, res] =
      co_await client.async_request(fields, std::nullopt, as_tuple(asio::use_awaitable));
  if (ec2) {
    std::cerr << "request: " << ec2.message() << "\n";
    co_return 1;
  }
  auto [ec3, body] = co_await res.async_read_all(1 << 20, as_tuple(asio::use_awaitable));
  std::cout << res.status() << "\n" << body;
  client.close();
  co_return ec3 ? 1 : 0;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: h3_hello_client HOST PORT [PATH]\n";
    return 2;
  }
  asio::io_context io;
  int rc = 1;
  asio::co_spawn(io,
                 get(argv[1], static_cast<uint16_t>(std::stoi(argv[2])), argc > 3 ? argv[3] : "/"),
                 [&](std::exception_ptr, int r) { rc = r; });
  io.run();
  return rc;
}
