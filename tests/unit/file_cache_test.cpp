// FileCache (asioquic-server's small-file cache): hits within the TTL, misses after it, size
// limits and the memory budget.
#include "server/file_cache.hpp"

#include <gtest/gtest.h>

namespace {

using asioquic::tools::FileCache;
using namespace std::chrono_literals;

std::shared_ptr<const std::string> text(size_t n, char c = 'x') {
  return std::make_shared<const std::string>(n, c);
}

TEST(FileCache, HitWithinTtlMissAfter) {
  FileCache cache(64, 1024, 1s);
  const auto t0 = FileCache::Clock::time_point() + 100s;
  EXPECT_EQ(cache.find("/a", t0).contents, nullptr);
  cache.store("/a", text(10), "text/plain", t0);
  ASSERT_NE(cache.find("/a", t0 + 999ms).contents, nullptr);
  EXPECT_EQ(*cache.find("/a", t0).contents, std::string(10, 'x'));
  EXPECT_EQ(cache.find("/a", t0).type, "text/plain");
  EXPECT_EQ(cache.find("/a", t0 + 1s).contents, nullptr) << "a file read a TTL ago is read again";
  EXPECT_EQ(cache.find("/b", t0).contents, nullptr);
}

TEST(FileCache, StoreReplacesTheOldContents) {
  FileCache cache(64, 1024, 1s);
  const auto t0 = FileCache::Clock::time_point() + 100s;
  cache.store("/a", text(10, 'x'), "x/y", t0);
  cache.store("/a", text(5, 'y'), "y/z", t0 + 2s);
  EXPECT_EQ(*cache.find("/a", t0 + 2s).contents, "yyyyy");
  EXPECT_EQ(cache.find("/a", t0 + 2s).type, "y/z");
}

TEST(FileCache, LargeFilesAreNotKept) {
  FileCache cache(64, 1024, 1s);
  const auto t0 = FileCache::Clock::time_point() + 100s;
  cache.store("/big", text(65), "x/y", t0);
  EXPECT_EQ(cache.find("/big", t0).contents, nullptr);
  cache.store("/edge", text(64), "x/y", t0);
  EXPECT_NE(cache.find("/edge", t0).contents, nullptr);
}

TEST(FileCache, BudgetEvictsExpiredFirstThenOthers) {
  FileCache cache(64, 128, 1s);
  const auto t0 = FileCache::Clock::time_point() + 100s;
  cache.store("/old", text(64), "x/y", t0);
  cache.store("/new", text(64), "x/y", t0 + 2s);
  cache.store("/newer", text(64), "x/y", t0 + 2s);  // 192 > 128: the expired /old goes
  EXPECT_NE(cache.find("/new", t0 + 2s).contents, nullptr);
  EXPECT_NE(cache.find("/newer", t0 + 2s).contents, nullptr);
  cache.store("/third", text(64), "x/y", t0 + 2s);  // nothing expired: others go, the new one stays
  EXPECT_NE(cache.find("/third", t0 + 2s).contents, nullptr);
  int kept = 0;
  for (const char* p : {"/new", "/newer", "/third"})
    kept += cache.find(p, t0 + 2s).contents != nullptr;
  EXPECT_LE(kept * 64, 128);
}

}  // namespace
