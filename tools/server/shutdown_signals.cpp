#include "server/shutdown_signals.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

#include <csignal>

namespace asioquic::tools {

using asio::experimental::as_tuple;

asio::awaitable<void> stop_on_signals(asio::signal_set& signals, h3::Server server,
                                      std::chrono::milliseconds drain, std::ostream& out) {
  auto [ec, sig] = co_await signals.async_wait(as_tuple(asio::use_awaitable));
  if (ec) co_return;
  out << "signal " << (sig == SIGINT ? "SIGINT" : "SIGTERM") << ": GOAWAY to "
      << server.connections() << " connection(s), draining for up to " << drain.count()
      << " ms (signal again to stop now)" << std::endl;
  server.shutdown(drain);
  auto [ec2, sig2] = co_await signals.async_wait(as_tuple(asio::use_awaitable));
  if (ec2) co_return;
  out << "signal " << (sig2 == SIGINT ? "SIGINT" : "SIGTERM") << ": closing "
      << server.connections() << " connection(s) now" << std::endl;
  server.stop();
}

}  // namespace asioquic::tools
