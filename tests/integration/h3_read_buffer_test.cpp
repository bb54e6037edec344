// BodyReader::async_read_buffer: bodies taken as Buffers that own the received bytes, on the
// server (an echo that forwards each Buffer as it came, as a proxy would) and on the client; the
// `max` bound; and the reads it refuses.
#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <atomic>
#include <functional>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr uint64_t kSeed = 7;

class H3ReadBuffer : public ::testing::Test {
 protected:
  Io io_;
};

// What the echo handler saw of the Buffers it forwarded.
struct Seen {
  std::atomic<size_t> buffers{0};
  std::atomic<size_t> largest{0};
  std::atomic<bool> over_max{false};
  std::atomic<bool> empty{false};
};

// Answers 200 and writes back each Buffer of the request body as it was taken, without a copy.
h3::Handler forwarding_echo(Seen& seen, size_t max) {
  return [&seen, max](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    while (!ec) {
      auto [rec, b] = co_await req.async_read_buffer(max, as_tuple(use_awaitable));
      if (!b.empty()) {
        ++seen.buffers;
        seen.largest = std::max(seen.largest.load(), b.size());
        if (b.size() > max) seen.over_max = true;
        std::tie(ec) = co_await res.async_write(std::move(b), as_tuple(use_awaitable));
      } else if (!rec) {
        seen.empty = true;  // a read that succeeded must give at least one byte
      }
      if (rec) {
        if (rec != asio::error::eof) ec = rec;
        break;
      }
    }
    if (ec) {
      res.reset(h3::kInternalError);
      co_return;
    }
    co_await res.async_finish({}, as_tuple(use_awaitable));
  };
}

// POSTs `up` and reads the echo back (with async_read_some, the other kind of read).
BodyResult post_and_read_echo(Io& io, uint16_t port, const Payload& up) {
  return io.run(
      [&]() -> awaitable<BodyResult> {
        auto client = co_await connect(port);
        auto [ec, req] =
            co_await client.async_open(request("POST", port, "/echo"), as_tuple(use_awaitable));
        h3::ClientResponse res;
        if (!ec) std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
        BodyResult echoed;
        if (ec) {
          echoed.ec = ec;
          co_return echoed;
        }
        auto [wec, got] = co_await (send_body(req, up) && read_body(res));
        echoed = got;
        if (wec) echoed.ec = wec;
        client.close();
        co_return echoed;
      }(),
      60s, "echo");
}

TEST_F(H3ReadBuffer, ForwardedBuffersCarryTheBodyIntact) {
  Seen seen;
  constexpr size_t kMax = 64 * 1024;
  TestServer srv(io_, forwarding_echo(seen, kMax));
  const auto up = payload(4u << 20, kSeed);
  const BodyResult echoed = post_and_read_echo(io_, srv.port(), up);
  ASSERT_FALSE(echoed.ec) << echoed.ec.message();
  EXPECT_EQ(echoed.size, up->size());
  EXPECT_EQ(hex(echoed.sha), hex(sha256(*up)));
  EXPECT_FALSE(seen.over_max);
  EXPECT_FALSE(seen.empty);
  // A reader gets what a batch of packets brought, not one packet's bytes at a time.
  EXPECT_GT(seen.largest.load(), 1500u) << seen.buffers << " buffers";
}

TEST_F(H3ReadBuffer, MaxBoundsEachBuffer) {
  Seen seen;
  constexpr size_t kMax = 1000;
  TestServer srv(io_, forwarding_echo(seen, kMax));
  const auto up = payload(300'000, kSeed);
  const BodyResult echoed = post_and_read_echo(io_, srv.port(), up);
  ASSERT_FALSE(echoed.ec) << echoed.ec.message();
  EXPECT_EQ(echoed.size, up->size());
  EXPECT_EQ(hex(echoed.sha), hex(sha256(*up)));
  EXPECT_FALSE(seen.over_max) << "largest " << seen.largest;
  EXPECT_FALSE(seen.empty);
  EXPECT_GE(seen.buffers.load(), 300u);
}

// The client side: a response body taken as Buffers, to the end (eof, then nothing more).
TEST_F(H3ReadBuffer, ClientTakesTheResponseBody) {
  const auto down = payload(3'000'000, kSeed);
  TestServer srv(io_, [down](h3::ServerRequest, h3::ServerResponse res) -> awaitable<void> {
    co_await res.async_respond(200, {}, aq::Buffer::shared(down, *down), use_awaitable);
  });
  struct Out {
    std::error_code ec;
    std::vector<uint8_t> body;
    std::error_code after_eof;
  };
  const Out out = io_.run(
      [&]() -> awaitable<Out> {
        Out o;
        auto client = co_await connect(srv.port());
        auto [ec, res] = co_await client.async_request(request("GET", srv.port(), "/"),
                                                       std::nullopt, as_tuple(use_awaitable));
        while (!ec) {
          auto [rec, b] = co_await res.async_read_buffer(256 * 1024, as_tuple(use_awaitable));
          o.body.insert(o.body.end(), b.data(), b.data() + b.size());
          if (rec == asio::error::eof) {
            auto [again, nothing] =
                co_await res.async_read_buffer(256 * 1024, as_tuple(use_awaitable));
            o.after_eof = again;
            break;
          }
          ec = rec;
        }
        o.ec = ec;
        client.close();
        co_return o;
      }(),
      30s, "download");
  ASSERT_FALSE(out.ec) << out.ec.message();
  ASSERT_EQ(out.body.size(), down->size());
  EXPECT_TRUE(out.body == *down);
  EXPECT_EQ(out.after_eof, asio::error::eof);
}

// A zero `max` and a read while another is in progress are refused; the first read goes on.
TEST_F(H3ReadBuffer, RefusesZeroMaxAndASecondRead) {
  struct Seen2 {
    std::error_code zero;
    std::error_code second;
    std::error_code first;
    size_t first_n = 0;
  };
  auto seen = std::make_shared<Seen2>();
  TestServer srv(io_, [seen](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    auto [zec, zb] = co_await req.async_read_buffer(0, as_tuple(use_awaitable));
    seen->zero = zec;
    // The body has not come yet (the client sends it only after the response headers): the
    // first read waits, and a read_buffer meanwhile is refused.
    auto buf = std::make_shared<std::vector<uint8_t>>(4096);
    auto first_done = std::make_shared<std::atomic<bool>>(false);
    req.async_read_some(asio::buffer(*buf), [seen, buf, first_done](std::error_code ec, size_t n) {
      seen->first = ec;
      seen->first_n = n;
      *first_done = true;
    });
    auto [hec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    auto [sec, sb] = co_await req.async_read_buffer(100, as_tuple(use_awaitable));
    seen->second = sec;
    // (Named, not a temporary in the co_await: g++ 12 destroys such a lambda twice.)
    const std::function<bool()> first_completed = [first_done] { return first_done->load(); };
    const bool completed = co_await wait_until(first_completed, 10s);
    if (hec || !completed) {
      res.reset(h3::kInternalError);
      co_return;
    }
    h3::Fields no_trailers;
    co_await res.async_finish(std::move(no_trailers), as_tuple(use_awaitable));
  });
  const auto out = io_.run(
      [&]() -> awaitable<std::error_code> {
        auto client = co_await connect(srv.port());
        auto [ec, req] =
            co_await client.async_open(request("POST", srv.port(), "/"), as_tuple(use_awaitable));
        h3::ClientResponse res;
        if (!ec) std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
        if (!ec) ec = co_await send_body(req, payload(10, kSeed));
        if (!ec) ec = (co_await read_body(res)).ec;
        client.close();
        co_return ec;
      }(),
      20s, "refusals");
  ASSERT_FALSE(out) << out.message();
  EXPECT_EQ(seen->zero, err(aq::errc::invalid_argument));
  EXPECT_EQ(seen->second, err(aq::errc::invalid_argument));
  EXPECT_FALSE(seen->first) << seen->first.message();
  EXPECT_EQ(seen->first_n, 10u);
}

}  // namespace
}  // namespace h3test
