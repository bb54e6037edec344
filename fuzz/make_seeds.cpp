// Writes the seed corpora: real packets and HTTP/3 streams made by the engines themselves, so
// fuzzing starts from valid input and mutates it.
//   make_seeds CORPUS_DIR     (writes CORPUS_DIR/{packet,router,h3}/seed-*)
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <vector>

#include "engine/h3_conn.hpp"
#include "engine/quic_conn.hpp"
#include "engine/silent_events.hpp"
#include "engine/tls_context.hpp"
#include "quic/stream_table.hpp"

using namespace asioquic;
namespace fs = std::filesystem;

namespace {

using Bytes = std::vector<uint8_t>;

void write(const fs::path& p, const Bytes& b) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

// The first datagram a real client sends: an Initial carrying a ClientHello.
Bytes client_initial() {
  std::error_code ec;
  Settings s;
  s.tls.alpn = {"h3"};
  s.tls.insecure_skip_verify = true;
  auto tls = engine::TlsContext::create(engine::TlsContext::Role::client, s.tls, ec);
  engine::ConnParams p;
  p.settings = &s;
  p.local = net::Address::from({asio::ip::make_address("127.0.0.1"), 40000});
  p.remote = net::Address::from({asio::ip::make_address("127.0.0.1"), 4433});
  p.dcid = quic::random_cid(18);
  p.scid = quic::random_cid(16);
  p.tls = tls;
  p.verify_host = "localhost";
  p.initial_ts = engine::now_ns();
  engine::SilentEvents ev;
  auto qc = engine::QuicConn::create(p, ev, ec);
  quic::StreamTable none(1);
  Bytes buf(65536);
  engine::TxBatch b;
  b.buf = buf.data();
  b.cap = buf.size();
  qc->write(b, none, ev, 1, p.initial_ts);
  buf.resize(b.segment ? b.segment : b.len);
  return buf;
}

// The bytes an HTTP/3 client writes for one GET: control and QPACK streams, then the request.
std::map<int64_t, Bytes> h3_request_streams() {
  struct Events final : engine::H3Events {
    void on_begin_fields(int64_t, bool) override {}
    void on_field(int64_t, std::string_view, std::string_view, bool) override {}
    void on_end_fields(int64_t, bool, bool) override {}
    void on_body(int64_t, std::span<const uint8_t>) override {}
    void on_consumed(int64_t, size_t) override {}
    void on_end_stream(int64_t) override {}
    void on_stream_close(int64_t, uint64_t) override {}
    void on_body_acked(int64_t, uint64_t) override {}
    void on_stop_sending_wanted(int64_t, uint64_t) override {}
    void on_reset_wanted(int64_t, uint64_t) override {}
    void on_goaway(int64_t) override {}
    ptrdiff_t read_body(int64_t, std::span<iovec> v, bool& eof, bool&) override {
      static const char body[] = "hello";
      v[0] = {const_cast<char*>(body), 5};
      eof = true;
      return 1;
    }
  } ev;
  std::error_code ec;
  auto h3 = engine::H3Conn::create({}, ev, ec);
  h3->bind_streams(2, 6, 10);
  h3::Fields f{{":method", "POST"},  {":scheme", "https"},   {":authority", "localhost"},
               {":path", "/upload"}, {"priority", "u=1, i"}, {"x-seed", "1"}};
  h3->submit_request(0, f, true);
  std::map<int64_t, Bytes> out;
  std::array<iovec, 16> vec;
  for (int i = 0; i < 32; ++i) {
    int64_t id = -1;
    bool fin = false;
    const auto n = h3->writev(id, fin, vec);
    if (n < 0 || id < 0) break;
    size_t total = 0;
    for (ptrdiff_t j = 0; j < n; ++j) {
      auto* p = static_cast<const uint8_t*>(vec[j].iov_base);
      out[id].insert(out[id].end(), p, p + vec[j].iov_len);
      total += vec[j].iov_len;
    }
    h3->add_write_offset(id, total);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds CORPUS_DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  for (auto sub : {"packet", "router", "h3"})
    fs::create_directories(dir / sub);

  const Bytes initial = client_initial();
  Bytes short_hdr(60, 0x5a);
  short_hdr[0] = 0x40;
  Bytes unknown_version = initial;
  unknown_version[1] = 0x1a, unknown_version[2] = 0x2a, unknown_version[3] = 0x3a,
  unknown_version[4] = 0x4a;
  write(dir / "packet" / "seed-initial", initial);
  write(dir / "packet" / "seed-short", short_hdr);
  write(dir / "packet" / "seed-unknown-version", unknown_version);

  // Router records: [source port][length: 2 bytes][datagram].
  auto record = [](Bytes& out, uint8_t port, const Bytes& dgram) {
    out.push_back(port);
    out.push_back(static_cast<uint8_t>(dgram.size() >> 8));
    out.push_back(static_cast<uint8_t>(dgram.size()));
    out.insert(out.end(), dgram.begin(), dgram.end());
  };
  Bytes r1, r2;
  record(r1, 1, initial);
  record(r1, 1, initial);  // a retransmission, as Chromium's split ClientHello looks
  record(r2, 2, unknown_version);
  record(r2, 3, short_hdr);
  write(dir / "router" / "seed-initials", r1);
  write(dir / "router" / "seed-vn-reset", r2);

  // H3 records: [selector][flags][length][bytes]; the mode byte first (fuzz_h3.cpp).
  const auto streams = h3_request_streams();
  // `mode`'s records for the streams `take` selects; `last_flags` added to the last record's.
  const auto h3_input = [&](uint8_t mode, bool (*take)(int64_t), uint8_t last_flags) {
    Bytes h{mode};
    size_t flags_at = 0;
    for (const auto& [id, bytes] : streams) {
      if (!take(id)) continue;
      const uint8_t sel = id == 0 ? 0 : static_cast<uint8_t>(0x80 + (id - 2) / 4);
      for (size_t off = 0; off < bytes.size(); off += 255) {
        const size_t n = std::min<size_t>(255, bytes.size() - off);
        h.push_back(sel);
        flags_at = h.size();
        h.push_back(id == 0 && off + n == bytes.size() ? 1 : 8);
        h.push_back(static_cast<uint8_t>(n));
        h.insert(h.end(), bytes.begin() + static_cast<ptrdiff_t>(off),
                 bytes.begin() + static_cast<ptrdiff_t>(off + n));
      }
    }
    if (flags_at) h[flags_at] |= last_flags;
    return h;
  };
  const auto all = [](int64_t) { return true; };
  const auto uni = [](int64_t id) { return id != 0; };
  // A server: a POST; the same taken as early data, its handshake completing at the end.
  write(dir / "h3" / "seed-post", h3_input(0, all, 0));
  write(dir / "h3" / "seed-post-early", h3_input(8, all, 0x10));
  // A client started early: the peer's control and QPACK streams (the same bytes are valid from
  // either side), then the early data refused.
  write(dir / "h3" / "seed-early-refused", h3_input(9, uni, 0x20));
  std::cout << "seeds written to " << dir << "\n";
}
