// Tests of engine/page_block_pool.hpp: whole-page blocks whose unwritten pages stay unbacked.
#include "engine/page_block_pool.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

namespace asioquic::engine {
namespace {

constexpr size_t kPage = PageBlockPool::kPageBytes;

// How many of the `pages` pages from `p` are resident.
size_t resident_pages(void* p, size_t pages) {
  std::vector<unsigned char> v(pages);
  if (::mincore(p, pages * kPage, v.data()) != 0) return SIZE_MAX;
  size_t n = 0;
  for (unsigned char c : v)
    n += c & 1;
  return n;
}

TEST(PageBlockPool, BlocksArePageAlignedDistinctAndSizedInWholePages) {
  PageBlockPool pool;
  std::set<uintptr_t> seen;
  for (size_t bytes : {size_t{1}, kPage - 1, kPage, kPage + 1, 3 * kPage, 32 * kPage}) {
    void* b = pool.allocate(bytes);
    ASSERT_NE(b, nullptr) << bytes;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(b) % kPage, 0u);
    EXPECT_EQ(pool.capacity(b), (bytes + kPage - 1) / kPage * kPage);
    EXPECT_TRUE(pool.owns(b));
    EXPECT_TRUE(pool.owns(static_cast<char*>(b) + bytes - 1));
    std::memset(b, 0xab, bytes);
    EXPECT_TRUE(seen.insert(reinterpret_cast<uintptr_t>(b)).second);
  }
}

TEST(PageBlockPool, RefusesWhatItCannotHoldSoTheCallerUsesMalloc) {
  PageBlockPool pool;
  EXPECT_EQ(pool.allocate(0), nullptr);
  EXPECT_EQ(pool.allocate(PageBlockPool::kMaxPages * kPage + 1), nullptr);
  void* m = std::malloc(64);
  EXPECT_FALSE(pool.owns(m));
  EXPECT_FALSE(pool.owns(nullptr));
  std::free(m);
}

TEST(PageBlockPool, OnlyWrittenPagesBecomeResident) {
  PageBlockPool pool;
  auto* b = static_cast<char*>(pool.allocate(32 * kPage));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(resident_pages(b, 32), 0u);
  b[10] = 1;
  b[5 * kPage] = 1;
  EXPECT_EQ(resident_pages(b, 32), 2u);
  // A neighbour's use does not touch this block's pages, nor does the pool's bookkeeping.
  auto* c = static_cast<char*>(pool.allocate(8 * kPage));
  ASSERT_NE(c, nullptr);
  c[0] = 1;
  pool.deallocate(c);
  EXPECT_EQ(resident_pages(b, 32), 2u);
  pool.deallocate(b);
}

TEST(PageBlockPool, FreedBlockIsReusedByTheSamePageCount) {
  PageBlockPool pool;
  auto* a = static_cast<unsigned char*>(pool.allocate(3 * kPage));
  ASSERT_NE(a, nullptr);
  std::memset(a, 0x5a, 3 * kPage);
  pool.deallocate(a);
  void* b = pool.allocate(2 * kPage + 7);
  EXPECT_EQ(b, a);  // same page count: the last block freed
  // Another size does not take it.
  void* c = pool.allocate(kPage);
  EXPECT_NE(c, static_cast<void*>(a));
  pool.deallocate(b);
  pool.deallocate(c);
}

TEST(PageBlockPool, FreePagesPastTheLimitGoBackToTheSystem) {
  PageBlockPool pool(size_t{1} << 30, 4 * kPage);
  std::vector<char*> b;
  for (int i = 0; i < 4; ++i) {
    b.push_back(static_cast<char*>(pool.allocate(2 * kPage)));
    ASSERT_NE(b.back(), nullptr);
    std::memset(b.back(), 0x11, 2 * kPage);
  }
  // 8 pages in use. Each free keeps up to max(4, in use / 2) pages; the third goes past that
  // (6 pages free), and the pool gives back the last freed blocks until 2 pages are left.
  pool.deallocate(b[0]);
  pool.deallocate(b[1]);
  EXPECT_EQ(pool.free_resident_pages(), 4u);
  pool.deallocate(b[2]);
  EXPECT_EQ(pool.free_resident_pages(), 2u);
  EXPECT_EQ(resident_pages(b[0], 2), 2u);
  EXPECT_EQ(resident_pages(b[1], 2), 0u);
  EXPECT_EQ(resident_pages(b[2], 2), 0u);
  pool.deallocate(b[3]);  // 4 pages free: within the limit
  EXPECT_EQ(pool.free_resident_pages(), 4u);
  EXPECT_EQ(resident_pages(b[3], 2), 2u);
  // Resident blocks are handed out first (last freed first), then the given-back ones, which
  // are as good as new.
  EXPECT_EQ(pool.allocate(2 * kPage), b[3]);
  EXPECT_EQ(pool.allocate(2 * kPage), b[0]);
  EXPECT_EQ(pool.free_resident_pages(), 0u);
  auto* again = static_cast<char*>(pool.allocate(2 * kPage));
  EXPECT_TRUE(again == b[1] || again == b[2]);
  std::memset(again, 0x22, 2 * kPage);
  EXPECT_EQ(resident_pages(again, 2), 2u);
}

TEST(PageBlockPool, GrowsBySegmentsAndStopsAtTheLast) {
  // Segments of 64 pages (one of them the page table): 63 one-page blocks each.
  PageBlockPool pool(64 * kPage);
  std::vector<void*> blocks;
  while (void* b = pool.allocate(kPage)) {
    blocks.push_back(b);
    ASSERT_LE(blocks.size(), PageBlockPool::kMaxSegments * 63);
  }
  EXPECT_EQ(blocks.size(), PageBlockPool::kMaxSegments * 63);
  for (void* b : blocks)
    EXPECT_TRUE(pool.owns(b));
  // Exhausted: refuses, until something is given back.
  pool.deallocate(blocks.back());
  EXPECT_EQ(pool.allocate(kPage), blocks.back());
  EXPECT_EQ(pool.allocate(2 * kPage), nullptr);
}

TEST(PageBlockPool, ThreadsNeverShareABlock) {
  PageBlockPool pool(256 * kPage);
  constexpr int kThreads = 4;
  constexpr int kRounds = 3000;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<unsigned char*> held;
      for (int i = 0; i < kRounds; ++i) {
        const size_t pages = 1 + (i + t) % 4;
        auto* b = static_cast<unsigned char*>(pool.allocate(pages * kPage));
        if (!b) continue;
        std::memset(b, t + 1, pages * kPage);
        held.push_back(b);
        if (held.size() > 8) {
          unsigned char* old = held.front();
          held.erase(held.begin());
          for (size_t j = 0; j < pool.capacity(old); ++j) {
            if (old[j] != t + 1) {
              mismatches.fetch_add(1);
              break;
            }
          }
          pool.deallocate(old);
        }
      }
      for (unsigned char* b : held)
        pool.deallocate(b);
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace asioquic::engine
