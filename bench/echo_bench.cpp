// echo_bench: pushes N bytes through an echo server on one stream and reads them back,
// checking every byte; reports throughput. Pairs with examples/echo/echo_server.
//
//   echo_bench HOST PORT BYTES
// Output (one line, for scripts): bytes=N seconds=S MBps=X (MB = 10^6 bytes, echoed bytes / s)
#include <asioquic/asioquic.hpp>

#include <asio/io_context.hpp>

#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <vector>

namespace aq = asioquic;

namespace {

// The payload repeats one 1 MiB block of a fixed pattern, so the reader can check every byte
// without keeping what it sent.
constexpr size_t kBlock = 1 << 20;

std::shared_ptr<std::vector<uint8_t>> make_block() {
  auto b = std::make_shared<std::vector<uint8_t>>(kBlock);
  uint32_t x = 2463534242u;
  for (auto& byte : *b) {
    x ^= x << 13, x ^= x >> 17, x ^= x << 5;
    byte = static_cast<uint8_t>(x);
  }
  return b;
}

class EchoBench : public aq::ApplicationOverQuic {
 public:
  explicit EchoBench(uint64_t total) : total_(total), block_(make_block()) {}

  std::error_code on_conn_established(aq::Connection& conn, const aq::HandshakeInfo&) override {
    std::error_code ec;
    id_ = conn.open_bidi_stream(ec);
    start_ = std::chrono::steady_clock::now();
    return ec;
  }

  std::error_code process_writes(aq::Connection& conn) override {
    // Queue whole blocks without copying while the stream has room.
    while (sent_ < total_) {
      const uint64_t n = std::min<uint64_t>(kBlock, total_ - sent_);
      if (sent_ > 0 && conn.stream_send_capacity(id_) < n) break;
      std::error_code ec;
      conn.stream_send(id_, aq::Buffer::shared(block_, {block_->data(), n}), sent_ + n == total_,
                       ec);
      if (ec == aq::errc::would_block) break;
      if (ec) return ec;
      sent_ += n;
    }
    return {};
  }

  std::error_code process_reads(aq::Connection& conn) override {
    while (conn.next_readable()) {
    }
    for (;;) {
      bool fin = false;
      std::error_code ec;
      const size_t n = conn.stream_recv(id_, buf_, fin, ec);
      if (ec) return ec;
      for (size_t i = 0; i < n; ++i) {
        if (buf_[i] != (*block_)[(received_ + i) % kBlock]) {
          std::cerr << "mismatch at byte " << received_ + i << "\n";
          return aq::make_error_code(aq::errc::internal);
        }
      }
      received_ += n;
      if (fin) {
        elapsed_ = std::chrono::steady_clock::now() - start_;
        conn.close(0, "done");
        return {};
      }
      if (n == 0) return {};
    }
  }

  uint64_t received() const { return received_; }
  std::chrono::duration<double> elapsed() const { return elapsed_; }

 private:
  uint64_t total_;
  std::shared_ptr<std::vector<uint8_t>> block_;
  int64_t id_ = -1;
  uint64_t sent_ = 0;
  uint64_t received_ = 0;
  std::array<uint8_t, 256 * 1024> buf_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::duration<double> elapsed_{0};
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::cerr << "usage: echo_bench HOST PORT BYTES\n";
    return 2;
  }
  const uint64_t total = std::stoull(argv[3]);
  aq::ClientSettings settings;
  settings.tls.alpn = {"echo"};
  settings.tls.insecure_skip_verify = true;
  auto app = std::make_shared<EchoBench>(total);
  asio::io_context io;
  std::error_code result;
  aq::async_connect(
      io.get_executor(), argv[1], static_cast<uint16_t>(std::stoi(argv[2])), settings, app,
      [&](std::error_code ec, aq::ConnectionHandle conn) {
        if (ec) {
          result = ec;
          return;
        }
        conn.async_wait_closed([&, conn](std::error_code e, aq::CloseInfo) { result = e; });
      });
  io.run();
  if (result || app->received() != total) {
    std::cerr << "failed: " << (result ? result.message() : "short") << " after " << app->received()
              << " bytes\n";
    return 1;
  }
  const double s = app->elapsed().count();
  std::cout << "bytes=" << total << " seconds=" << s << " MBps=" << (total / s / 1e6) << std::endl;
}
