#include "asioquic/detail/completion.hpp"

#include <gtest/gtest.h>

#include <system_error>
#include <tuple>

#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>

namespace asioquic::detail {
namespace {

using Done = Completion<void(std::error_code)>;

// Starts an operation as the library does: the token's handler goes into `out`.
template <typename Token>
auto start(Done& out, asio::io_context& io, Token&& token) {
  return asio::async_initiate<Token, void(std::error_code)>(
      [&out, &io](auto handler) { out = Done(std::move(handler), io.get_executor()); }, token);
}

TEST(Completion, PostsTheHandlerAndNeverRunsItInline) {
  asio::io_context io;
  Done done;
  int calls = 0;
  std::error_code got;
  start(done, io, [&](std::error_code ec) {
    ++calls;
    got = ec;
  });
  ASSERT_TRUE(done);
  done.complete(make_error_code(std::errc::timed_out));
  EXPECT_FALSE(done);
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(io.poll(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(got, std::errc::timed_out);
  done.complete({});  // already completed: nothing
  EXPECT_EQ(io.poll(), 0u);
}

TEST(Completion, DetachedIsNotPosted) {
  asio::io_context io;
  Done done;
  start(done, io, asio::detached);
  ASSERT_TRUE(done);  // an operation is pending all the same
  done.complete({});
  EXPECT_FALSE(done);
  EXPECT_EQ(io.poll(), 0u);
}

// as_tuple's handler can be built from any token, asio::detached included: it must still be
// posted like any handler.
TEST(Completion, AdaptedHandlersArePosted) {
  asio::io_context io;
  Done done;
  int calls = 0;
  start(done, io, asio::experimental::as_tuple([&](std::tuple<std::error_code>) { ++calls; }));
  done.complete({});
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(io.poll(), 1u);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace asioquic::detail
