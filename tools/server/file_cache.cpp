#include "server/file_cache.hpp"

namespace asioquic::tools {

FileCache::Hit FileCache::find(std::string_view key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.read_at >= ttl_) return {};
  return {it->second.contents, it->second.type};
}

void FileCache::store(std::string_view key, std::shared_ptr<const std::string> contents,
                      std::string_view type, Clock::time_point now) {
  if (!contents || contents->size() > max_file_) return;
  std::lock_guard lock(mutex_);
  auto [it, added] = entries_.try_emplace(std::string(key));  // after a file read: rare
  if (!added) bytes_ -= it->second.contents->size();
  bytes_ += contents->size();
  it->second = Entry{std::move(contents), type, now};
  if (bytes_ <= budget_) return;
  for (auto e = entries_.begin(); e != entries_.end();) {
    if (e != it && now - e->second.read_at >= ttl_) {
      bytes_ -= e->second.contents->size();
      e = entries_.erase(e);
    } else {
      ++e;
    }
  }
  for (auto e = entries_.begin(); bytes_ > budget_ && e != entries_.end();) {
    if (e != it) {
      bytes_ -= e->second.contents->size();
      e = entries_.erase(e);
    } else {
      ++e;
    }
  }
}

}  // namespace asioquic::tools
