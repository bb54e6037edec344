#include "client/session.hpp"

#include <asio/co_spawn.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>
#include <sstream>

#include "client/transfer.hpp"

namespace asioquic::tools {

using asio::experimental::as_tuple;

Session::Session(RunContext& ctx, const asio::any_io_executor& ex, std::string host, uint16_t port)
    : ctx_(ctx), ex_(ex), host_(std::move(host)), port_(port), changed_(ex) {}

asio::awaitable<void> Session::run(std::vector<Transfer*> transfers) {
  const size_t limit = ctx_.options.parallel ? ctx_.options.parallel : transfers.size();
  size_t workers = std::min(limit, transfers.size());
  size_t next = 0;
  for (size_t i = 0, n = workers; i < n; ++i) {
    asio::co_spawn(ex_, worker(transfers, next), [&](std::exception_ptr e) {
      --workers;
      changed_.notify_all();
      if (e) std::rethrow_exception(e);
    });
  }
  while (workers > 0)
    co_await changed_.wait();
  if (have_) {
    if (early_) {
      ctx_.verbose.step("", ctl_.connection().early_data_accepted()
                                ? "The server accepted the early data"
                                : "The server refused the early data; its requests went again "
                                  "after the handshake");
    }
    ctl_.close();
  }
  have_ = false;
}

asio::awaitable<void> Session::worker(const std::vector<Transfer*>& transfers, size_t& next) {
  while (next < transfers.size()) {
    Transfer& t = *transfers[next++];
    co_await run_transfer(ctx_, *this, t);
  }
}

asio::awaitable<std::error_code> Session::connection(h3::ClientH3Controller& out,
                                                     uint64_t& generation) {
  for (;;) {
    if (connect_error_) co_return connect_error_;
    if (have_) {
      out = ctl_;
      generation = generation_;
      co_return std::error_code();
    }
    if (!connecting_) break;
    co_await changed_.wait();
  }
  connecting_ = true;
  ctx_.verbose.step(
      "", "Connecting to " + host_ + " port " + std::to_string(port_) + " over QUIC (ALPN h3)");
  auto [ec, ctl] = co_await h3::async_connect(ex_, host_, port_, ctx_.quic, ctx_.h3,
                                              as_tuple(asio::use_awaitable));
  connecting_ = false;
  if (!ec && aborted_) {
    ctl.close();
    ec = make_error_code(errc::operation_aborted);
  }
  if (ec) {
    connect_error_ = ec;
  } else {
    ctl_ = ctl;
    have_ = true;
    ++generation_;
    std::ostringstream text;
    text << "Connected to " << host_ << " (" << ctl.connection().remote_endpoint()
         << "), connection " << ctl.connection().trace_id();
    if (ctl.connection().resumed()) text << ", TLS resumed";
    early_ = !ctl.connection().handshake_completed();
    if (early_) text << ", sending early data (0-RTT)";
    ctx_.verbose.step("", text.str());
  }
  changed_.notify_all();
  if (ec) co_return ec;
  out = ctl_;
  generation = generation_;
  co_return std::error_code();
}

bool Session::retire(uint64_t generation) {
  if (!have_ || generation != generation_) return false;
  ctx_.verbose.step("", "Connection " + ctl_.connection().trace_id() +
                            " is going away; the next request opens a new one");
  ctl_.shutdown();
  retired_.push_back(ctl_);
  have_ = false;
  return true;
}

void Session::abort() {
  aborted_ = true;
  if (!connect_error_) connect_error_ = make_error_code(errc::operation_aborted);
  if (have_) ctl_.close();
  for (const auto& c : retired_)
    c.close();
  have_ = false;
  changed_.notify_all();
}

}  // namespace asioquic::tools
