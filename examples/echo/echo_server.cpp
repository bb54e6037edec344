// Echo over QUIC, server side: every byte received on a stream is sent back on it, and the FIN
// too. Bring-your-own-protocol in one screen: an ApplicationOverQuic with two callbacks.
//
//   echo_server [ADDR:PORT]        (default 127.0.0.1:4434; a self-signed certificate is made)
#include <asioquic/asioquic.hpp>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <array>
#include <iostream>
#include <set>

namespace aq = asioquic;

class EchoServer : public aq::ApplicationOverQuic {
 public:
  std::error_code on_conn_established(aq::Connection&, const aq::HandshakeInfo&) override {
    return {};
  }

  std::error_code process_reads(aq::Connection& conn) override {
    while (auto id = conn.next_readable())
      pending_.insert(*id);
    return pump(conn);
  }

  // Runs every turn: acknowledgements may have made room to echo more.
  std::error_code process_writes(aq::Connection& conn) override { return pump(conn); }

 private:
  // Moves as much as the send buffer takes; what is left stays unread, so flow control makes
  // the peer wait instead of us buffering without bound.
  std::error_code pump(aq::Connection& conn) {
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
        if (n == 0 && !fin) break;  // nothing more for now
        conn.stream_send(id, {buf_.data(), n}, fin, ec);
        if (fin || ec) {
          done = true;
          break;
        }
      }
      it = done ? pending_.erase(it) : std::next(it);
    }
    return {};
  }

  std::set<int64_t> pending_;
  std::array<uint8_t, 64 * 1024> buf_;
};

int main(int argc, char** argv) {
  const std::string where = argc > 1 ? argv[1] : "127.0.0.1:4434";
  std::error_code ec;
  const auto ep = aq::parse_endpoint(where, ec);
  if (ec) {
    std::cerr << "bad address " << where << ": " << ec.message() << "\n";
    return 2;
  }
  aq::ServerSettings settings;
  settings.tls.alpn = {"echo"};
  auto cert = aq::make_self_signed_certificate({"localhost", ep.address().to_string()}, ec);
  settings.tls.cert_pem = cert.cert_pem;
  settings.tls.key_pem = cert.key_pem;

  asio::io_context io;
  auto listener = aq::listen(io.get_executor(), {&ep, 1}, settings, ec);
  if (ec) {
    std::cerr << "listen: " << ec.message() << "\n";
    return 1;
  }
  std::cout << "echo server on " << listener.local_endpoints()[0] << std::endl;

  // Each new connection is started where it is created. (An accept loop with
  // listener.async_accept works too, and lets the caller wait for the handshake first.)
  listener.on_connection(
      [](aq::IncomingConnection in) { in.start(std::make_shared<EchoServer>()); });

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    listener.close();
    io.stop();
  });
  io.run();
}
