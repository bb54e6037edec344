// Tests of h3::detail::ReceivedBody: a body's unread bytes in blocks, read by copy, taken whole
// as Buffers, or both, always in order.
#include "h3/received_body.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace asioquic::h3::detail {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes pattern(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(i * 7 + i / 251);
  return b;
}

// Appends `all` in `piece`-byte spans, as packets bring a body.
void append_in_pieces(ReceivedBody& body, const Bytes& all, size_t piece) {
  for (size_t off = 0; off < all.size(); off += piece)
    body.append({all.data() + off, std::min(piece, all.size() - off)});
}

TEST(ReceivedBody, ReadCopiesOutInOrder) {
  const Bytes all = pattern(300'000);
  ReceivedBody body;
  append_in_pieces(body, all, 1400);
  EXPECT_EQ(body.size(), all.size());
  Bytes out;
  Bytes buf(10'000);
  while (!body.empty()) {
    const size_t n = body.read(buf);
    ASSERT_GT(n, 0u);
    out.insert(out.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
  }
  EXPECT_EQ(out, all);
  EXPECT_EQ(body.read(buf), 0u);
}

TEST(ReceivedBody, TakeHandsOverWholeBlocksThatDoubleInSize) {
  const Bytes all = pattern(200'000);
  ReceivedBody body;
  append_in_pieces(body, all, 1400);
  std::vector<size_t> sizes;
  Bytes out;
  while (!body.empty()) {
    Buffer b = body.take(1 << 20);
    ASSERT_FALSE(b.empty());
    sizes.push_back(b.size());
    out.insert(out.end(), b.data(), b.data() + b.size());
  }
  EXPECT_EQ(out, all);
  // Full blocks, each its own allocation: 4, 8, 16, 32, then 64 KiB ones; the last is partial.
  const std::vector<size_t> full{4096, 8192, 16384, 32768, 65536, 65536};
  ASSERT_EQ(sizes.size(), full.size() + 1);
  for (size_t i = 0; i < full.size(); ++i)
    EXPECT_EQ(sizes[i], full[i]) << "block " << i;
  EXPECT_TRUE(body.take(1).empty());
}

TEST(ReceivedBody, TakeCopiesAPartWhenMaxIsSmallerOrTheFrontWasRead) {
  const Bytes all = pattern(20'000);
  ReceivedBody body;
  append_in_pieces(body, all, 1400);
  Bytes out(100);
  ASSERT_EQ(body.read(out), 100u);  // the front block is now read in part
  for (;;) {
    Buffer b = body.take(1000);
    if (b.empty()) break;
    EXPECT_LE(b.size(), 1000u);
    out.insert(out.end(), b.data(), b.data() + b.size());
  }
  EXPECT_EQ(out, all);
  EXPECT_EQ(body.size(), 0u);
}

TEST(ReceivedBody, ReadAllAfterAPartialRead) {
  const Bytes all = pattern(70'000);
  ReceivedBody body;
  append_in_pieces(body, all, 999);
  Bytes first(5000);
  ASSERT_EQ(body.read(first), 5000u);
  std::string rest = "x";
  body.read_all(rest);
  EXPECT_TRUE(body.empty());
  ASSERT_EQ(rest.size(), 1 + all.size() - 5000);
  EXPECT_EQ(0, std::memcmp(rest.data() + 1, all.data() + 5000, rest.size() - 1));
}

TEST(ReceivedBody, ClearDropsEverythingAndAppendStartsAgain) {
  ReceivedBody body;
  const Bytes all = pattern(10'000);
  append_in_pieces(body, all, 3000);
  body.clear();
  EXPECT_TRUE(body.empty());
  EXPECT_TRUE(body.take(100).empty());
  body.append({all.data(), 10});
  Bytes out(20);
  ASSERT_EQ(body.read(out), 10u);
  EXPECT_TRUE(std::equal(all.begin(), all.begin() + 10, out.begin()));
}

}  // namespace
}  // namespace asioquic::h3::detail
