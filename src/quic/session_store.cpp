// The in-memory SessionStore: a map from key to ticket plus the order keys were stored in.
#include "asioquic/session_store.hpp"

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

namespace asioquic {
namespace {

class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

  void put(const std::string& key, std::vector<uint8_t> ticket) override {
    std::lock_guard lock(mutex_);
    if (auto it = tickets_.find(key); it != tickets_.end()) {
      order_.erase(it->second.position);
      tickets_.erase(it);
    }
    while (tickets_.size() >= capacity_) {
      tickets_.erase(order_.front());
      order_.pop_front();
    }
    order_.push_back(key);
    tickets_.emplace(key, Entry{std::move(ticket), std::prev(order_.end())});
  }

  std::optional<std::vector<uint8_t>> take(const std::string& key) override {
    std::lock_guard lock(mutex_);
    auto it = tickets_.find(key);
    if (it == tickets_.end()) return std::nullopt;
    std::vector<uint8_t> ticket = std::move(it->second.ticket);
    order_.erase(it->second.position);
    tickets_.erase(it);
    return ticket;
  }

 private:
  struct Entry {
    std::vector<uint8_t> ticket;
    std::list<std::string>::iterator position;  // in order_
  };

  const size_t capacity_;
  std::mutex mutex_;
  std::list<std::string> order_;  // oldest first
  std::unordered_map<std::string, Entry> tickets_;
};

}  // namespace

std::shared_ptr<SessionStore> make_session_store(size_t capacity) {
  return std::make_shared<MemorySessionStore>(capacity);
}

}  // namespace asioquic
