// Stopping the server on SIGINT and SIGTERM.
#pragma once

#include <chrono>
#include <ostream>

#include <asio/awaitable.hpp>
#include <asio/signal_set.hpp>

#include <asioquic/h3/server.hpp>

namespace asioquic::tools {

/// Waits on `signals` (SIGINT and SIGTERM): the first shuts `server` down gracefully (GOAWAY,
/// requests in flight get `drain`), the second stops it at once. Each step is reported on
/// `out`. Returns when the set is cancelled (the server has ended) or after the second signal.
asio::awaitable<void> stop_on_signals(asio::signal_set& signals, h3::Server server,
                                      std::chrono::milliseconds drain, std::ostream& out);

}  // namespace asioquic::tools
