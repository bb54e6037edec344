#include "client/transfer.hpp"

#include <asio/error.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdio>
#include <tuple>
#include <vector>

#include <asioquic/error.hpp>

#include "client/request_headers.hpp"
#include "client/session.hpp"
#include "common/numbers.hpp"

namespace asioquic::tools {
namespace {

using asio::experimental::as_tuple;

constexpr size_t kChunk = 256 * 1024;
// Connections one request may see go away before it fails. Only the request that notices a
// GOAWAY first counts it: the others waiting on that connection were never sent.
constexpr int kMaxRetires = 5;

// What went wrong on a stream, with the server's reset code when it reset the stream.
std::string describe(const std::error_code& ec, const h3::ClientResponse& res) {
  if (ec == errc::stream_reset && res.valid())
    return "the server reset the stream (" + wire_error_code(true, res.reset_code()).message() +
           ")";
  return ec.message();
}

// The outcome of sending a request: an error, and the exit code it maps to.
struct SendResult {
  std::error_code ec;
  ExitCode code = kExitOk;
  std::string message;
};

// Opens a request stream, streams the -d body into it and waits for the response headers.
// Returns the first error with the exit code it maps to (26 reading the file, 55 sending,
// 56 receiving); a server that stops the upload early still gets its response read.
asio::awaitable<SendResult> send_with_body(const RunContext& ctx, const h3::ClientH3Controller& ctl,
                                           h3::Fields fields, h3::ClientResponse& res) {
  auto [ec, req] = co_await ctl.async_open(std::move(fields), as_tuple(asio::use_awaitable));
  if (ec) co_return SendResult{ec, kExitRecvError, ec.message()};
  const RequestBody& body = *ctx.body;
  bool stopped = false;  // the server answered early and wants no more body
  for (uint64_t offset = 0; offset < body.size() && !stopped;) {
    std::error_code rec;
    Buffer chunk = body.chunk(offset, kChunk, rec);
    if (rec || chunk.empty()) {
      req.reset(h3::kRequestCancelled);
      if (!rec) rec = std::make_error_code(std::errc::io_error);
      co_return SendResult{rec, kExitReadError,
                           "cannot read " + body.file_name() + ": " + rec.message()};
    }
    offset += chunk.size();
    auto [wec] = co_await req.async_write(std::move(chunk), as_tuple(asio::use_awaitable));
    stopped = wec == errc::stream_stopped;
    if (wec && !stopped) co_return SendResult{wec, kExitSendError, wec.message()};
  }
  if (!stopped) {
    h3::Fields no_trailers;
    auto [fec] = co_await req.async_finish(std::move(no_trailers), as_tuple(asio::use_awaitable));
    if (fec && fec != errc::stream_stopped)
      co_return SendResult{fec, kExitSendError, fec.message()};
  }
  std::error_code rec;
  std::tie(rec, res) = co_await req.async_response(as_tuple(asio::use_awaitable));
  co_return SendResult{rec, kExitRecvError, describe(rec, res)};
}

// Sends the request, on a new connection again while servers go away. Returns the response,
// or sets t.result and reports why there is none.
asio::awaitable<std::optional<h3::ClientResponse>> send_request(RunContext& ctx, Session& session,
                                                                Transfer& t) {
  std::optional<uint64_t> body_size;
  if (ctx.body) body_size = ctx.body->size();
  const h3::Fields fields = request_headers(ctx.options, t.url, body_size);
  for (int retires = 0;;) {
    h3::ClientH3Controller ctl;
    uint64_t generation = 0;
    if (auto ec = co_await session.connection(ctl, generation)) {
      const ExitCode code = connect_failure_code(ec, ctx.options.connect_timeout.has_value());
      std::string what = "Failed to connect to ";
      if (code == kExitCouldNotResolve) what = "Could not resolve host ";
      if (code == kExitTlsError) what = "TLS handshake failed with ";
      t.result = ctx.fail(code, what + session.host() + " port " + std::to_string(session.port()) +
                                    ": " + ec.message());
      co_return std::nullopt;
    }
    ctx.verbose.request(t.prefix, fields);
    h3::ClientResponse res;
    SendResult r;
    if (ctx.body) {
      r = co_await send_with_body(ctx, ctl, fields, res);
    } else {
      std::tie(r.ec, res) =
          co_await ctl.async_request(fields, std::nullopt, as_tuple(asio::use_awaitable));
      r.code = kExitRecvError;
      r.message = describe(r.ec, res);
    }
    if (!r.ec) co_return res;
    const bool retry = r.ec == errc::going_away || r.ec == errc::request_rejected;
    if (retry && retires < kMaxRetires) {
      ctx.verbose.step(t.prefix, "request not processed (" + r.ec.message() + "); retrying");
      if (session.retire(generation)) ++retires;
      continue;
    }
    t.result = ctx.fail(
        r.code, (r.code == kExitReadError ? "" : "request to " + t.text + " failed: ") + r.message);
    co_return std::nullopt;
  }
}

// The response's header section as curl -I shows it.
std::string header_block(const h3::ClientResponse& res) {
  std::string s = "HTTP/3 " + std::to_string(res.status()) + "\r\n";
  for (const auto& f : res.headers()) {
    if (!f.name.starts_with(':')) s += f.name + ": " + f.value + "\r\n";
  }
  return s + "\r\n";
}

// Stores the response (headers with -I, else the body as it arrives) in the sink. On failure
// sets t.result (22 with -f, 23 writing, 56 receiving) and reports it.
asio::awaitable<void> receive(RunContext& ctx, Transfer& t, const h3::ClientResponse& res) {
  auto fail = [&](ExitCode code, const std::string& message) {
    t.result = ctx.fail(code, message);
  };
  if (ctx.options.fail && res.status() >= 400) {
    res.stop_reading(h3::kRequestCancelled);
    co_return fail(kExitHttpError,
                   "The requested URL returned error: " + std::to_string(res.status()));
  }
  if (t.stdout_ticket) co_await ctx.stdout_order.wait_turn(*t.stdout_ticket);
  if (auto ec = t.sink.open()) {
    res.stop_reading(h3::kRequestCancelled);
    co_return fail(kExitWriteError, "cannot create " + t.sink.name() + ": " + ec.message());
  }
  const auto start = std::chrono::steady_clock::now();
  uint64_t received = 0;
  std::error_code wec;
  if (ctx.options.head) {
    const std::string block = header_block(res);
    wec = t.sink.write({reinterpret_cast<const uint8_t*>(block.data()), block.size()});
  } else {
    const auto length = h3::find(res.headers(), "content-length");
    const auto size = length ? parse_count(*length) : std::nullopt;
    if (size) {
      ctx.progress.expect(*size);
    } else {
      ctx.progress.expect_unknown();
    }
    for (;;) {
      // The bytes as the connection received them: no copy into a buffer of ours first.
      auto [ec, b] = co_await res.async_read_buffer(kChunk, as_tuple(asio::use_awaitable));
      if (const size_t n = b.size(); n > 0) {
        wec = t.sink.write(b.bytes());
        if (wec) break;
        received += n;
        ctx.progress.received(n);
      }
      if (ec == asio::error::eof) break;
      if (ec) {
        co_return fail(kExitRecvError, "failure receiving " + t.text + " after " +
                                           std::to_string(received) +
                                           " bytes: " + describe(ec, res));
      }
    }
  }
  if (!wec) wec = t.sink.close();
  if (wec) {
    res.stop_reading(h3::kRequestCancelled);
    co_return fail(kExitWriteError, "cannot write to " + t.sink.name() + ": " + wec.message());
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.3f",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  ctx.verbose.step(t.prefix, std::to_string(received) + " body bytes received in " + secs + " s");
}

}  // namespace

asio::awaitable<void> run_transfer(RunContext& ctx, Session& session, Transfer& t) {
  if (auto res = co_await send_request(ctx, session, t)) {
    ctx.verbose.response(t.prefix, res->status(), res->headers());
    co_await receive(ctx, t, *res);
  }
  if (t.stdout_ticket) ctx.stdout_order.done(*t.stdout_ticket);
}

}  // namespace asioquic::tools
