#include "quic/client_tls_cache.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace asioquic::quic {
namespace {

// What makes two client contexts differ.
std::string cache_key(const TlsSettings& t) {
  std::string key;
  for (const auto& p : t.alpn)
    key += p + '\x01';
  key += '\x02' + t.ca_file + '\x02' + t.keylog_file + '\x02';
  key += t.use_system_trust ? 's' : '-';
  key += t.insecure_skip_verify ? 'i' : '-';
  key += static_cast<char>('0' + t.key_shares);
  return key;
}

struct Cache {
  std::mutex m;
  std::map<std::string, std::weak_ptr<const engine::TlsContext>> live;
  // Most recent first; what keeps a context alive between one connection and the next.
  std::deque<std::pair<std::string, std::shared_ptr<const engine::TlsContext>>> recent;

  void touch(const std::string& key, std::shared_ptr<const engine::TlsContext> tls) {
    std::erase_if(recent, [&](const auto& e) { return e.first == key; });
    recent.emplace_front(key, std::move(tls));
    if (recent.size() > kRecentClientTls) recent.pop_back();
  }
};

}  // namespace

std::shared_ptr<const engine::TlsContext> client_tls(const TlsSettings& t, std::error_code& ec) {
  static Cache cache;
  const std::string key = cache_key(t);
  std::lock_guard lock(cache.m);
  std::shared_ptr<const engine::TlsContext> tls = cache.live[key].lock();
  if (!tls) {
    std::erase_if(cache.live, [](const auto& kv) { return kv.second.expired(); });
    tls = engine::TlsContext::create(engine::TlsContext::Role::client, t, ec);
    if (!tls) return nullptr;
    cache.live[key] = tls;
  }
  cache.touch(key, tls);
  return tls;
}

}  // namespace asioquic::quic
