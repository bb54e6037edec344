// Echo over QUIC, client side: sends each argument on its own stream and prints what comes back.
//
//   echo_client HOST PORT MESSAGE...      (the server's self-signed certificate is not checked:
//                                          this demo passes --insecure semantics on purpose)
#include <asioquic/asioquic.hpp>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <iostream>
#include <map>

namespace aq = asioquic;

class EchoClient : public aq::ApplicationOverQuic {
 public:
  explicit EchoClient(std::vector<std::string> messages) : to_send_(std::move(messages)) {}

  std::error_code on_conn_established(aq::Connection& conn, const aq::HandshakeInfo&) override {
    for (auto& m : to_send_) {
      std::error_code ec;
      const int64_t id = conn.open_bidi_stream(ec);
      if (ec) return ec;
      conn.stream_send(id, aq::Buffer::take(std::move(m)), /*fin=*/true, ec);
      if (ec) return ec;
      replies_[id];
    }
    return {};
  }

  std::error_code process_reads(aq::Connection& conn) override {
    while (auto id = conn.next_readable()) {
      char buf[4096];
      bool fin = false;
      std::error_code ec;
      size_t n;
      do {  // after the FIN the stream is gone, so stop there
        n = conn.stream_recv(*id, {reinterpret_cast<uint8_t*>(buf), sizeof buf}, fin, ec);
        replies_[*id].append(buf, n);
      } while (n > 0 && !fin && !ec);
      if (ec) return ec;
      if (fin) {
        std::cout << "stream " << *id << ": " << replies_[*id] << "\n";
        if (++finished_ == replies_.size()) conn.close(0, "done");
      }
    }
    return {};
  }

  std::error_code process_writes(aq::Connection&) override { return {}; }

 private:
  std::vector<std::string> to_send_;
  std::map<int64_t, std::string> replies_;
  size_t finished_ = 0;
};

asio::awaitable<void> run(std::string host, uint16_t port, std::vector<std::string> messages) {
  aq::ClientSettings settings;
  settings.tls.alpn = {"echo"};
  settings.tls.insecure_skip_verify = true;
  auto app = std::make_shared<EchoClient>(std::move(messages));
  auto ex = co_await asio::this_coro::executor;
  auto [ec, conn] = co_await aq::async_connect(ex, host, port, settings, app,
                                               asio::experimental::as_tuple(asio::use_awaitable));
  if (ec) {
    std::cerr << "connect: " << ec.message() << "\n";
    co_return;
  }
  auto [result, info] =
      co_await conn.async_wait_closed(asio::experimental::as_tuple(asio::use_awaitable));
  if (result) {
    std::cerr << "closed: " << result.message() << (info.by_peer ? " by peer" : "") << ": "
              << info.reason << "\n";
  }
}

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: echo_client HOST PORT MESSAGE...\n";
    return 2;
  }
  asio::io_context io;
  asio::co_spawn(io,
                 run(argv[1], static_cast<uint16_t>(std::stoi(argv[2])), {argv + 3, argv + argc}),
                 asio::detached);
  io.run();
}
