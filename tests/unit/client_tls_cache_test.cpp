// Tests of quic::client_tls(): client TLS contexts shared while in use, the last few kept after
// their connections closed, older ones released.
#include "quic/client_tls_cache.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace asioquic::quic {
namespace {

// Settings that load no trust store (quick), told apart by their ALPN.
TlsSettings settings(const std::string& alpn) {
  TlsSettings t;
  t.alpn = {alpn};
  t.use_system_trust = false;
  t.insecure_skip_verify = true;
  return t;
}

TEST(ClientTlsCache, SameSettingsShareAContext) {
  std::error_code ec;
  auto a = client_tls(settings("cache-share"), ec);
  ASSERT_TRUE(a) << ec.message();
  auto b = client_tls(settings("cache-share"), ec);
  EXPECT_EQ(a, b);
  auto other = client_tls(settings("cache-share-other"), ec);
  ASSERT_TRUE(other) << ec.message();
  EXPECT_NE(a, other);
}

TEST(ClientTlsCache, AContextOutlivesItsLastUser) {
  std::error_code ec;
  std::weak_ptr<const engine::TlsContext> w = client_tls(settings("cache-outlive"), ec);
  ASSERT_FALSE(w.expired()) << ec.message();
  auto again = client_tls(settings("cache-outlive"), ec);
  EXPECT_EQ(again, w.lock());
}

TEST(ClientTlsCache, OnlyTheMostRecentAreKept) {
  std::error_code ec;
  std::vector<std::weak_ptr<const engine::TlsContext>> made;
  for (size_t i = 0; i <= kRecentClientTls; ++i) {
    made.push_back(client_tls(settings("cache-recent-" + std::to_string(i)), ec));
    ASSERT_FALSE(made.back().expired()) << ec.message();
  }
  EXPECT_TRUE(made.front().expired()) << "the oldest was still kept";
  for (size_t i = 1; i < made.size(); ++i)
    EXPECT_FALSE(made[i].expired()) << i;
  // Used again, a kept one becomes the most recent and outlasts a new one.
  auto reused = client_tls(settings("cache-recent-1"), ec);
  ASSERT_EQ(reused, made[1].lock());
  reused.reset();
  std::weak_ptr<const engine::TlsContext> newest = client_tls(settings("cache-recent-new"), ec);
  EXPECT_FALSE(made[1].expired());
  EXPECT_TRUE(made[2].expired());
  EXPECT_FALSE(newest.expired());
}

}  // namespace
}  // namespace asioquic::quic
