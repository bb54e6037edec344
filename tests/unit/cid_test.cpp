// Tests of quic/cid.hpp: the Cid value type, its keyed hash and the server's CID generator.
#include "quic/cid.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <unordered_set>
#include <vector>

namespace asioquic::quic {
namespace {

constexpr size_t kCount = 100'000;

TEST(CidGenerator, HundredThousandCidsAreUnique) {
  CidGenerator gen(0x1234, 5);
  std::unordered_set<Cid, CidHash> seen;
  seen.reserve(kCount);
  for (size_t i = 0; i < kCount; ++i)
    ASSERT_TRUE(seen.insert(gen.generate()).second) << "duplicate after " << i;
}

TEST(CidGenerator, LayoutCarriesLengthServerAndShard) {
  CidGenerator gen(0xabcd, 0x7e);
  const Cid c = gen.generate();
  ASSERT_EQ(c.len, CidGenerator::kLength);
  EXPECT_EQ(c.bytes[0], CidGenerator::kLength - 1);  // config rotation 0, length - 1
  EXPECT_EQ(c.bytes[0] & 0xe0, 0);
  EXPECT_EQ(c.bytes[1], 0xab);  // server id, big-endian
  EXPECT_EQ(c.bytes[2], 0xcd);
  EXPECT_EQ(c.bytes[3], 0x7e);  // shard
  for (size_t i = CidGenerator::kLength; i < Cid::kMaxLen; ++i)
    EXPECT_EQ(c.bytes[i], 0) << i;  // unused tail stays zero (the hash relies on it)
}

// Bytes 4-15 are random: each position takes many values over a run.
TEST(CidGenerator, RestIsRandom) {
  CidGenerator gen(1, 2);
  std::array<std::set<uint8_t>, CidGenerator::kLength> values;
  for (int i = 0; i < 4096; ++i) {
    const Cid c = gen.generate();
    for (size_t b = 0; b < CidGenerator::kLength; ++b)
      values[b].insert(c.bytes[b]);
  }
  for (size_t b = 0; b < 4; ++b)
    EXPECT_EQ(values[b].size(), 1u) << b;  // fixed fields
  for (size_t b = 4; b < CidGenerator::kLength; ++b)
    EXPECT_GT(values[b].size(), 200u) << b;
}

TEST(CidGenerator, IsOurs) {
  CidGenerator gen(0x0107, 3);
  const Cid c = gen.generate();
  EXPECT_TRUE(gen.is_ours(c.view()));
  // Another shard of the same server is still ours (any router of this server may see it).
  EXPECT_TRUE(gen.is_ours(CidGenerator(0x0107, 4).generate().view()));
  // Another server id: either byte differs.
  EXPECT_FALSE(gen.is_ours(CidGenerator(0x0207, 3).generate().view()));
  EXPECT_FALSE(gen.is_ours(CidGenerator(0x0108, 3).generate().view()));
  // Wrong length, or a wrong first byte.
  EXPECT_FALSE(gen.is_ours(c.view().first(15)));
  EXPECT_FALSE(gen.is_ours({}));
  Cid longer = c;
  longer.len = 17;
  EXPECT_FALSE(gen.is_ours(longer.view()));
  Cid rotated = c;
  rotated.bytes[0] |= 0x20;
  EXPECT_FALSE(gen.is_ours(rotated.view()));
  // Client-chosen random CIDs are, with overwhelming odds, not ours.
  int ours = 0;
  for (int i = 0; i < 1000; ++i)
    ours += gen.is_ours(random_cid(CidGenerator::kLength).view());
  EXPECT_EQ(ours, 0);
}

TEST(CidGenerator, ShardOf) {
  for (uint8_t shard : {0, 1, 17, 255}) {
    const Cid c = CidGenerator(9, shard).generate();
    EXPECT_EQ(CidGenerator::shard_of(c.view()), shard);
  }
  // Not a server CID: shard 0.
  const Cid other = random_cid(8);
  EXPECT_EQ(CidGenerator::shard_of(other.view()), 0);
  EXPECT_EQ(CidGenerator::shard_of({}), 0);
}

TEST(RandomCid, LengthsAndTail) {
  for (size_t len = 0; len <= Cid::kMaxLen; ++len) {
    const Cid c = random_cid(len);
    EXPECT_EQ(c.len, len);
    for (size_t i = len; i < Cid::kMaxLen; ++i)
      EXPECT_EQ(c.bytes[i], 0) << len << " " << i;
  }
  EXPECT_NE(random_cid(20), random_cid(20));
  EXPECT_EQ(random_cid(0), Cid());
}

TEST(Cid, EqualityUsesLengthAndBytes) {
  const uint8_t a[] = {1, 2, 3, 0};
  EXPECT_EQ(Cid(a, 3), Cid(a, 3));
  EXPECT_NE(Cid(a, 3), Cid(a, 4));  // same leading bytes, other length
  const uint8_t b[] = {1, 2, 4};
  EXPECT_NE(Cid(a, 3), Cid(b, 3));
  EXPECT_EQ(Cid(), Cid(a, 0));
}

TEST(CidHash, EqualCidsHashEqual) {
  CidHash h;
  const Cid c = CidGenerator(5, 6).generate();
  const Cid copy(c.bytes.data(), c.len);
  EXPECT_EQ(h(c), h(copy));
  const uint8_t a[] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  for (size_t len = 0; len <= sizeof a; ++len)
    EXPECT_EQ(h(Cid(a, len)), h(Cid(a, len))) << len;
}

TEST(CidHash, SpreadsSimilarCids) {
  CidHash h;
  // Attacker-chosen CIDs that differ in one byte, or only in length, must not collide.
  std::unordered_set<size_t> hashes;
  uint8_t bytes[20] = {};
  for (size_t pos = 0; pos < 20; ++pos) {
    for (int v = 0; v < 256; ++v) {
      bytes[pos] = static_cast<uint8_t>(v);
      hashes.insert(h(Cid(bytes, 20)));
    }
    bytes[pos] = 0;
  }
  for (size_t len = 0; len <= 20; ++len)
    hashes.insert(h(Cid(bytes, len)));
  // 20 * 255 + 1 distinct 20-byte CIDs plus 20 shorter all-zero ones.
  EXPECT_EQ(hashes.size(), 20u * 255 + 1 + 20);
}

TEST(CidHash, FewCollisionsOverManyCids) {
  CidHash h;
  CidGenerator gen(1, 1);
  std::unordered_set<size_t> hashes;
  for (size_t i = 0; i < kCount; ++i)
    hashes.insert(h(gen.generate()));
  EXPECT_GE(hashes.size(), kCount - 2);  // 64-bit hashes: a collision is near impossible
}

TEST(Cid, Hex) {
  const uint8_t a[] = {0x00, 0xff, 0x10, 0xab, 0x09};
  EXPECT_EQ(Cid(a, 5).hex(), "00ff10ab09");
  EXPECT_EQ(Cid().hex(), "");
  const Cid c = CidGenerator(0x0102, 0x03).generate();
  const std::string hx = c.hex();
  ASSERT_EQ(hx.size(), 32u);
  EXPECT_EQ(hx.substr(0, 8), "0f010203");
}

}  // namespace
}  // namespace asioquic::quic
