// Server face of the HTTP/3 driver: ServerRequest, ServerResponse, ServerH3Controller,
// ServerH3Driver, start() and serve().
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include "h3/driver.hpp"

namespace asioquic::h3 {

using detail::Driver;

// ------------------------------------------------------------------ ServerRequest

const Fields& ServerRequest::headers() const {
  return s_->headers;
}

std::string_view ServerRequest::pseudo(std::string_view name) const {
  return find(s_->headers, name).value_or(std::string_view());
}

Priority ServerRequest::priority() const {
  // Read on the caller's thread: the engine's value at the time the request was delivered is
  // what RFC 9218's `priority` field said; later PRIORITY_UPDATEs apply to scheduling anyway.
  return parse_priority(find(s_->headers, "priority").value_or("")).value_or(Priority{});
}

bool ServerRequest::has_body() const {
  return s_->has_body;
}

// ------------------------------------------------------------------ ServerResponse

void ServerResponse::respond(const std::shared_ptr<detail::Stream>& s, int status, Fields fields,
                             Buffer body, asioquic::detail::Completion<void(std::error_code)> c) {
  asio::post(s->driver->executor(), [s, status, f = std::move(fields), b = std::move(body),
                                     c = std::move(c)]() mutable {
    Driver& d = *s->driver;
    // Headers, body and FIN are queued in one go; the completion reports the first failure.
    struct Step {
      std::error_code first;
    };
    auto step = std::make_shared<Step>();
    auto note = [step](std::error_code ec) {
      if (ec && !step->first) step->first = ec;
    };
    d.send_headers(s, status, std::move(f),
                   asioquic::detail::Completion<void(std::error_code)>(note, d.executor()));
    if (!b.empty()) {
      d.write(s, std::move(b),
              asioquic::detail::Completion<void(std::error_code)>(note, d.executor()));
    }
    d.finish(s, {},
             asioquic::detail::Completion<void(std::error_code)>(
                 [step, c = std::move(c)](std::error_code ec) mutable {
                   c.complete(step->first ? step->first : ec);
                 },
                 d.executor()));
  });
}

void ServerResponse::set_priority(const Priority& p) const {
  asio::post(s_->driver->executor(), [s = s_, p] { s->driver->set_priority(s, p); });
}

// ------------------------------------------------------------------ ServerH3Controller

asio::any_io_executor ServerH3Controller::executor_of(const std::shared_ptr<Driver>& d) {
  return d->executor();
}

void ServerH3Controller::accept(
    const std::shared_ptr<Driver>& d,
    asioquic::detail::Completion<void(std::error_code, ServerRequest, ServerResponse)> c) {
  asio::post(d->executor(), [d, c = std::move(c)]() mutable { d->accept(std::move(c)); });
}

void ServerH3Controller::shutdown() const {
  asio::post(d_->executor(), [d = d_] { d->shutdown(); });
}

void ServerH3Controller::close(uint64_t code) const {
  asio::post(d_->executor(), [d = d_, code] { d->close(code); });
}

// ------------------------------------------------------------------ ServerH3Driver

std::pair<std::shared_ptr<ServerH3Driver>, ServerH3Controller> ServerH3Driver::make(
    asio::any_io_executor connection_executor, const Settings& settings) {
  auto d = std::make_shared<Driver>(true, settings, std::move(connection_executor));
  return {std::make_shared<ServerH3Driver>(d), ServerH3Controller(d)};
}

std::error_code ServerH3Driver::on_conn_established(Connection& conn, const HandshakeInfo&) {
  return d_->on_established(conn);
}

std::error_code ServerH3Driver::process_reads(Connection&) {
  return {};
}

std::error_code ServerH3Driver::process_writes(Connection& conn) {
  return d_->on_writes(conn);
}

void ServerH3Driver::on_conn_close(Connection&, const ConnectionStats&, std::error_code result) {
  d_->on_close(result);
}

void ServerH3Driver::on_stream_data(Connection& conn, int64_t id, std::span<const uint8_t> data,
                                    bool fin) {
  d_->on_stream_data(conn, id, data, fin);
}

void ServerH3Driver::on_stream_reset(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_reset(id, code);
}

void ServerH3Driver::on_stop_sending(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_stop_sending(id, code);
}

void ServerH3Driver::on_stream_closed(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_closed(id, code);
}

SendSource* ServerH3Driver::send_source() {
  return d_.get();
}

// ------------------------------------------------------------------ start / serve

ServerH3Controller start(IncomingConnection incoming, const Settings& settings) {
  auto [driver, controller] = ServerH3Driver::make(incoming.executor(), settings);
  incoming.start(std::move(driver));
  return controller;
}

namespace {

using asio::experimental::as_tuple;

asio::awaitable<void> run_handler(std::shared_ptr<Handler> handler, ServerRequest req,
                                  ServerResponse res) {
  bool threw = false;
  try {
    co_await (*handler)(req, res);
  } catch (...) {
    threw = true;
  }
  auto s = detail::ServerOps::stream(res);
  if (threw) {
    res.reset(kInternalError);
    req.stop_reading(kInternalError);
  } else {
    asio::post(s->driver->executor(), [s] { s->driver->complete_response(s); });
  }
}

asio::awaitable<void> serve_connection(ServerH3Controller ctl, std::shared_ptr<Handler> handler) {
  for (;;) {
    auto [ec, req, res] = co_await ctl.async_accept(as_tuple(asio::use_awaitable));
    if (ec) co_return;
    asio::co_spawn(ctl.executor(), run_handler(handler, std::move(req), std::move(res)),
                   asio::detached);
  }
}

}  // namespace

asio::awaitable<void> serve(Listener listener, Settings settings, Handler handler) {
  auto shared = std::make_shared<Handler>(std::move(handler));
  for (;;) {
    auto [ec, incoming] = co_await listener.async_accept(as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto ctl = start(std::move(incoming), settings);
    asio::co_spawn(ctl.executor(), serve_connection(ctl, shared), asio::detached);
  }
}

}  // namespace asioquic::h3
