#include "core/resident_memory.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>

namespace asioquic::detail {
namespace {

TEST(ResidentMemory, IsReadAndGrowsWithTouchedPages) {
  const uint64_t before = resident_memory_bytes();
  ASSERT_GT(before, 0u) << "/proc/self/statm unreadable";
  constexpr size_t kTouched = 64u << 20;
  auto block = std::make_unique<char[]>(kTouched);
  std::memset(block.get(), 1, kTouched);  // resident only once written
  const uint64_t after = resident_memory_bytes();
  EXPECT_GE(after, before + kTouched / 2) << before << " -> " << after;
  EXPECT_EQ(block[kTouched - 1], 1);
}

}  // namespace
}  // namespace asioquic::detail
