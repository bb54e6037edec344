// The in-memory SessionStore: a map from key to ticket plus the order keys were stored in.
#include "asioquic/session_store.hpp"

#include <string.h>  // explicit_bzero

#include <algorithm>
#include <list>
#include <mutex>
#include <unordered_map>

namespace asioquic {
namespace {

// A ticket lets its holder resume as the client, so one the store drops is wiped first.
void wipe(std::vector<uint8_t>& ticket) {
  explicit_bzero(ticket.data(), ticket.size());
}

class MemorySessionStore final : public SessionStore {
 public:
  explicit MemorySessionStore(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}
  ~MemorySessionStore() override {
    for (auto& kv : tickets_)
      wipe(kv.second.ticket);
  }
  MemorySessionStore(const MemorySessionStore&) = delete;
  MemorySessionStore& operator=(const MemorySessionStore&) = delete;

  void put(const std::string& key, std::vector<uint8_t> ticket) override {
    std::lock_guard lock(mutex_);
    if (auto it = tickets_.find(key); it != tickets_.end()) {
      wipe(it->second.ticket);
      order_.erase(it->second.position);
      tickets_.erase(it);
    }
    while (tickets_.size() >= capacity_) {
      auto oldest = tickets_.find(order_.front());
      wipe(oldest->second.ticket);
      tickets_.erase(oldest);
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
