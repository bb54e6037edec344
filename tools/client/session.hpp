// Session: the connection to one origin (host and port), shared by that origin's transfers.
#pragma once

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include <asio/awaitable.hpp>

#include <asioquic/h3/client.hpp>

#include "client/notifier.hpp"
#include "client/run_context.hpp"

namespace asioquic::tools {

struct Transfer;

class Session {
 public:
  Session(RunContext& ctx, const asio::any_io_executor& ex, std::string host, uint16_t port);

  /// Runs `transfers` (all for this origin) with at most -n of them at once, then closes the
  /// connection. Results are in the transfers.
  asio::awaitable<void> run(std::vector<Transfer*> transfers);

  /// A connection that takes new requests: the current one, or a new one when there is none
  /// yet or the current one is going away; callers arriving during an attempt share it. Sets
  /// `out` and its `generation`. On failure returns the connection error — and the same to
  /// every later call, since the origin did not answer.
  asio::awaitable<std::error_code> connection(h3::ClientH3Controller& out, uint64_t& generation);
  /// Connection `generation` refuses new requests (GOAWAY): it is shut down gracefully and
  /// the next connection() opens another. Returns false if it was already retired (another
  /// request noticed first).
  bool retire(uint64_t generation);
  /// Closes the connection now (--max-time); connection() fails from then on.
  void abort();

  const std::string& host() const noexcept { return host_; }
  uint16_t port() const noexcept { return port_; }

 private:
  /// Runs transfers[next++] until none is left.
  asio::awaitable<void> worker(const std::vector<Transfer*>& transfers, size_t& next);

  RunContext& ctx_;
  asio::any_io_executor ex_;
  std::string host_;
  uint16_t port_;
  h3::ClientH3Controller ctl_;
  bool have_ = false;                            // ctl_ takes new requests
  std::vector<h3::ClientH3Controller> retired_;  // shut down, finishing their requests
  uint64_t generation_ = 0;
  bool connecting_ = false;
  bool aborted_ = false;
  bool early_ = false;  // ctl_ started on 0-RTT keys
  std::error_code connect_error_;
  Notifier changed_;  // a connection attempt ended or a worker finished
};

}  // namespace asioquic::tools
