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

// A take smaller than the block, or after a read of part of it, shares the block too: the
// Buffers point into the memory the bytes were appended to, and stay valid after the body has
// moved on and been cleared.
TEST(ReceivedBody, TakeSharesPartsOfABlockWithoutCopying) {
  const Bytes all = pattern(20'000);
  ReceivedBody body;
  append_in_pieces(body, all, 1400);
  Bytes out(100);
  ASSERT_EQ(body.read(out), 100u);  // the front block is now read in part
  std::vector<Buffer> taken;
  for (;;) {
    Buffer b = body.take(1000);
    if (b.empty()) break;
    EXPECT_LE(b.size(), 1000u);
    taken.push_back(std::move(b));
  }
  EXPECT_EQ(body.size(), 0u);
  // Within the first 4 KiB block the parts are adjacent slices of one allocation.
  ASSERT_GE(taken.size(), 2u);
  EXPECT_EQ(taken[0].data() + taken[0].size(), taken[1].data());
  body.clear();
  body.append({all.data(), 4096});  // new bytes go to new memory, never over a shared block
  for (const auto& b : taken)
    out.insert(out.end(), b.data(), b.data() + b.size());
  EXPECT_EQ(out, all);
}

// A block that was shared is not reused for later bytes even when read to its end, because a
// Buffer may still read it on another thread; one that was only copied out is.
TEST(ReceivedBody, ASharedBlockIsNeverReused) {
  const Bytes all = pattern(4 * 65536);
  ReceivedBody body;
  append_in_pieces(body, all, 1400);
  Bytes sink(ReceivedBody::kFirstBlock + 8192 + 16384 + 32768);
  ASSERT_EQ(body.read(sink), sink.size());  // the blocks that grow, copied out
  Buffer part = body.take(100);             // shares the first 64 KiB block
  const Bytes copy(part.data(), part.data() + part.size());
  Bytes rest(65536 - 100);
  ASSERT_EQ(body.read(rest), rest.size());  // that block is now read to its end
  const Bytes more(200'000, 0xEE);          // unlike the pattern anywhere
  append_in_pieces(body, more, 1400);
  EXPECT_EQ(Bytes(part.data(), part.data() + part.size()), copy);
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
