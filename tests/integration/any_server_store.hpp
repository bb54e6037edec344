// AnyServerStore: a SessionStore for tests that hands the last ticket it was given to whichever
// server asks (the library's key names the port), so that a ticket can travel from one listener
// to another; it counts the tickets put.
#pragma once

#include <asioquic/session_store.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace asioquic::test_support {

class AnyServerStore : public SessionStore {
 public:
  void put(const std::string&, std::vector<uint8_t> ticket) override {
    std::lock_guard lock(m_);
    ticket_ = std::move(ticket);
    ++puts_;
  }
  std::optional<std::vector<uint8_t>> take(const std::string&) override {
    std::lock_guard lock(m_);
    return std::exchange(ticket_, std::nullopt);
  }
  /// Waits, at most 5 s, until `n` tickets have been put; false if they were not.
  bool wait_puts(size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard lock(m_);
        if (puts_ >= n) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::mutex m_;
  std::optional<std::vector<uint8_t>> ticket_;
  size_t puts_ = 0;
};

}  // namespace asioquic::test_support
