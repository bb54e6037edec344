// Tests of engine/engine_memory.hpp: the allocator ngtcp2 and nghttp3 are given.
#include "engine/engine_memory.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>

namespace asioquic::engine {
namespace {

constexpr size_t kSmall = 100;
constexpr size_t kLarge = 3 * kEngineBlockBytes;

bool page_aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % 4096 == 0;
}

void fill(void* p, size_t n) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<unsigned char>(i * 7 + 1);
}

bool filled(const void* p, size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != static_cast<unsigned char>(i * 7 + 1)) return false;
  }
  return true;
}

TEST(EngineMemory, LargeMallocsGetPagesOfTheirOwnAndCallocsComeZeroed) {
  void* big = engine_malloc(kEngineBlockBytes, nullptr);
  ASSERT_NE(big, nullptr);
  EXPECT_TRUE(page_aligned(big));
  // The size of ngtcp2_conn: from malloc, not rounded up to three pages.
  constexpr size_t kConnBytes = 8352;
  void* zeroed = engine_calloc(1, kConnBytes, nullptr);
  ASSERT_NE(zeroed, nullptr);
  const auto* z = static_cast<const unsigned char*>(zeroed);
  for (size_t i = 0; i < kConnBytes; ++i)
    ASSERT_EQ(z[i], 0) << i;
  engine_free(big, nullptr);
  engine_free(zeroed, nullptr);
  engine_free(nullptr, nullptr);
}

TEST(EngineMemory, ReallocKeepsTheContentsAcrossPoolAndMalloc) {
  void* p = engine_malloc(kSmall, nullptr);
  fill(p, kSmall);
  p = engine_realloc(p, kLarge, nullptr);  // malloc -> pool
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(page_aligned(p));
  EXPECT_TRUE(filled(p, kSmall));
  fill(p, kLarge);
  void* same = engine_realloc(p, kLarge - 10, nullptr);  // fits its pages: stays
  EXPECT_EQ(same, p);
  p = engine_realloc(p, 2 * kLarge, nullptr);  // pool -> a larger block
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(filled(p, kLarge));
  p = engine_realloc(p, kSmall, nullptr);  // pool -> malloc
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(filled(p, kSmall));
  engine_free(p, nullptr);
  void* fresh = engine_realloc(nullptr, kLarge, nullptr);
  EXPECT_NE(fresh, nullptr);
  engine_free(fresh, nullptr);
}

TEST(EngineMemory, CallocRefusesAnOverflowingSize) {
  EXPECT_EQ(engine_calloc(std::numeric_limits<size_t>::max() / 2, 3, nullptr), nullptr);
}

TEST(EngineMemory, BothEnginesGetTheAllocatorOutsideAddressSanitizer) {
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(ngtcp2_memory(), nullptr);
  EXPECT_EQ(nghttp3_memory(), nullptr);
#else
  ASSERT_NE(ngtcp2_memory(), nullptr);
  ASSERT_NE(nghttp3_memory(), nullptr);
  EXPECT_EQ(ngtcp2_memory()->malloc, &engine_malloc);
  EXPECT_EQ(nghttp3_memory()->realloc, &engine_realloc);
#endif
}

}  // namespace
}  // namespace asioquic::engine
