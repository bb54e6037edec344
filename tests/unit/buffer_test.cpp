// Tests of Buffer: taking memory over without copying it.
#include <gtest/gtest.h>

#include <asioquic/buffer.hpp>

#include <memory>
#include <utility>

namespace asioquic {
namespace {

TEST(Buffer, TakesAnArrayWithoutCopyingIt) {
  std::unique_ptr<uint8_t[]> array(new uint8_t[8]);
  for (uint8_t i = 0; i < 8; ++i)
    array[i] = static_cast<uint8_t>(i + 1);
  const uint8_t* where = array.get();

  // Only the first 5 bytes are contents: the rest was never filled (a short read).
  Buffer b = Buffer::take(std::move(array), 5);
  EXPECT_EQ(array, nullptr);
  EXPECT_EQ(b.data(), where);
  ASSERT_EQ(b.size(), 5u);
  EXPECT_EQ(b.bytes()[4], 5);

  Buffer moved = std::move(b);
  EXPECT_EQ(moved.data(), where);
  EXPECT_EQ(moved.size(), 5u);
}

TEST(Buffer, TakesAnEmptyArray) {
  Buffer b = Buffer::take(std::unique_ptr<uint8_t[]>(new uint8_t[1]), 0);
  EXPECT_TRUE(b.empty());
  EXPECT_EQ(b.bytes().size(), 0u);
}

}  // namespace
}  // namespace asioquic
