// A stored completion handler of any type, for asynchronous operations that finish later.
//
// Asio 1.22 has no any_completion_handler, so this is ours: it keeps the handler and outstanding
// work on its associated executor, and complete() posts the handler there — never invoking it
// inline, so a caller's stack never re-enters user code. A handler for asio::detached is not
// posted at all: it would do nothing.
#pragma once

#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include <asio/associated_executor.hpp>
#include <asio/detached.hpp>
#include <asio/execution/outstanding_work.hpp>
#include <asio/post.hpp>
#include <asio/prefer.hpp>

namespace asioquic::detail {

template <typename Signature>
class Completion;

template <typename... Args>
class Completion<void(Args...)> {
 public:
  Completion() = default;

  /// Stores `handler`; `fallback` is the executor used when the handler has none associated.
  template <typename Handler, typename Executor>
  Completion(Handler&& handler, const Executor& fallback)
      : impl_(std::make_unique<Impl<std::decay_t<Handler>, Executor>>(
            std::forward<Handler>(handler), fallback)) {}

  explicit operator bool() const noexcept { return impl_ != nullptr; }

  /// Posts the handler with `args` to its executor and empties this object. Does nothing if
  /// empty (already completed).
  void complete(Args... args) {
    if (auto p = std::move(impl_)) p->post(std::move(args)...);
  }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void post(Args... args) = 0;
  };

  template <typename Handler, typename Executor>
  struct Impl final : Base {
    using HandlerExecutor = asio::associated_executor_t<Handler, Executor>;
    using WorkExecutor = std::decay_t<decltype(asio::prefer(
        std::declval<HandlerExecutor>(), asio::execution::outstanding_work.tracked))>;

    Impl(Handler h, const Executor& fallback)
        : handler(std::move(h)),
          work(asio::prefer(asio::get_associated_executor(handler, fallback),
                            asio::execution::outstanding_work.tracked)) {}

    void post(Args... args) override {
      auto ex = std::move(work);
      if constexpr (kDetached) {
        // asio::detached does nothing with the result: posting it would only cost a queued
        // operation per completion (one per response on a busy server).
        ((void)args, ...);
      } else {
        asio::post(ex, [h = std::move(handler), a = std::make_tuple(std::move(args)...)]() mutable {
          std::apply(std::move(h), std::move(a));
        });
      }
    }

    // The exact type: a test of construction from asio::detached_t would also match adapters
    // such as as_tuple's handler, whose constructor takes any token.
    static constexpr bool kDetached = std::is_same_v<Handler, asio::detail::detached_handler>;

    Handler handler;
    WorkExecutor work;
  };

  std::unique_ptr<Base> impl_;
};

}  // namespace asioquic::detail
