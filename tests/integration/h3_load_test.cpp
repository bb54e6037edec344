// Limits and load: oversized header sections, 1000 requests over a 100-stream limit, and a slow
// reader that must hold the sender back (flow control) instead of buffering the body.
#include "integration/h3_support.hpp"

namespace h3test {
namespace {

// "/big-headers": a response whose header section is 8 KB. "/sleep": answers after 5 ms.
// Anything else: the path back, after reading the body (trailers included).
struct LoadState {
  std::atomic<int> in_flight{0};
  std::atomic<int> max_in_flight{0};
  std::atomic<int> handled{0};
};

awaitable<void> load_handler(std::shared_ptr<LoadState> st, h3::ServerRequest req,
                             h3::ServerResponse res) {
  const int now = ++st->in_flight;
  for (int m = st->max_in_flight; now > m && !st->max_in_flight.compare_exchange_weak(m, now);) {
  }
  ++st->handled;
  if (req.path() == "/big-headers") {
    // content-type first: a field nghttp3 indexes, so with an encoder table the section
    // references the dynamic table.
    h3::Fields f{{"content-type", "text/x-test"}, {"x-big", std::string(8000, 'b')}};
    co_await res.async_respond(200, std::move(f), aq::Buffer::copy("big"), as_tuple(use_awaitable));
  } else {
    auto [ec, body] = co_await req.async_read_all(1 << 20, as_tuple(use_awaitable));
    if (req.path().starts_with("/sleep")) co_await sleep_for(5ms);
    co_await res.async_respond(ec ? 400 : 200, {}, aq::Buffer::copy(req.path()),
                               as_tuple(use_awaitable));
  }
  --st->in_flight;
}

class H3Load : public ::testing::Test {
 protected:
  h3::Handler handler() {
    return [st = st_](h3::ServerRequest req, h3::ServerResponse res) {
      return load_handler(st, std::move(req), std::move(res));
    };
  }
  std::shared_ptr<LoadState> st_ = std::make_shared<LoadState>();
};

// ------------------------------------------------------------------ header sections

TEST_F(H3Load, RequestHeaderSectionOverTheLimit) {
  h3::Settings s;
  s.max_field_section_size = 4096;
  Io io;
  TestServer srv(io, handler(), s);
  struct Out {
    std::error_code big;
    uint64_t big_code = 0;
    std::error_code trailers;
    uint64_t trailers_code = 0;
    Response before, after;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        // One ordinary request first: by then the client has the server's SETTINGS, so its
        // QPACK encoder indexes :authority and the oversized section below references the
        // dynamic table, which the server's decoder must acknowledge or cancel, never both
        // (cancelling inside the field callback used to put the acknowledgment after the
        // cancellation, and the client closed the connection with QPACK_DECODER_STREAM_ERROR).
        out.before = co_await fetch(client, request("GET", srv.port(), "/before"));
        h3::Fields extra{{"x-big", std::string(8000, 'a')}};
        const Refusal big =
            co_await request_refusal(client, request("GET", srv.port(), "/h", extra));
        out.big = big.ec;
        out.big_code = big.code;
        // The limit applies to trailers too.
        auto [ec2, req] =
            co_await client.async_open(request("POST", srv.port(), "/t"), as_tuple(use_awaitable));
        if (!ec2) {
          h3::Fields trailers{{"x-big-trailer", std::string(8000, 't')}};
          std::tie(ec2) = co_await req.async_finish(std::move(trailers), as_tuple(use_awaitable));
        }
        h3::ClientResponse res2;
        if (!ec2) std::tie(ec2, res2) = co_await req.async_response(as_tuple(use_awaitable));
        out.trailers = ec2;
        if (res2.valid()) out.trailers_code = res2.reset_code();
        out.after = co_await fetch(client, request("GET", srv.port(), "/after"));
        client.close();
        co_return out;
      }(),
      10s, "oversized request header section");
  EXPECT_EQ(o.before.body, "/before");
  EXPECT_EQ(o.big, err(aq::errc::stream_reset)) << o.big.message();
  EXPECT_EQ(o.big_code, h3::kExcessiveLoad);
  EXPECT_EQ(o.trailers, err(aq::errc::stream_reset)) << o.trailers.message();
  EXPECT_EQ(o.trailers_code, h3::kExcessiveLoad);
  EXPECT_FALSE(o.after.ec) << "the connection must stay usable: " << o.after.ec.message();
  EXPECT_EQ(o.after.body, "/after");
  EXPECT_EQ(st_->handled.load(), 3) << "the oversized request must not reach the handler";
}

// The client's side of the same: the server's encoder uses a table here, and a warm-up request
// lets it know the client's SETTINGS, so the oversized section references the table.
TEST_F(H3Load, ResponseHeaderSectionOverTheClientsLimit) {
  Io io;
  h3::Settings server_settings;
  server_settings.qpack_encoder_max_dtable_capacity = 4096;
  TestServer srv(io, handler(), server_settings);
  h3::Settings client_settings;
  client_settings.max_field_section_size = 4096;
  struct Out {
    std::error_code big;
    Response before, after;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port(), client_settings);
        out.before = co_await fetch(client, request("GET", srv.port(), "/before"));
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/big-headers"),
                                                       std::nullopt, as_tuple(use_awaitable));
        out.big = ec;
        out.after = co_await fetch(client, request("GET", srv.port(), "/after"));
        client.close();
        co_return out;
      }(),
      10s, "oversized response header section");
  EXPECT_EQ(o.before.body, "/before");
  EXPECT_EQ(o.big, err(aq::errc::fields_too_large)) << o.big.message();
  EXPECT_FALSE(o.after.ec) << o.after.ec.message();
  EXPECT_EQ(o.after.body, "/after");
}

// ------------------------------------------------------------------ 1000 requests

// With the server allowing 100 streams at once, the other 900 requests wait for room.
TEST_F(H3Load, ThousandConcurrentRequestsOverAHundredStreams) {
  constexpr int kRequests = 1000;
  auto quic = server_quic_settings();
  quic.max_streams_bidi = 100;
  Io io;
  TestServer srv(io, handler(), {}, quic);
  struct Out {
    std::vector<Response> r = std::vector<Response>(kRequests);
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        auto ex = co_await asio::this_coro::executor;
        auto done = std::make_shared<std::atomic<int>>(0);
        for (int i = 0; i < kRequests; ++i) {
          asio::co_spawn(
              ex,
              [&, i]() -> awaitable<void> {
                out.r[i] = co_await fetch(
                    client, request("GET", srv.port(), "/sleep/" + std::to_string(i)));
              },
              [done](std::exception_ptr) { ++*done; });
        }
        co_await wait_until([&] { return done->load() == kRequests; }, 50s);
        client.close();
        co_return out;
      }(),
      60s, "1000 requests");
  int ok = 0;
  for (int i = 0; i < kRequests; ++i) {
    const auto& r = o.r[i];
    if (!r.ec && r.status == 200 && r.body == "/sleep/" + std::to_string(i)) {
      ++ok;
    } else if (i - ok < 5) {  // a few examples, not a thousand
      ADD_FAILURE() << "request " << i << ": " << r.ec.message() << " status " << r.status;
    }
  }
  EXPECT_EQ(ok, kRequests);
  EXPECT_LE(st_->max_in_flight.load(), 100) << "the stream limit was not enforced";
  EXPECT_GE(st_->max_in_flight.load(), 10) << "requests did not run concurrently";
}

// ------------------------------------------------------------------ back-pressure

// The server streams kHugeBody from one reusable 1 MiB block. The client reads nothing for a
// second (the server's async_write must stay pending, with no more than the windows in flight),
// then reads slowly; the process's RSS must stay far below the body size throughout.
TEST(H3BackPressure, SlowReaderKeepsMemoryBounded) {
  constexpr size_t kBlock = 1u << 20;
  constexpr size_t kChunk = 256u * 1024;
  const auto block = payload(kBlock, 11);
  struct Progress {
    std::atomic<uint64_t> written{0};  // bytes whose async_write completed
    std::atomic<bool> write_pending{false};
    std::atomic<bool> done{false};
  };
  auto p = std::make_shared<Progress>();
  Io io;
  TestServer srv(io, [p, block](h3::ServerRequest, h3::ServerResponse res) -> awaitable<void> {
    auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    for (size_t off = 0; !ec && off < kHugeBody; off += kChunk) {
      p->write_pending = true;
      std::tie(ec) = co_await res.async_write(
          aq::Buffer::shared(block, {block->data() + off % kBlock, kChunk}),
          as_tuple(use_awaitable));
      p->write_pending = false;
      if (!ec) p->written += kChunk;
    }
    if (!ec) co_await res.async_finish({}, as_tuple(use_awaitable));
    p->done = true;
  });

  auto quic = client_quic_settings();
  quic.initial_max_stream_data = 2u << 20;
  quic.max_stream_data_window = 8u << 20;
  quic.initial_max_data = 4u << 20;
  quic.max_data_window = 16u << 20;
  // Accepted for sending at most: the stream's window (at its ceiling), plus what the server's
  // stream may hold, plus a chunk in hand.
  const uint64_t bound = quic.max_stream_data_window + h3::Settings{}.body_send_buffer + 2 * kChunk;

  struct Out {
    std::error_code ec;
    uint64_t written_early = 0, written_late = 0;
    bool pending_late = false;
    size_t rss_base = 0, rss_max = 0;
    uint64_t size = 0;
    Digest sha{};
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port(), {}, quic);
        out.rss_base = rss_bytes();
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/huge"),
                                                       std::nullopt, as_tuple(use_awaitable));
        if (ec) {
          out.ec = ec;
          co_return out;
        }
        co_await sleep_for(500ms);
        out.written_early = p->written;
        co_await sleep_for(500ms);
        out.written_late = p->written;
        out.pending_late = p->write_pending;
        out.rss_max = rss_bytes();
        // Slower than the sender: 64 KiB a millisecond at most.
        Sha256 h;
        std::vector<uint8_t> buf(64 * 1024);
        for (int i = 0;; ++i) {
          auto [rec, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
          h.update({buf.data(), n});
          out.size += n;
          if (rec) {
            if (rec != asio::error::eof) out.ec = rec;
            break;
          }
          if (i % 16 == 0) out.rss_max = std::max(out.rss_max, rss_bytes());
          co_await sleep_for(1ms);
        }
        out.sha = h.finish();
        client.close();
        co_return out;
      }(),
      kSanitized ? 90s : 60s, "slow reader");

  ASSERT_FALSE(o.ec) << o.ec.message();
  EXPECT_EQ(o.written_early, o.written_late) << "the writer went on while nobody read";
  EXPECT_TRUE(o.pending_late) << "async_write should wait while nobody reads";
  EXPECT_LE(o.written_late, bound) << "more than the windows were accepted for sending";
  EXPECT_GT(o.written_late, 0u);
  const size_t growth = o.rss_max > o.rss_base ? o.rss_max - o.rss_base : 0;
  RecordProperty("rss_growth_kib", std::to_string(growth >> 10));
  RecordProperty("written_while_paused_kib", std::to_string(o.written_late >> 10));
  EXPECT_LT(growth, 64u << 20) << "RSS grew by " << (growth >> 20) << " MiB for a "
                               << (kHugeBody >> 20) << " MiB body";
  EXPECT_EQ(o.size, kHugeBody);
  Sha256 want;
  for (size_t off = 0; off < kHugeBody; off += kBlock)
    want.update({block->data(), std::min(kBlock, kHugeBody - off)});
  EXPECT_EQ(hex(o.sha), hex(want.finish()));
}

}  // namespace
}  // namespace h3test
