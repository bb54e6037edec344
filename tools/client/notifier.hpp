// Notifier: lets coroutines of one single-threaded executor wait until something changed.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace asioquic::tools {

/// Callers check their condition, then wait(); notify_all() wakes every waiter, which checks
/// again. With one thread no notification falls between a check and its wait.
class Notifier {
 public:
  explicit Notifier(const asio::any_io_executor& ex)
      : timer_(ex, asio::steady_timer::time_point::max()) {}

  /// Completes at the next notify_all() (or when the executor's context is destroyed).
  asio::awaitable<void> wait() {
    co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  /// Wakes every current waiter.
  void notify_all() { timer_.cancel(); }

 private:
  asio::steady_timer timer_;  // never expires: only cancel() ends a wait
};

}  // namespace asioquic::tools
