// StdoutOrder: bodies written to stdout come out whole and in URL order, although their
// requests run concurrently.
#pragma once

#include <cstddef>
#include <set>

#include <asio/awaitable.hpp>

#include "client/notifier.hpp"

namespace asioquic::tools {

/// Transfers writing to stdout hold tickets 0, 1, 2, ... in URL order. A transfer waits for its
/// turn before its first write and reports done() when it ends (even when it failed); the
/// bytes of the ones still waiting stay in the library, held back by flow control.
class StdoutOrder {
 public:
  explicit StdoutOrder(const asio::any_io_executor& ex) : changed_(ex) {}

  /// Completes once every ticket before `ticket` is done.
  asio::awaitable<void> wait_turn(size_t ticket);
  /// Marks `ticket` finished, letting the next one write.
  void done(size_t ticket);

 private:
  size_t next_ = 0;
  std::set<size_t> finished_early_;
  Notifier changed_;
};

}  // namespace asioquic::tools
