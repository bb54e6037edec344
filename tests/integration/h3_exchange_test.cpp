// HTTP/3 requests and responses end to end: methods and body sizes both ways, trailers,
// informational responses, extended CONNECT, body limits, streamed request bodies, and what
// serve() does with handlers that throw or return early.
#include <asio/experimental/awaitable_operators.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

using namespace asio::experimental::awaitable_operators;

constexpr uint64_t kRequestSeed = 1;
constexpr uint64_t kResponseSeed = 2;

size_t header_size(const h3::Fields& f, std::string_view name) {
  size_t n = 0;
  if (auto v = h3::find(f, name)) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

// Reads the request body and answers with its digest and size in headers (plus its trailers as
// x-trailer-*), then a body of x-response-size bytes, with a trailer if x-want-trailers.
awaitable<void> echo_digest(h3::ServerRequest req, h3::ServerResponse res) {
  const auto body = co_await read_body(req);
  if (body.ec) {
    res.reset(h3::kInternalError);
    co_return;
  }
  h3::Fields f{{"x-method", std::string(req.method())},
               {"x-has-body", req.has_body() ? "1" : "0"},
               {"x-request-size", std::to_string(body.size)},
               {"x-request-sha256", hex(body.sha)}};
  for (const auto& t : req.trailers())
    f.push_back({"x-trailer-" + t.name, t.value});
  auto [ec] = co_await res.async_send_headers(200, std::move(f), as_tuple(use_awaitable));
  if (ec) co_return;
  const auto out = payload(header_size(req.headers(), "x-response-size"), kResponseSeed);
  h3::Fields trailers;
  if (h3::find(req.headers(), "x-want-trailers")) {
    trailers.push_back({"x-body-sha256", hex(sha256(*out))});
  }
  co_await send_body(res, out, std::move(trailers));
}

// Answers `status` with the request's x-* fields renamed echo-x-*, in their order, and no body.
awaitable<void> echo_x_fields(h3::ServerRequest req, h3::ServerResponse res, int status) {
  h3::Fields echo;
  for (const auto& f : req.headers()) {
    if (f.name.starts_with("x-")) echo.push_back({"echo-" + f.name, f.value});
  }
  co_await res.async_respond(status, std::move(echo), aq::Buffer(), use_awaitable);
}

class H3Exchange : public ::testing::Test {
 protected:
  Io io_;
};

// ------------------------------------------------------------------ methods and sizes

enum class Send { none, whole, streamed };

struct ExchangeCase {
  const char* method;
  Send send;
  size_t size;
};

void PrintTo(const ExchangeCase& c, std::ostream* os) {
  *os << c.method << " " << c.size << " B";
}

std::string case_name(const ::testing::TestParamInfo<ExchangeCase>& i) {
  const char* how = i.param.send == Send::none    ? "NoBody"
                    : i.param.send == Send::whole ? "Whole"
                                                  : "Streamed";
  return std::string(i.param.method) + how + std::to_string(i.param.size) + "B";
}

class H3Sizes : public ::testing::TestWithParam<ExchangeCase> {
 protected:
  Io io_;
};

// The request carries `size` bytes (unless GET) and asks for `size` bytes back; both sides
// check the other's SHA-256.
TEST_P(H3Sizes, BodyIntactBothWays) {
  const ExchangeCase c = GetParam();
  TestServer srv(io_, echo_digest);
  const auto up = payload(c.send == Send::none ? 0 : c.size, kRequestSeed);
  const auto down = payload(c.size, kResponseSeed);

  struct Out {
    std::error_code ec;
    int status = 0;
    h3::Fields headers;
    BodyResult body;
  };
  const Out out = io_.run(
      [&]() -> awaitable<Out> {
        Out o;
        auto client = co_await connect(srv.port());
        h3::Fields extra{{"x-response-size", std::to_string(c.size)}};
        auto fields = request(c.method, srv.port(), "/sizes", std::move(extra));
        h3::ClientResponse res;
        if (c.send == Send::streamed) {
          auto [ec, req] = co_await client.async_open(std::move(fields), as_tuple(use_awaitable));
          if (!ec) ec = co_await send_body(req, up);
          if (ec) {
            o.ec = ec;
            co_return o;
          }
          std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
          o.ec = ec;
        } else {
          std::optional<aq::Buffer> body;
          if (c.send == Send::whole) body = aq::Buffer::shared(up, *up);
          auto [ec, r] = co_await client.async_request(std::move(fields), std::move(body),
                                                       as_tuple(use_awaitable));
          o.ec = ec;
          res = std::move(r);
        }
        if (o.ec) co_return o;
        o.status = res.status();
        o.headers = res.headers();
        o.body = co_await read_body(res);
        client.close();
        co_return o;
      }(),
      60s, "exchange");

  ASSERT_FALSE(out.ec) << out.ec.message();
  EXPECT_EQ(out.status, 200);
  EXPECT_EQ(h3::find(out.headers, "x-method"), c.method);
  // An empty body and no body look the same on the wire (HEADERS with FIN).
  if (c.send == Send::none || c.size > 0) {
    EXPECT_EQ(h3::find(out.headers, "x-has-body"), c.send == Send::none ? "0" : "1");
  }
  EXPECT_EQ(header_size(out.headers, "x-request-size"), up->size());
  EXPECT_EQ(h3::find(out.headers, "x-request-sha256"), hex(sha256(*up)));
  EXPECT_FALSE(out.body.ec) << out.body.ec.message();
  EXPECT_EQ(out.body.size, down->size());
  EXPECT_EQ(hex(out.body.sha), hex(sha256(*down)));
}

INSTANTIATE_TEST_SUITE_P(H3, H3Sizes,
                         ::testing::Values(ExchangeCase{"GET", Send::none, 0},
                                           ExchangeCase{"GET", Send::none, 1},
                                           ExchangeCase{"GET", Send::none, 1u << 20},
                                           ExchangeCase{"GET", Send::none, kLargeBody},
                                           ExchangeCase{"POST", Send::streamed, 0},
                                           ExchangeCase{"POST", Send::streamed, 1},
                                           ExchangeCase{"POST", Send::streamed, 1u << 20},
                                           ExchangeCase{"POST", Send::streamed, kLargeBody},
                                           ExchangeCase{"PUT", Send::whole, 0},
                                           ExchangeCase{"PUT", Send::whole, 1},
                                           ExchangeCase{"PUT", Send::whole, 1u << 20},
                                           ExchangeCase{"PUT", Send::whole, kLargeBody}),
                         case_name);

// Several requests, one after another and at once, share one connection.
TEST_F(H3Exchange, ManyRequestsOnOneConnection) {
  TestServer srv(io_, echo_digest);
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        std::vector<Response> all;
        for (int i = 0; i < 5; ++i) {
          h3::Fields extra{{"x-response-size", std::to_string(100 + i)}};
          all.push_back(co_await fetch(client, request("GET", srv.port(), "/seq", extra)));
        }
        h3::Fields e1{{"x-response-size", "7"}};
        h3::Fields e2{{"x-response-size", "9"}};
        auto [a, b] = co_await (fetch(client, request("GET", srv.port(), "/a", e1)) &&
                                fetch(client, request("GET", srv.port(), "/b", e2)));
        all.push_back(std::move(a));
        all.push_back(std::move(b));
        client.close();
        co_return all;
      }(),
      20s, "requests");
  ASSERT_EQ(r.size(), 7u);
  for (size_t i = 0; i < r.size(); ++i) {
    EXPECT_FALSE(r[i].ec) << i << ": " << r[i].ec.message();
    EXPECT_EQ(r[i].status, 200);
    const size_t want = i < 5 ? 100 + i : (i == 5 ? 7 : 9);
    EXPECT_EQ(r[i].body, to_string(payload(want, kResponseSeed))) << i;
  }
}

// Many requests repeat the same fields, with both encoders allowed a QPACK dynamic table (the
// fields nghttp3 indexes, such as :authority, go through it; x-* ones stay literals).
TEST_F(H3Exchange, RepeatedFieldsThroughQpack) {
  h3::Settings h3s;
  h3s.qpack_encoder_max_dtable_capacity = 4096;
  TestServer srv(
      io_,
      [](h3::ServerRequest req, h3::ServerResponse res) {
        return echo_x_fields(std::move(req), std::move(res), 200);
      },
      h3s);
  constexpr int kRequests = 40;
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port(), h3s);
        std::vector<Response> all(kRequests);
        auto done = std::make_shared<std::atomic<int>>(0);
        // (Not co_await inside the call: g++ 12 mishandles the lambda temporaries around it.)
        auto ex = co_await asio::this_coro::executor;
        for (int i = 0; i < kRequests; ++i) {
          asio::co_spawn(
              ex,
              [&, i]() -> awaitable<void> {
                h3::Fields extra{{"x-shared-a", std::string(200, 'a')},
                                 {"x-shared-b", std::string(300, 'b')},
                                 {"x-unique", std::to_string(i)}};
                all[i] = co_await fetch(client, request("GET", srv.port(), "/q", extra));
              },
              [done](std::exception_ptr) { ++*done; });
        }
        co_await wait_until([&] { return done->load() == kRequests; }, 10s);
        client.close();
        co_return all;
      }(),
      15s, "QPACK");
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_FALSE(r[i].ec) << i << ": " << r[i].ec.message();
    EXPECT_EQ(h3::find(r[i].headers, "echo-x-shared-a"), std::string(200, 'a'));
    EXPECT_EQ(h3::find(r[i].headers, "echo-x-shared-b"), std::string(300, 'b'));
    EXPECT_EQ(h3::find(r[i].headers, "echo-x-unique"), std::to_string(i));
  }
}

// Field names go out lowercased whatever their case, in requests, responses and trailers (the
// engine is handed the sections' values in place, and copies and lowercases only the names).
TEST_F(H3Exchange, FieldNamesGoOutLowercase) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    std::string seen;
    for (const auto& f : req.headers()) {
      if (f.name.starts_with("x-")) seen += f.name + ";";
    }
    h3::Fields f{{"X-Reply", "a"},
                 {"x-reply-abcdEfgh", "b"},
                 {"x-reply-ABC", "c"},
                 {"x-lower-only-name", "d"},
                 {"x-seen", seen}};
    auto [ec] = co_await res.async_send_headers(200, std::move(f), as_tuple(use_awaitable));
    h3::Fields trailers{{"X-Trailer-Name", "t"}};
    if (!ec) co_await send_body(res, payload(10, kResponseSeed), std::move(trailers));
  });
  const auto r = io_.run(
      [&]() -> awaitable<Response> {
        auto client = co_await connect(srv.port());
        h3::Fields extra{{"X-Upper", "1"}, {"x-abcdefgHijk", "2"}, {"x-Lower-Than", "3"}};
        auto o = co_await fetch(client, request("GET", srv.port(), "/case", extra));
        client.close();
        co_return o;
      }(),
      10s, "field name case");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(h3::find(r.headers, "x-seen"), "x-upper;x-abcdefghijk;x-lower-than;");
  EXPECT_EQ(h3::find(r.headers, "x-reply"), "a");
  EXPECT_EQ(h3::find(r.headers, "x-reply-abcdefgh"), "b");
  EXPECT_EQ(h3::find(r.headers, "x-reply-abc"), "c");
  EXPECT_EQ(h3::find(r.headers, "x-lower-only-name"), "d");
  EXPECT_EQ(h3::find(r.trailers, "x-trailer-name"), "t");
  for (const auto* section : {&r.headers, &r.trailers}) {
    for (const auto& f : *section) {
      EXPECT_TRUE(std::none_of(f.name.begin(), f.name.end(), [](char c) {
        return std::isupper(c);
      })) << f.name;
    }
  }
}

// Each encoder uses QPACK's dynamic table as its settings say: by default a server's does not
// (a long field repeated in every response crosses the wire whole each time) and a client's
// does (the field goes once). nghttp3 indexes only fields whose names it knows, hence
// static-table names here.
TEST_F(H3Exchange, EncodersUseTheDynamicTableAsConfigured) {
  constexpr int kRequests = 40;
  std::string big(400, ' ');
  const std::string_view alphabet =
      "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (size_t i = 0; i < big.size(); ++i)
    big[i] = alphabet[i * 7 % alphabet.size()];
  struct Out {
    int answered = 0;
    uint64_t sent = 0, received = 0;  // by the client
  };
  auto run = [&](const h3::Settings& server_h3s, const h3::Settings& client_h3s) {
    TestServer srv(
        io_,
        [&big](h3::ServerRequest req, h3::ServerResponse res) {
          const bool intact = h3::find(req.headers(), "accept") == big;
          return res.async_respond(intact ? 200 : 400, {{"content-security-policy", big}},
                                   aq::Buffer(), use_awaitable);
        },
        server_h3s);
    return io_.run(
        [&]() -> awaitable<Out> {
          Out out;
          auto client = co_await connect(srv.port(), client_h3s);
          const h3::Fields extra{{"accept", big}};  // (named: g++ 12 and braces in co_await)
          for (int i = 0; i < kRequests; ++i) {
            const Response r = co_await fetch(client, request("GET", srv.port(), "/", extra));
            if (!r.ec && r.status == 200 && h3::find(r.headers, "content-security-policy") == big)
              ++out.answered;
          }
          const aq::ConnectionStats stats = co_await client.connection().async_stats(use_awaitable);
          out.sent = stats.bytes_sent;
          out.received = stats.bytes_received;
          client.close();
          co_return out;
        }(),
        15s, "QPACK encoders");
  };
  const Out defaults = run({}, {});
  h3::Settings server_table, client_plain;
  server_table.qpack_encoder_max_dtable_capacity = 4096;
  client_plain.qpack_encoder_max_dtable_capacity = 0;
  const Out swapped = run(server_table, client_plain);
  EXPECT_EQ(defaults.answered, kRequests);
  EXPECT_EQ(swapped.answered, kRequests);
  // Huffman-coded, the field is ~280 bytes a message; indexed, only the first one carries it.
  EXPECT_GT(defaults.received, swapped.received + kRequests * 150)
      << "responses: " << defaults.received << " bytes by default, " << swapped.received
      << " with a server table";
  EXPECT_GT(swapped.sent, defaults.sent + kRequests * 150)
      << "requests: " << swapped.sent << " bytes without a client table, " << defaults.sent
      << " by default";
}

// The client's first request leaves in the datagram that carries its Finished: when the
// handler runs, the server has read two datagrams (the Initial, then Finished and request),
// not three. One thread runs both ends, the common case for a client, where the worker's wait
// for the request is exact (with more threads it is a bounded race). The client's probe
// timeout is pushed out of reach so that no retransmitted Initial can add a datagram.
TEST(H3FirstFlight, FirstRequestLeavesWithTheClientsFinished) {
  Io io(1);
  std::atomic<uint64_t> seen{0};
  const TestServer* server = nullptr;
  TestServer srv(io, [&](h3::ServerRequest, h3::ServerResponse res) {
    seen = server->listener_stats().datagrams_received;
    return res.async_respond(200, {}, aq::Buffer::copy("first"), use_awaitable);
  });
  server = &srv;
  auto quic = client_quic_settings();
  quic.initial_rtt = 2s;
  const Response r = io.run(get_once(srv.port(), "/", quic), 10s, "first request");
  EXPECT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.body, "first");
  EXPECT_EQ(seen.load(), 2u);
}

// Path MTU discovery waits until a connection has sent enough to gain from larger packets:
// after a handshake and a few small requests the client's packets are still QUIC's minimum
// size; during a 1 MB upload its probes raise them (up to the configured maximum).
TEST_F(H3Exchange, PathMtuIsProbedOnlyOnceDataFlows) {
  TestServer srv(io_, echo_digest);
  const auto sizes = io_.run(
      [&]() -> awaitable<std::pair<size_t, size_t>> {
        auto client = co_await connect(srv.port());
        for (int i = 0; i < 5; ++i) {
          h3::Fields extra{{"x-response-size", "100"}};
          const Response small = co_await fetch(client, request("GET", srv.port(), "/", extra));
          if (small.ec) throw std::runtime_error("small request: " + small.ec.message());
        }
        const aq::ConnectionStats before = co_await client.connection().async_stats(use_awaitable);
        const auto p = payload(1u << 20, kRequestSeed);
        const Response up =
            co_await fetch(client, request("POST", srv.port(), "/up"), aq::Buffer::shared(p, *p));
        if (up.ec) throw std::runtime_error("upload: " + up.ec.message());
        const aq::ConnectionStats after = co_await client.connection().async_stats(use_awaitable);
        client.close();
        co_return std::pair{before.max_udp_payload, after.max_udp_payload};
      }(),
      15s, "path MTU");
  EXPECT_EQ(sizes.first, 1200u);
  EXPECT_GT(sizes.second, 1200u);
  EXPECT_LE(sizes.second, aq::ClientSettings{}.max_udp_payload);
}

// Sections longer than the engine adapter keeps in place (16 fields) arrive whole and in
// order both ways, with the status in front of the response's.
TEST_F(H3Exchange, LongHeaderSectionsKeepTheirOrder) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) {
    return echo_x_fields(std::move(req), std::move(res), 203);
  });
  constexpr int kFields = 40;
  h3::Fields extra;
  for (int i = 0; i < kFields; ++i)
    extra.push_back({"x-f" + std::to_string(i), std::string(static_cast<size_t>(i + 1), 'v')});
  const auto r = io_.run(
      [&]() -> awaitable<Response> {
        auto client = co_await connect(srv.port());
        auto fields = request("GET", srv.port(), "/long", extra);
        Response out = co_await fetch(client, std::move(fields));
        client.close();
        co_return out;
      }(),
      10s, "long sections");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status, 203);
  ASSERT_EQ(r.headers.size(), static_cast<size_t>(kFields) + 1);
  EXPECT_EQ(r.headers[0].name, ":status");
  EXPECT_EQ(r.headers[0].value, "203");
  for (int i = 0; i < kFields; ++i) {
    EXPECT_EQ(r.headers[i + 1].name, "echo-x-f" + std::to_string(i));
    EXPECT_EQ(r.headers[i + 1].value, extra[i].value);
  }
}

// A body that disagrees with its content-length is malformed (RFC 9114 §4.1.2): the stream is
// reset with H3_MESSAGE_ERROR, whichever side sent it, and the connection goes on.
TEST_F(H3Exchange, ContentLengthMismatch) {
  std::atomic<int> handled{0};
  Io io;
  TestServer srv(io, [&](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    ++handled;
    auto [ec, body] = co_await req.async_read_all(1000, as_tuple(use_awaitable));
    if (req.path() == "/lying-response") {
      h3::Fields f{{"content-length", "3"}};
      co_await res.async_respond(200, std::move(f), aq::Buffer::copy("five!"),
                                 as_tuple(use_awaitable));
    } else {
      co_await res.async_respond(ec ? 400 : 200, {}, aq::Buffer::take(std::move(body)),
                                 as_tuple(use_awaitable));
    }
  });
  struct Out {
    Response lying_request, lying_response, after;
    uint64_t request_code = 0;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(srv.port());
        h3::Fields cl{{"content-length", "100"}};
        const Refusal lying = co_await request_refusal(
            client, request("POST", srv.port(), "/lying-request", cl), aq::Buffer::copy("short"));
        out.lying_request.ec = lying.ec;
        out.request_code = lying.code;
        out.lying_response = co_await fetch(client, request("GET", srv.port(), "/lying-response"));
        out.after =
            co_await fetch(client, request("POST", srv.port(), "/after"), aq::Buffer::copy("fine"));
        client.close();
        co_return out;
      }(),
      10s, "content-length mismatch");
  EXPECT_EQ(o.lying_request.ec, err(aq::errc::stream_reset)) << o.lying_request.ec.message();
  EXPECT_EQ(o.request_code, h3::kMessageError);
  EXPECT_EQ(o.lying_response.ec, err(aq::errc::malformed_message))
      << "a 5-byte body under content-length: 3: " << o.lying_response.ec.message();
  EXPECT_FALSE(o.after.ec) << o.after.ec.message();
  EXPECT_EQ(o.after.body, "fine");
}

// Responses to HEAD, and 204 ones, carry no content, whatever the handler writes (RFC 9110).
TEST_F(H3Exchange, ResponsesWithoutContent) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    // (A 204 may not even claim a length: RFC 9110 §8.6.)
    const int status = req.path() == "/204" ? 204 : 200;
    h3::Fields f;
    if (status != 204) f.push_back({"content-length", "5"});
    co_await res.async_respond(status, std::move(f), aq::Buffer::copy("hello"), use_awaitable);
  });
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        std::vector<Response> all;
        all.push_back(co_await fetch(client, request("HEAD", srv.port(), "/")));
        all.push_back(co_await fetch(client, request("GET", srv.port(), "/204")));
        all.push_back(co_await fetch(client, request("GET", srv.port(), "/")));
        client.close();
        co_return all;
      }(),
      10s, "no content");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FALSE(r[0].ec) << r[0].ec.message();
  EXPECT_EQ(r[0].status, 200);
  EXPECT_EQ(h3::find(r[0].headers, "content-length"), "5");
  EXPECT_EQ(r[0].body, "");
  EXPECT_FALSE(r[1].ec) << r[1].ec.message();
  EXPECT_EQ(r[1].status, 204);
  EXPECT_EQ(r[1].body, "");
  EXPECT_FALSE(r[2].ec) << r[2].ec.message();
  EXPECT_EQ(r[2].body, "hello");
}

// ------------------------------------------------------------------ trailers

// Request trailers reach the handler (the anchor drops them), with and without a body.
TEST_F(H3Exchange, RequestTrailersReachTheHandler) {
  TestServer srv(io_, echo_digest);
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        std::vector<Response> all;
        for (size_t size : {size_t{0}, size_t{3}, size_t{300'000}}) {
          Response o;
          auto [ec, req] = co_await client.async_open(request("POST", srv.port(), "/t"),
                                                      as_tuple(use_awaitable));
          h3::Fields trailers{{"x-req-trailer", "t-" + std::to_string(size)}, {"x-second", "two"}};
          if (!ec) ec = co_await send_body(req, payload(size, kRequestSeed), std::move(trailers));
          h3::ClientResponse res;
          if (!ec) std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
          o.ec = ec;
          if (!ec) {
            o.status = res.status();
            o.headers = res.headers();
          }
          all.push_back(std::move(o));
        }
        client.close();
        co_return all;
      }(),
      20s, "requests with trailers");
  ASSERT_EQ(r.size(), 3u);
  const size_t sizes[] = {0, 3, 300'000};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_FALSE(r[i].ec) << r[i].ec.message();
    EXPECT_EQ(r[i].status, 200);
    EXPECT_EQ(header_size(r[i].headers, "x-request-size"), sizes[i]);
    EXPECT_EQ(h3::find(r[i].headers, "x-trailer-x-req-trailer"), "t-" + std::to_string(sizes[i]));
    EXPECT_EQ(h3::find(r[i].headers, "x-trailer-x-second"), "two");
  }
}

// Response trailers reach the client once the body has ended, with and without a body.
TEST_F(H3Exchange, ResponseTrailersReachTheClient) {
  TestServer srv(io_, echo_digest);
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        std::vector<Response> all;
        for (size_t size : {size_t{0}, size_t{2'000'000}}) {
          h3::Fields extra{{"x-response-size", std::to_string(size)}, {"x-want-trailers", "1"}};
          all.push_back(co_await fetch(client, request("GET", srv.port(), "/t", extra)));
        }
        client.close();
        co_return all;
      }(),
      20s, "responses with trailers");
  ASSERT_EQ(r.size(), 2u);
  const size_t sizes[] = {0, 2'000'000};
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_FALSE(r[i].ec) << r[i].ec.message();
    const auto want = payload(sizes[i], kResponseSeed);
    EXPECT_EQ(r[i].body.size(), want->size());
    EXPECT_EQ(h3::find(r[i].trailers, "x-body-sha256"), hex(sha256(*want)));
    EXPECT_FALSE(h3::find(r[i].headers, "x-body-sha256"));
  }
}

// ------------------------------------------------------------------ 1xx, CONNECT

TEST_F(H3Exchange, InformationalThenFinalResponse) {
  TestServer srv(io_, [](h3::ServerRequest, h3::ServerResponse res) -> awaitable<void> {
    h3::Fields hints{{"link", "</style.css>; rel=preload"}};
    co_await res.async_send_headers(103, std::move(hints), use_awaitable);
    h3::Fields fields{{"x-final", "yes"}};
    co_await res.async_respond(200, std::move(fields), aq::Buffer::copy("done"), use_awaitable);
  });
  const auto r = io_.run(get_once(srv.port(), "/early-hints"), 10s, "1xx");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(h3::find(r.headers, "x-final"), "yes");
  EXPECT_FALSE(h3::find(r.headers, "link")) << "the 103's fields leaked into the response";
  EXPECT_EQ(r.body, "done");
}

// Echoes the stream both ways after a 200, like a WebSocket over HTTP/3 (RFC 9220).
awaitable<void> tunnel_echo(h3::ServerRequest req, h3::ServerResponse res) {
  h3::Fields f{{"x-protocol", std::string(req.protocol())},
               {"x-method", std::string(req.method())}};
  auto [ec] = co_await res.async_send_headers(200, std::move(f), as_tuple(use_awaitable));
  std::vector<uint8_t> buf(4096);
  while (!ec) {
    auto [rec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    if (n > 0) {
      std::tie(ec) =
          co_await res.async_write(aq::Buffer::copy({buf.data(), n}), as_tuple(use_awaitable));
    }
    if (rec) break;
  }
  co_await res.async_finish({}, as_tuple(use_awaitable));
}

struct TunnelResult {
  std::error_code ec;
  int status = 0;
  h3::Fields headers;
  std::string echoed;
  std::error_code end;  // the read after the client's FIN
};

awaitable<TunnelResult> open_tunnel(uint16_t port) {
  TunnelResult t;
  auto client = co_await connect(port);
  h3::Fields extra{{":protocol", "websocket"}, {"sec-websocket-version", "13"}};
  auto [ec, req] =
      co_await client.async_open(request("CONNECT", port, "/chat", extra), as_tuple(use_awaitable));
  h3::ClientResponse res;
  if (!ec) {
    std::tie(ec) = co_await req.async_write(aq::Buffer::copy("ping"), as_tuple(use_awaitable));
  }
  if (!ec) std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
  t.ec = ec;
  if (ec) co_return t;
  t.status = res.status();
  t.headers = res.headers();
  char buf[16];
  while (t.echoed.size() < 4) {
    auto [rec, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
    t.echoed.append(buf, n);
    if (rec) {
      t.ec = rec;
      co_return t;
    }
  }
  co_await req.async_finish({}, as_tuple(use_awaitable));
  auto [rec, n] = co_await res.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
  t.end = rec;
  client.close();
  co_return t;
}

TEST_F(H3Exchange, ExtendedConnect) {
  h3::Settings s;
  s.enable_connect_protocol = true;
  TestServer srv(io_, tunnel_echo, s);
  const auto t = io_.run(open_tunnel(srv.port()), 10s, "extended CONNECT");
  ASSERT_FALSE(t.ec) << t.ec.message();
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(h3::find(t.headers, "x-protocol"), "websocket");
  EXPECT_EQ(h3::find(t.headers, "x-method"), "CONNECT");
  EXPECT_EQ(t.echoed, "ping");
  EXPECT_EQ(t.end, asio::error::eof);
}

// Without enable_connect_protocol a `:protocol` request is malformed: the stream is reset and
// the handler never sees it.
TEST_F(H3Exchange, ExtendedConnectRefusedWhenDisabled) {
  std::atomic<int> handled{0};
  Io io;
  TestServer srv(io, [&](h3::ServerRequest req, h3::ServerResponse res) {
    ++handled;
    return tunnel_echo(std::move(req), std::move(res));
  });
  const auto t = io.run(open_tunnel(srv.port()), 10s, "refused CONNECT");
  EXPECT_EQ(t.ec, err(aq::errc::stream_reset)) << t.ec.message();
  EXPECT_EQ(handled.load(), 0);
}

// ------------------------------------------------------------------ body limits

TEST_F(H3Exchange, ReadAllLimitOnTheClient) {
  TestServer srv(io_, echo_digest);
  const auto r = io_.run(
      [&]() -> awaitable<std::pair<Response, Response>> {
        auto client = co_await connect(srv.port());
        h3::Fields extra{{"x-response-size", "10000"}};
        auto big = co_await fetch(client, request("GET", srv.port(), "/big", extra), {}, 1000);
        h3::Fields extra2{{"x-response-size", "1000"}};
        auto exact = co_await fetch(client, request("GET", srv.port(), "/exact", extra2), {}, 1000);
        client.close();
        co_return std::pair{std::move(big), std::move(exact)};
      }(),
      10s, "read_all limit");
  EXPECT_EQ(r.first.ec, err(aq::errc::body_too_large)) << r.first.ec.message();
  EXPECT_EQ(r.first.status, 200);
  EXPECT_FALSE(r.second.ec) << "a body of exactly the limit fits: " << r.second.ec.message();
  EXPECT_EQ(r.second.body.size(), 1000u);
}

TEST_F(H3Exchange, ReadAllLimitOnTheServer) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    auto [ec, body] = co_await req.async_read_all(100, as_tuple(use_awaitable));
    const int status = ec == aq::errc::body_too_large ? 413 : 200;
    co_await res.async_respond(status, {}, aq::Buffer::copy(ec.message()), use_awaitable);
  });
  const auto r = io_.run(
      [&]() -> awaitable<std::pair<Response, Response>> {
        auto client = co_await connect(srv.port());
        const auto p = payload(10'000, kRequestSeed);
        auto big =
            co_await fetch(client, request("POST", srv.port(), "/big"), aq::Buffer::shared(p, *p));
        auto small =
            co_await fetch(client, request("POST", srv.port(), "/small"), aq::Buffer::copy("tiny"));
        client.close();
        co_return std::pair{std::move(big), std::move(small)};
      }(),
      10s, "server read_all limit");
  EXPECT_FALSE(r.first.ec) << r.first.ec.message();
  EXPECT_EQ(r.first.status, 413);
  EXPECT_FALSE(r.second.ec) << r.second.ec.message();
  EXPECT_EQ(r.second.status, 200);
}

// ------------------------------------------------------------------ streamed request bodies

// The response starts before the request body ends; both bodies stream at once.
TEST_F(H3Exchange, FullDuplexStreaming) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    auto [ec] = co_await res.async_send_headers(200, {}, as_tuple(use_awaitable));
    std::vector<uint8_t> buf(32 * 1024);
    while (!ec) {
      auto [rec, n] = co_await req.async_read_some(asio::buffer(buf), as_tuple(use_awaitable));
      if (n > 0) {
        std::tie(ec) =
            co_await res.async_write(aq::Buffer::copy({buf.data(), n}), as_tuple(use_awaitable));
      }
      if (rec) break;
    }
    co_await res.async_finish({}, as_tuple(use_awaitable));
  });
  const auto up = payload(3'000'000, kRequestSeed);
  struct Out {
    std::error_code ec;
    bool response_before_body_end = false;
    BodyResult echoed;
  };
  const auto out = io_.run(
      [&]() -> awaitable<Out> {
        Out o;
        auto client = co_await connect(srv.port());
        auto [ec, req] = co_await client.async_open(request("POST", srv.port(), "/echo"),
                                                    as_tuple(use_awaitable));
        if (!ec) ec = co_await write_body(req, payload(1000, kRequestSeed));
        h3::ClientResponse res;
        if (!ec) std::tie(ec, res) = co_await req.async_response(as_tuple(use_awaitable));
        if (ec) {
          o.ec = ec;
          co_return o;
        }
        o.response_before_body_end = true;
        // The rest of the body (the first 1000 bytes again are the payload's prefix: send
        // the remainder) while reading the echo.
        auto rest = std::make_shared<std::vector<uint8_t>>(up->begin() + 1000, up->end());
        auto [wec, echoed] = co_await (send_body(req, rest) && read_body(res));
        o.ec = wec;
        o.echoed = echoed;
        client.close();
        co_return o;
      }(),
      20s, "full duplex");
  ASSERT_FALSE(out.ec) << out.ec.message();
  EXPECT_TRUE(out.response_before_body_end);
  EXPECT_FALSE(out.echoed.ec) << out.echoed.ec.message();
  EXPECT_EQ(out.echoed.size, up->size());
  EXPECT_EQ(hex(out.echoed.sha), hex(sha256(*up)));
}

// ------------------------------------------------------------------ serve() and handlers

// A handler that throws gets its stream reset with H3_INTERNAL_ERROR: before its headers the
// request fails; after them the body read does. The connection serves on.
TEST_F(H3Exchange, HandlerThatThrowsResetsTheStream) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    if (req.path() == "/after-headers") {
      co_await res.async_send_headers(200, {}, use_awaitable);
      co_await res.async_write(aq::Buffer::copy("partial"), use_awaitable);
      throw std::runtime_error("handler failed mid-body");
    }
    if (req.path() == "/before-headers") throw std::runtime_error("handler failed");
    co_await res.async_respond(200, {}, aq::Buffer::copy("fine"), use_awaitable);
  });
  struct Out {
    std::error_code before;
    uint64_t before_code = 0;
    std::error_code after_request;
    BodyResult after;
    uint64_t after_code = 0;
    Response then;
  };
  const auto out = io_.run(
      [&]() -> awaitable<Out> {
        Out o;
        auto client = co_await connect(srv.port());
        const Refusal before =
            co_await request_refusal(client, request("GET", srv.port(), "/before-headers"));
        o.before = before.ec;
        o.before_code = before.code;
        auto [ec2, res2] = co_await client.async_request(
            request("GET", srv.port(), "/after-headers"), std::nullopt, as_tuple(use_awaitable));
        o.after_request = ec2;
        if (!ec2) {
          o.after = co_await read_body(res2);
          o.after_code = res2.reset_code();
        }
        o.then = co_await fetch(client, request("GET", srv.port(), "/ok"));
        client.close();
        co_return o;
      }(),
      10s, "throwing handler");
  EXPECT_EQ(out.before, err(aq::errc::stream_reset)) << out.before.message();
  EXPECT_EQ(out.before_code, h3::kInternalError);
  ASSERT_FALSE(out.after_request) << out.after_request.message();
  EXPECT_EQ(out.after.ec, err(aq::errc::stream_reset)) << out.after.ec.message();
  EXPECT_EQ(out.after_code, h3::kInternalError);
  EXPECT_FALSE(out.then.ec) << out.then.ec.message();
  EXPECT_EQ(out.then.body, "fine");
}

// A fast path answers what it takes, on the spot; what it declines goes to the handler; one it
// took and left unanswered gets a 500; one it threw on is reset with H3_INTERNAL_ERROR.
TEST_F(H3Exchange, FastPathAnswersOrDeclines) {
  auto handled = std::make_shared<std::atomic<int>>(0);
  const h3::Handler handler = [handled](h3::ServerRequest,
                                        h3::ServerResponse res) -> awaitable<void> {
    ++*handled;
    co_await res.async_respond(200, {}, aq::Buffer::copy("handler"), use_awaitable);
  };
  const h3::FastPath fast = [](const h3::ServerRequest& req, const h3::ServerResponse& res) {
    if (req.path() == "/fast") {
      res.async_respond(200, {{"x-path", "fast"}}, aq::Buffer::copy("fast"), asio::detached);
      return true;
    }
    if (req.path() == "/fast-silent") return true;
    if (req.path() == "/fast-throws") throw std::runtime_error("fast path failed");
    return false;
  };
  TestServer srv(io_, handler, {}, server_quic_settings(), fast);
  struct Out {
    Response fast, silent, other;
    std::error_code thrown;
    uint64_t thrown_code = 0;
    Response after;
  };
  const auto out = io_.run(
      [&]() -> awaitable<Out> {
        Out o;
        auto client = co_await connect(srv.port());
        o.fast = co_await fetch(client, request("GET", srv.port(), "/fast"));
        o.silent = co_await fetch(client, request("GET", srv.port(), "/fast-silent"));
        o.other = co_await fetch(client, request("GET", srv.port(), "/other"));
        const Refusal thrown =
            co_await request_refusal(client, request("GET", srv.port(), "/fast-throws"));
        o.thrown = thrown.ec;
        o.thrown_code = thrown.code;
        o.after = co_await fetch(client, request("GET", srv.port(), "/fast"));
        client.close();
        co_return o;
      }(),
      10s, "fast path");
  EXPECT_FALSE(out.fast.ec) << out.fast.ec.message();
  EXPECT_EQ(out.fast.status, 200);
  EXPECT_EQ(out.fast.body, "fast");
  EXPECT_EQ(h3::find(out.fast.headers, "x-path"), "fast");
  EXPECT_FALSE(out.silent.ec) << out.silent.ec.message();
  EXPECT_EQ(out.silent.status, 500);
  EXPECT_EQ(out.other.status, 200);
  EXPECT_EQ(out.other.body, "handler");
  EXPECT_EQ(out.thrown, err(aq::errc::stream_reset)) << out.thrown.message();
  EXPECT_EQ(out.thrown_code, h3::kInternalError);
  EXPECT_EQ(out.after.body, "fast");
  EXPECT_EQ(handled->load(), 1) << "only /other reaches the handler";
}

// serve() finishes what a returning handler left: 500 when nothing was sent, else the body.
TEST_F(H3Exchange, HandlerThatReturnsEarly) {
  TestServer srv(io_, [](h3::ServerRequest req, h3::ServerResponse res) -> awaitable<void> {
    if (req.path() == "/headers-only") {
      co_await res.async_send_headers(202, {}, use_awaitable);
      co_await res.async_write(aq::Buffer::copy("so far"), use_awaitable);
    }
    co_return;
  });
  const auto r = io_.run(
      [&]() -> awaitable<std::vector<Response>> {
        auto client = co_await connect(srv.port());
        std::vector<Response> all;
        all.push_back(co_await fetch(client, request("GET", srv.port(), "/nothing")));
        const auto p = payload(200'000, kRequestSeed);
        all.push_back(co_await fetch(client, request("POST", srv.port(), "/unread-body"),
                                     aq::Buffer::shared(p, *p)));
        all.push_back(co_await fetch(client, request("GET", srv.port(), "/headers-only")));
        client.close();
        co_return all;
      }(),
      10s, "early return");
  ASSERT_EQ(r.size(), 3u);
  EXPECT_FALSE(r[0].ec) << r[0].ec.message();
  EXPECT_EQ(r[0].status, 500);
  EXPECT_EQ(r[0].body, "");
  EXPECT_FALSE(r[1].ec) << r[1].ec.message();
  EXPECT_EQ(r[1].status, 500);
  EXPECT_FALSE(r[2].ec) << r[2].ec.message();
  EXPECT_EQ(r[2].status, 202);
  EXPECT_EQ(r[2].body, "so far");
}

}  // namespace
}  // namespace h3test
