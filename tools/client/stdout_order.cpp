#include "client/stdout_order.hpp"

namespace asioquic::tools {

asio::awaitable<void> StdoutOrder::wait_turn(size_t ticket) {
  while (next_ < ticket)
    co_await changed_.wait();
}

void StdoutOrder::done(size_t ticket) {
  finished_early_.insert(ticket);
  while (finished_early_.erase(next_))
    ++next_;
  changed_.notify_all();
}

}  // namespace asioquic::tools
