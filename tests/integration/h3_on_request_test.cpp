// ServerH3Controller::on_request, the push form of async_accept that h3::Server uses: requests
// that arrived before it was set are handed over first, later ones as they come, and a pending
// async_accept reports the connection's end.
#include <algorithm>

#include "integration/h3_support.hpp"

namespace h3test {
namespace {

constexpr int kEarly = 5;

// Answers each request with its own path.
awaitable<void> echo_path(h3::ServerRequest req, h3::ServerResponse res) {
  const std::string path(req.path());
  co_await res.async_respond(200, {}, aq::Buffer::copy(path), as_tuple(use_awaitable));
}

// A coroutine's parameters live in its frame (a lambda's captures would not outlive the
// lambda).
awaitable<void> fetch_into(h3::ClientH3Controller client, h3::Fields f,
                           std::shared_ptr<Response> out) {
  *out = co_await fetch(client, std::move(f));
}

struct State {
  std::mutex m;
  std::optional<h3::ServerH3Controller> ctl;
  std::atomic<int> handed{0};
  std::atomic<bool> accept_ended{false};
  std::error_code accept_ec;
};

// One connection: on_request is set only once the test says so (`go`), so the first requests
// wait in the driver's queue.
awaitable<void> serve(aq::Listener l, std::shared_ptr<State> st,
                      std::shared_ptr<std::atomic<bool>> go) {
  auto [ec, incoming] = co_await l.async_accept(as_tuple(use_awaitable));
  if (ec) co_return;
  auto ctl = h3::start(std::move(incoming));
  {
    std::lock_guard lock(st->m);
    st->ctl = ctl;
  }
  co_await wait_until([&] { return go->load(); }, 10s);
  ctl.on_request([st, ex = ctl.executor()](h3::ServerRequest req, h3::ServerResponse res) {
    ++st->handed;
    asio::co_spawn(ex, echo_path(std::move(req), std::move(res)), asio::detached);
  });
  auto [aec, req, res] = co_await ctl.async_accept(as_tuple(use_awaitable));
  {
    std::lock_guard lock(st->m);
    st->accept_ec = aec;
  }
  st->accept_ended = true;
}

TEST(H3OnRequest, QueuedRequestsFirstThenLaterOnesThenTheEnd) {
  Io io;
  std::error_code ec;
  const asio::ip::udp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  auto listener = aq::listen(io.executor(), {&ep, 1}, server_quic_settings(), ec);
  ASSERT_FALSE(ec) << ec.message();
  const uint16_t port = listener.local_endpoints().at(0).port();
  auto st = std::make_shared<State>();
  auto go = std::make_shared<std::atomic<bool>>(false);
  asio::co_spawn(io.executor(), serve(listener, st, go), asio::detached);

  struct Out {
    std::vector<Response> early;
    Response late;
  };
  const auto o = io.run(
      [&]() -> awaitable<Out> {
        Out out;
        auto client = co_await connect(port);
        // Sent before the server takes requests: they wait in its queue.
        std::vector<std::shared_ptr<Response>> early(kEarly);
        for (int i = 0; i < kEarly; ++i) {
          early[i] = std::make_shared<Response>();
          asio::co_spawn(
              co_await asio::this_coro::executor,
              fetch_into(client, request("GET", port, "/early/" + std::to_string(i)), early[i]),
              asio::detached);
        }
        co_await sleep_for(200ms);
        go->store(true);
        co_await wait_until([&] { return st->handed.load() == kEarly; }, 5s);
        co_await wait_until(
            [&] {
              return std::all_of(early.begin(), early.end(), [](auto& r) { return r->status; });
            },
            5s);
        for (auto& r : early)
          out.early.push_back(*r);
        out.late = co_await fetch(client, request("GET", port, "/late"));
        client.close();
        co_return out;
      }(),
      20s, "requests before and after on_request");

  ASSERT_EQ(o.early.size(), static_cast<size_t>(kEarly));
  for (int i = 0; i < kEarly; ++i) {
    EXPECT_FALSE(o.early[i].ec) << o.early[i].ec.message();
    EXPECT_EQ(o.early[i].status, 200);
    EXPECT_EQ(o.early[i].body, "/early/" + std::to_string(i));
  }
  EXPECT_FALSE(o.late.ec) << o.late.ec.message();
  EXPECT_EQ(o.late.body, "/late");
  EXPECT_EQ(st->handed.load(), kEarly + 1);
  EXPECT_TRUE(io.run(wait_until([&] { return st->accept_ended.load(); }, 5s), 6s, "accept ends"));
  std::lock_guard lock(st->m);
  EXPECT_TRUE(st->accept_ec) << "async_accept reports the connection's end";
  listener.close();
}

}  // namespace
}  // namespace h3test
