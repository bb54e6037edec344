// Server face of the HTTP/3 driver: ServerRequest, ServerResponse, ServerH3Controller,
// ServerH3Driver, start() and serve().
#include <asio/async_result.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <memory>
#include <mutex>
#include <utility>
#include <vector>

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

bool ServerRequest::early_data() const {
  return s_->early_data;
}

const std::string& ServerRequest::connection_trace_id() const {
  return s_->driver->trace_id();
}

// ------------------------------------------------------------------ ServerResponse

void ServerResponse::respond(const std::shared_ptr<detail::Stream>& s, int status, Fields fields,
                             Buffer body, asioquic::detail::Completion<void(std::error_code)> c) {
  s->driver->post(
      [s = s, status, f = std::move(fields), b = std::move(body), c = std::move(c)]() mutable {
        s->driver->respond(s, status, std::move(f), std::move(b), std::move(c));
      });
}

void ServerResponse::set_priority(const Priority& p) const {
  s_->driver->post([s = s_, p] { s->driver->set_priority(s, p); });
}

// ------------------------------------------------------------------ ServerH3Controller

asio::any_io_executor ServerH3Controller::executor_of(const std::shared_ptr<Driver>& d) {
  return d->executor();
}

void ServerH3Controller::accept(
    const std::shared_ptr<Driver>& d,
    asioquic::detail::Completion<void(std::error_code, ServerRequest, ServerResponse)> c) {
  d->post([d = d, c = std::move(c)]() mutable { d->accept(std::move(c)); });
}

void ServerH3Controller::on_request(std::function<void(ServerRequest, ServerResponse)> fn) const {
  d_->post([d = d_, fn = std::move(fn)]() mutable { d->set_request_fn(std::move(fn)); });
}

void ServerH3Controller::shutdown(std::optional<std::chrono::milliseconds> drain) const {
  d_->post([d = d_, drain] { d->shutdown(drain.value_or(d->drain_timeout())); });
}

void ServerH3Controller::close(uint64_t code) const {
  d_->post([d = d_, code] { d->close(code); });
}

// ------------------------------------------------------------------ ServerH3Driver

std::pair<std::shared_ptr<ServerH3Driver>, ServerH3Controller> ServerH3Driver::make(
    asio::any_io_executor connection_executor, const Settings& settings) {
  auto d = std::make_shared<Driver>(true, settings, std::move(connection_executor));
  return {std::make_shared<ServerH3Driver>(d), ServerH3Controller(d)};
}

// ------------------------------------------------------------------ start / serve

ServerH3Controller start(IncomingConnection incoming, const Settings& settings) {
  auto [driver, controller] = ServerH3Driver::make(incoming.executor(), settings);
  incoming.start(std::move(driver));
  return controller;
}

namespace {

using asio::experimental::as_tuple;

// After a handler or fast path is done with a request: its stream reset if it threw, else its
// response finished if it left it unfinished. Posted behind whatever it has sent.
void conclude(const ServerRequest& req, const ServerResponse& res, bool threw) {
  if (threw) {
    res.reset(kInternalError);
    req.stop_reading(kInternalError);
    return;
  }
  const auto& s = detail::ServerOps::stream(res);
  s->driver->post([s = s] { s->driver->complete_response(s); });
}

asio::awaitable<void> run_handler(std::shared_ptr<Handler> handler, ServerRequest req,
                                  ServerResponse res) {
  bool threw = false;
  try {
    co_await (*handler)(req, res);
  } catch (...) {
    threw = true;
  }
  conclude(req, res, threw);
}

// Offers the request to the fast path; true if it took it.
bool take_fast(const FastPath& fast, const ServerRequest& req, const ServerResponse& res) {
  bool took = false;
  try {
    took = fast(req, res);
  } catch (...) {
    conclude(req, res, true);
    return true;
  }
  if (took) conclude(req, res, false);
  return took;
}

}  // namespace

struct Server::Impl {
  Listener listener;
  Settings settings;
  std::shared_ptr<Handler> handler;
  std::shared_ptr<const FastPath> fast_path;  // null: every request goes to the handler
  std::mutex m;
  std::vector<ServerH3Controller> live;  // connections being served
  bool stopping = false;
  // run() waiting, after its listener closed, for `live` to empty; completed by the connection
  // that ends last, from its own executor.
  std::vector<asioquic::detail::Completion<void()>> drained;

  /// Closes the listener; returns the connections being served.
  std::vector<ServerH3Controller> stop_accepting() {
    std::vector<ServerH3Controller> now;
    {
      std::lock_guard lock(m);
      stopping = true;
      now = live;
    }
    listener.close();
    return now;
  }

  // Starts the HTTP/3 driver on `incoming` and serves the connection until it ends (closes it
  // at once if the server is stopping).
  static void serve(const std::shared_ptr<Impl>& self, IncomingConnection incoming) {
    auto ctl = start(std::move(incoming), self->settings);
    {
      std::lock_guard lock(self->m);
      if (self->stopping) {
        ctl.close(kNoError);
        return;
      }
      self->live.push_back(ctl);
    }
    asio::co_spawn(ctl.executor(), serve_connection(self, ctl), asio::detached);
  }

  static asio::awaitable<void> serve_connection(std::shared_ptr<Impl> self,
                                                ServerH3Controller ctl) {
    ctl.on_request([handler = self->handler, fast = self->fast_path, ex = ctl.executor()](
                       ServerRequest req, ServerResponse res) {
      if (fast && take_fast(*fast, req, res)) return;
      asio::co_spawn(ex, run_handler(handler, std::move(req), std::move(res)), asio::detached);
    });
    // With requests handed to on_request, this completes when the connection has ended.
    co_await ctl.async_accept(as_tuple(asio::use_awaitable));
    std::vector<asioquic::detail::Completion<void()>> done;
    {
      std::lock_guard lock(self->m);
      std::erase_if(self->live, [&](const ServerH3Controller& c) { return c.same_as(ctl); });
      if (self->live.empty()) done.swap(self->drained);
    }
    for (auto& c : done)
      c.complete();
  }

  // Completes `c` once no connection is being served: at once (posted) if none is.
  static void when_drained(const std::shared_ptr<Impl>& self,
                           asioquic::detail::Completion<void()> c) {
    std::unique_lock lock(self->m);
    if (!self->live.empty()) {
      self->drained.push_back(std::move(c));
      return;
    }
    lock.unlock();
    c.complete();
  }
};

Server::Server(Listener listener, Settings settings, Handler handler, FastPath fast_path)
    : impl_(std::make_shared<Impl>()) {
  impl_->listener = std::move(listener);
  impl_->settings = std::move(settings);
  impl_->handler = std::make_shared<Handler>(std::move(handler));
  if (fast_path) impl_->fast_path = std::make_shared<const FastPath>(std::move(fast_path));
}

asio::awaitable<void> Server::run() const {
  auto self = impl_;
  // New connections are started where they are created, so that their driver is attached in
  // time to answer early data; the accept loop takes those queued before and waits for the
  // listener to close. (The function holds the Impl weakly: the Impl holds the listener.)
  self->listener.on_connection([weak = std::weak_ptr<Impl>(self)](IncomingConnection incoming) {
    if (auto impl = weak.lock()) Impl::serve(impl, std::move(incoming));
  });
  for (;;) {
    auto [ec, incoming] = co_await self->listener.async_accept(as_tuple(asio::use_awaitable));
    if (ec) break;
    Impl::serve(self, std::move(incoming));
  }
  // The listener is closed: wait for the connections still running, which may end on other
  // executors. The frame lets go of the Impl while it waits, so that a wait that never
  // completes (its io_context destroyed first) leaves no cycle between them.
  // Named before the co_await: g++ 12 destroys temporaries of a co_await's full expression
  // twice.
  const auto ex = co_await asio::this_coro::executor;
  const std::weak_ptr<Impl> weak = self;
  self.reset();
  auto wait = [ex, weak](auto handler) {
    asioquic::detail::Completion<void()> c(std::move(handler), ex);
    if (auto impl = weak.lock()) return Impl::when_drained(impl, std::move(c));
    c.complete();  // no connection holds the Impl any more: none is left
  };
  co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(wait, asio::use_awaitable);
}

void Server::shutdown(std::chrono::milliseconds drain) const {
  for (auto& c : impl_->stop_accepting())
    c.shutdown(drain);
}

void Server::stop(uint64_t code) const {
  for (auto& c : impl_->stop_accepting())
    c.close(code);
}

size_t Server::connections() const {
  std::lock_guard lock(impl_->m);
  return impl_->live.size();
}

asio::awaitable<void> serve(Listener listener, Settings settings, Handler handler) {
  co_await Server(std::move(listener), std::move(settings), std::move(handler)).run();
}

}  // namespace asioquic::h3
