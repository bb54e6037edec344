// UdpRelay: a UDP hop between one client and a server on loopback, as a load balancer or a
// long path would be. point_at() moves it to another server mid-connection; a delay on the
// server's datagrams stretches the round trip so that what a test checks happens before the
// server's reply arrives, however the threads are scheduled.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/ip/address.hpp>
#include <asio/ip/udp.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <system_error>
#include <vector>

namespace asioquic::test_support {

/// Forwards datagrams between the one client that talks to port() and the server it is pointed
/// at. Owned through a shared_ptr that its pending receives and its timer hold; stop() closes
/// both sockets, after which the io_context has no work from it beyond the held datagrams'
/// timer (at most `server_delay` away; they are dropped).
class UdpRelay : public std::enable_shared_from_this<UdpRelay> {
 public:
  using udp = asio::ip::udp;

  /// `server_delay`: how long each of the server's datagrams is held before it goes on to the
  /// client (zero: sent at once). The client's datagrams always go on at once.
  UdpRelay(asio::any_io_executor ex, uint16_t server_port,
           std::chrono::milliseconds server_delay = {})
      : strand_(asio::make_strand(ex)),
        front_(strand_, {asio::ip::make_address("127.0.0.1"), 0}),
        back_(strand_, {asio::ip::make_address("127.0.0.1"), 0}),
        server_(asio::ip::make_address("127.0.0.1"), server_port),
        server_delay_(server_delay) {}

  /// The port the client sends to.
  uint16_t port() const { return front_.local_endpoint().port(); }

  void start() {
    asio::post(strand_, [self = shared_from_this()] {
      self->pump(self->front_, self->back_, self->front_buf_, self->client_, self->server_, {});
      self->pump(self->back_, self->front_, self->back_buf_, self->from_, self->client_,
                 self->server_delay_);
    });
  }
  /// Sends the client's later datagrams to `server_port` instead.
  void point_at(uint16_t server_port) {
    asio::post(strand_,
               [self = shared_from_this(), server_port] { self->server_.port(server_port); });
  }
  void stop() {
    asio::post(strand_, [self = shared_from_this()] {
      std::error_code ignored;
      self->front_.close(ignored);
      self->back_.close(ignored);
    });
  }

 private:
  // Receives on `in` (noting the sender in `sender`) and sends each datagram on `out` to `to`,
  // `delay` later, until `in` is closed. `to` is read at each send, so point_at() takes effect
  // at once.
  void pump(udp::socket& in, udp::socket& out, std::array<uint8_t, 65536>& buf,
            udp::endpoint& sender, const udp::endpoint& to, std::chrono::milliseconds delay) {
    in.async_receive_from(asio::buffer(buf), sender,
                          [self = shared_from_this(), &in, &out, &buf, &sender, &to, delay](
                              std::error_code ec, size_t n) {
                            if (ec) return;
                            if (delay.count() == 0) {
                              std::error_code ignored;
                              out.send_to(asio::buffer(buf.data(), n), to, 0, ignored);
                            } else {
                              self->send_later(out, to, {buf.data(), buf.data() + n}, delay);
                            }
                            self->pump(in, out, buf, sender, to, delay);
                          });
  }

  // A copy of the datagram joins a queue in arrival order; one timer sends the queue's front
  // when it is due. (A timer per datagram would not keep the order: two threads can take
  // completions that expired together, and either may reach the strand first.)
  void send_later(udp::socket& out, const udp::endpoint& to, std::vector<uint8_t> datagram,
                  std::chrono::milliseconds delay) {
    held_.push_back({std::chrono::steady_clock::now() + delay, std::move(datagram)});
    if (held_.size() == 1) send_when_due(out, to);
  }

  // Waits for the front of the queue to be due, sends everything that is, and goes on while
  // the queue has more.
  void send_when_due(udp::socket& out, const udp::endpoint& to) {
    held_timer_.expires_at(held_.front().due);
    held_timer_.async_wait([self = shared_from_this(), &out, &to](std::error_code) {
      const auto now = std::chrono::steady_clock::now();
      while (!self->held_.empty() && self->held_.front().due <= now) {
        std::error_code ignored;
        out.send_to(asio::buffer(self->held_.front().datagram), to, 0, ignored);
        self->held_.pop_front();
      }
      if (!self->held_.empty()) self->send_when_due(out, to);
    });
  }

  struct Held {
    std::chrono::steady_clock::time_point due;
    std::vector<uint8_t> datagram;
  };

  asio::strand<asio::any_io_executor> strand_;
  udp::socket front_, back_;
  udp::endpoint server_, client_, from_;
  std::chrono::milliseconds server_delay_;
  asio::steady_timer held_timer_{strand_};
  std::deque<Held> held_;  // the server's datagrams not yet due, oldest first
  std::array<uint8_t, 65536> front_buf_{}, back_buf_{};
};

}  // namespace asioquic::test_support
