// Fuzz target: the HTTP/3 driver (nghttp3 and everything we do with its events) fed arbitrary
// bytes on request streams and on the peer's control and QPACK streams, as a server (input's
// first byte even) or a client with requests outstanding (odd). It runs without sockets: the
// driver talks to a stub Transport. Accepted requests are answered, bodies are read, what the
// driver writes is "sent" and acknowledged, so the response paths run too.
//
// Mode bit 3 starts the connection before its handshake completes, as on 0-RTT keys: a client
// then has a GET and a POST outstanding (only the GET may go early), a server marks what it
// takes as early data. The handshake completes at the first record with flag bit 4 (accepted)
// or bit 5 (refused: the client's driver restarts on a new nghttp3 session).
//
// Input: [mode][records...], a record = [stream selector][flags][length][bytes]; flags: bit 0
// FIN, bit 1 then RESET_STREAM, bit 2 then the stream closes, bit 3 acknowledge what was sent,
// bits 4 and 5 as above.
#include <asio/io_context.hpp>
#include <asio/post.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "h3/driver.hpp"

using namespace asioquic;
using namespace asioquic::h3;

namespace {

class StubTransport final : public h3::detail::Transport {
 public:
  explicit StubTransport(asio::any_io_executor ex, bool server) : ex_(std::move(ex)) {
    next_uni_ = server ? 3 : 2;
    next_bidi_ = server ? 1 : 0;
  }
  void consume(int64_t, size_t) override {}
  void stream_reset(int64_t, uint64_t, std::error_code&) override {}
  void stream_stop_sending(int64_t, uint64_t, std::error_code&) override {}
  int64_t open_uni_stream(std::error_code&) override {
    return std::exchange(next_uni_, next_uni_ + 4);
  }
  int64_t open_bidi_stream(std::error_code&) override {
    return std::exchange(next_bidi_, next_bidi_ + 4);
  }
  void close(uint64_t, std::string_view) override { closed = true; }
  void wake() override {}
  const std::string& trace_id() const override { return id_; }
  asio::any_io_executor executor() const override { return ex_; }
  bool is_established() const override { return established; }
  bool closed = false;
  bool established = true;

 private:
  asio::any_io_executor ex_;
  std::string id_ = "fuzz";
  int64_t next_uni_;
  int64_t next_bidi_;
};

// Peer stream ids the selector maps to: request streams and the three unidirectional ones.
int64_t peer_stream(bool server, uint8_t sel) {
  const int64_t base = server ? 0 : 1;  // client-initiated (as seen by a server) or not
  if (sel & 0x80) return (server ? 2 : 3) + 4 * (sel % 3);  // control, QPACK encoder, decoder
  return server ? base + 4 * (sel % 4) : 4 * (sel % 4);     // request streams
}

// Everything the driver offers is "sent" in one go; optionally acknowledged right away.
void drain(h3::detail::Driver& d, bool ack) {
  StreamChunk c;
  for (int i = 0; i < 64 && d.next(c); ++i) {
    size_t n = 0;
    for (size_t j = 0; j < c.iovcnt; ++j)
      n += c.iov[j].iov_len;
    d.written(c.stream_id, n, c.fin);
    if (ack && n) d.acked(c.stream_id, 0, n);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  asio::io_context io;
  const bool server = (data[0] & 1) == 0;
  h3::Settings settings;
  settings.max_field_section_size = 4096;
  settings.max_requests_per_connection = (data[0] & 2) ? 3 : 0;
  settings.enable_connect_protocol = data[0] & 4;
  auto d = std::make_shared<h3::detail::Driver>(server, settings, io.get_executor());
  StubTransport t(io.get_executor(), server);
  t.established = (data[0] & 8) == 0;
  d->on_established(t);
  // Answers every request: reads its body, responds with a small body. Lives until the end of
  // this input; the last pending accept completes (with an error) in the final poll().
  std::function<void()> serve = [&] {
    d->accept(asioquic::detail::Completion<void(std::error_code, ServerRequest, ServerResponse)>(
        [&serve](std::error_code ec, ServerRequest req, ServerResponse res) {
          if (ec) return;
          req.async_read_all(1 << 16, [](std::error_code, std::string) {});
          Fields f{{"content-type", "text/plain"}};
          res.async_respond(200, f, Buffer::copy("ok"), [](std::error_code) {});
          serve();
        },
        io.get_executor()));
  };
  if (server) {
    serve();
  } else {
    for (int i = 0; i < 3; ++i) {
      const bool post = i == 1;
      d->request(request_fields(post ? "POST" : "GET", "localhost", "/"),
                 post ? std::optional<Buffer>(Buffer::copy("body")) : std::nullopt,
                 asioquic::detail::Completion<void(std::error_code, ClientResponse)>(
                     [](std::error_code ec, ClientResponse res) {
                       if (!ec) res.async_read_all(1 << 16, [](std::error_code, std::string) {});
                     },
                     io.get_executor()));
    }
    d->on_writes(t);
  }
  size_t off = 1;
  while (off + 3 <= size && !t.closed) {
    const uint8_t sel = data[off];
    const uint8_t flags = data[off + 1];
    const size_t len = std::min<size_t>(data[off + 2], size - off - 3);
    off += 3;
    const int64_t id = peer_stream(server, sel);
    d->on_stream_data(t, id, {data + off, len}, flags & 1);
    off += len;
    if (!t.established && (flags & 0x30)) {
      t.established = true;
      if ((flags & 0x20) && !server && d->on_early_rejected(t)) break;
    }
    if (flags & 2) d->on_quic_reset(id, 0x10c);
    if (flags & 4) d->on_quic_closed(id, 0x100);
    io.poll();
    io.restart();
    d->on_writes(t);
    drain(*d, flags & 8);
  }
  d->on_close(make_error_code(errc::connection_closed));
  io.poll();
  return 0;
}
