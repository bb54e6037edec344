// The relay's decisions: reproducible, at the configured rates, and its options parse as
// documented.
#include "impairment.hpp"
#include "packet_pool.hpp"
#include "relay_options.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace impairment {
namespace {

TEST(Decide, SameSeedSameDecisions) {
  DirectionProfile p;
  p.loss_pct = 10;
  p.corrupt_pct = 5;
  p.dup_pct = 3;
  p.reorder_pct = 25;
  p.jitter_ms = 4;
  for (uint64_t k = 0; k < 1000; ++k) {
    const Fate a = decide(p, 42, kC2S, k, 1200);
    const Fate b = decide(p, 42, kC2S, k, 1200);
    EXPECT_EQ(a.lose, b.lose);
    EXPECT_EQ(a.corrupt, b.corrupt);
    EXPECT_EQ(a.corrupt_pos, b.corrupt_pos);
    EXPECT_EQ(a.duplicate, b.duplicate);
    EXPECT_EQ(a.reorder, b.reorder);
    EXPECT_EQ(a.jitter_ns[0], b.jitter_ns[0]);
  }
}

TEST(Decide, RatesMatchTheProfile) {
  DirectionProfile p;
  p.loss_pct = 1;
  p.reorder_pct = 25;
  p.dup_pct = 5;
  p.corrupt_pct = 0.5;
  p.jitter_ms = 5;
  constexpr int kN = 200000;
  int lost = 0, reordered = 0, duplicated = 0, corrupted = 0;
  int64_t max_jitter = 0;
  for (int k = 0; k < kN; ++k) {
    const Fate f = decide(p, 7, kS2C, k, 1452);
    lost += f.lose;
    reordered += f.reorder;
    duplicated += f.duplicate;
    corrupted += f.corrupt;
    if (f.corrupt) {
      EXPECT_GE(f.corrupt_pos, kCorruptSkip);
      EXPECT_LT(f.corrupt_pos, 1452u);
      EXPECT_NE(f.corrupt_xor, 0);
    }
    max_jitter = std::max(max_jitter, std::abs(f.jitter_ns[0]));
  }
  EXPECT_NEAR(lost, kN * 0.01, kN * 0.002);
  EXPECT_NEAR(reordered, kN * 0.25, kN * 0.01);
  EXPECT_NEAR(duplicated, kN * 0.05, kN * 0.005);
  EXPECT_NEAR(corrupted, kN * 0.005, kN * 0.0015);
  EXPECT_LE(max_jitter, 5'000'000);
  EXPECT_GT(max_jitter, 4'900'000);
}

TEST(Decide, OneImpairmentDoesNotShiftAnother) {
  DirectionProfile loss_only;
  loss_only.loss_pct = 10;
  DirectionProfile loss_and_dup = loss_only;
  loss_and_dup.dup_pct = 50;
  for (uint64_t k = 0; k < 1000; ++k) {
    EXPECT_EQ(decide(loss_only, 1, kC2S, k, 100).lose, decide(loss_and_dup, 1, kC2S, k, 100).lose);
  }
}

TEST(Decide, DirectionsAndSeedsDiffer) {
  DirectionProfile p;
  p.loss_pct = 50;
  int same_dir = 0, same_seed = 0;
  for (uint64_t k = 0; k < 1000; ++k) {
    same_dir += decide(p, 1, kC2S, k, 100).lose == decide(p, 1, kS2C, k, 100).lose;
    same_seed += decide(p, 1, kC2S, k, 100).lose == decide(p, 2, kC2S, k, 100).lose;
  }
  EXPECT_LT(same_dir, 600);
  EXPECT_LT(same_seed, 600);
}

TEST(Decide, ShortPacketsCorruptInBounds) {
  DirectionProfile p;
  p.corrupt_pct = 100;
  for (size_t len = 1; len < 20; ++len) {
    const Fate f = decide(p, 3, kC2S, len, len);
    ASSERT_TRUE(f.corrupt);
    EXPECT_LT(f.corrupt_pos, len);
  }
}

TEST(IsInitial, RecognisesLongHeaderTypes) {
  uint8_t v1_initial[] = {0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(is_initial(v1_initial, sizeof v1_initial));
  uint8_t v1_handshake[] = {0xe3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(is_initial(v1_handshake, sizeof v1_handshake));
  uint8_t v2_initial[] = {0xd3, 0x6b, 0x33, 0x43, 0xcf, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_TRUE(is_initial(v2_initial, sizeof v2_initial));
  uint8_t v2_zero_rtt[] = {0xe3, 0x6b, 0x33, 0x43, 0xcf, 8, 1, 2, 3, 4, 5, 6, 7, 8};
  EXPECT_FALSE(is_initial(v2_zero_rtt, sizeof v2_zero_rtt));
  uint8_t short_header[] = {0x43, 0, 0, 0, 1, 8, 1, 2};
  EXPECT_FALSE(is_initial(short_header, sizeof short_header));
  uint8_t version_negotiation[] = {0xc0, 0, 0, 0, 0, 8, 1, 2};
  EXPECT_FALSE(is_initial(version_negotiation, sizeof version_negotiation));
  EXPECT_FALSE(is_initial(v1_initial, 4));
}

TEST(Shaper, PacesAtTheRateAfterTheBurst) {
  Shaper s;
  s.configure(8, 3000, 1000);  // 8 Mbit/s = 1 byte per microsecond
  std::vector<int64_t> departures;
  for (int i = 0; i < 10; ++i)
    departures.push_back(s.admit(0, 1000));
  // 3000 bytes of burst leave at once (the bucket lets a packet go while tokens remain).
  EXPECT_EQ(departures[0], 0);
  EXPECT_EQ(departures[3], 0);
  // Then one packet per 1000 us.
  EXPECT_EQ(departures[4], 1'000'000);
  EXPECT_EQ(departures[9], 6'000'000);
}

TEST(Shaper, TailDropsWhenTheQueueIsFull) {
  Shaper s;
  s.configure(8, 1000, 5);
  int dropped = 0;
  for (int i = 0; i < 20; ++i)
    dropped += s.admit(0, 1000) < 0;
  EXPECT_EQ(dropped, 20 - 2 - 5);  // two within the burst, five queued
  EXPECT_EQ(s.queued(), 5u);
  // Once the queue drains, packets are admitted again.
  EXPECT_GE(s.admit(100'000'000, 1000), 0);
}

TEST(Shaper, DisabledPassesThrough) {
  Shaper s;
  s.configure(0, 0, 0);
  EXPECT_EQ(s.admit(123, 1500), 123);
}

TEST(PacketPool, AcquireUntilEmptyThenRelease) {
  PacketPool pool(3, 1500);
  const uint32_t a = pool.acquire(), b = pool.acquire(), c = pool.acquire();
  EXPECT_NE(a, kNoSlot);
  EXPECT_NE(b, kNoSlot);
  EXPECT_NE(c, kNoSlot);
  EXPECT_EQ(pool.acquire(), kNoSlot);
  EXPECT_EQ(pool.in_use(), 3u);
  pool.release(b);
  EXPECT_EQ(pool.acquire(), b);
  EXPECT_NE(pool.data(a), pool.data(c));
}

TEST(DueHeap, OrdersByTimeThenArrival) {
  DueHeap h(8);
  h.push(30, 1);
  h.push(10, 2);
  h.push(10, 3);
  h.push(20, 4);
  std::vector<uint32_t> order;
  while (!h.empty()) {
    order.push_back(h.top());
    h.pop();
  }
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 3, 4, 1}));
}

ParseResult parse(std::vector<const char*> args) {
  args.insert(args.begin(), "impairment_relay");
  return parse_options(static_cast<int>(args.size()), args.data());
}

TEST(Options, TheBriefsExampleParses) {
  const ParseResult r = parse({"--listen",
                               "127.0.0.1:5000",
                               "--server",
                               "127.0.0.1:4433",
                               "--seed",
                               "42",
                               "--loss",
                               "1",
                               "--delay",
                               "20",
                               "--jitter",
                               "5",
                               "--reorder",
                               "25",
                               "--dup",
                               "1",
                               "--corrupt",
                               "0.5",
                               "--rate",
                               "100",
                               "--queue",
                               "1000",
                               "--blackhole",
                               "2.0:4.0",
                               "--drop-initials",
                               "3",
                               "--rebind-port-at",
                               "1.5",
                               "--rebind-addr-at",
                               "3.0",
                               "--stats"});
  ASSERT_TRUE(r.options) << r.error;
  const RelayOptions& o = *r.options;
  EXPECT_EQ(o.seed, 42u);
  for (const DirectionProfile& p : o.dir) {
    EXPECT_EQ(p.loss_pct, 1);
    EXPECT_EQ(p.delay_ms, 20);
    EXPECT_EQ(p.rate_mbit, 100);
    ASSERT_EQ(p.blackholes.size(), 1u);
    EXPECT_TRUE(p.blackholed(3.0));
    EXPECT_FALSE(p.blackholed(4.0));
  }
  EXPECT_EQ(o.drop_initials, 3u);
  EXPECT_EQ(o.rebind_port_at, std::vector<double>{1.5});
  EXPECT_EQ(o.rebind_addr_at, std::vector<double>{3.0});
  EXPECT_TRUE(o.stats);
  EXPECT_EQ(o.listen.to_string(), "127.0.0.1:5000");
}

TEST(Options, DirectionSuffixesSetOneDirection) {
  const ParseResult r = parse({"--listen", "[::1]:0", "--server=[::1]:4433", "--loss-s2c", "2",
                               "--delay-c2s=7", "--blackhole-s2c", "1:2"});
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->dir[kC2S].loss_pct, 0);
  EXPECT_EQ(r.options->dir[kS2C].loss_pct, 2);
  EXPECT_EQ(r.options->dir[kC2S].delay_ms, 7);
  EXPECT_EQ(r.options->dir[kS2C].delay_ms, 0);
  EXPECT_TRUE(r.options->dir[kC2S].blackholes.empty());
  EXPECT_EQ(r.options->server.to_string(), "[::1]:4433");
}

TEST(Options, ErrorsAreReported) {
  EXPECT_FALSE(parse({"--listen", "127.0.0.1:1"}).options);
  EXPECT_NE(parse({"--listen", "127.0.0.1:1", "--server", "127.0.0.1:2", "--loss", "101"}).error,
            "");
  EXPECT_NE(
      parse({"--listen", "127.0.0.1:1", "--server", "127.0.0.1:2", "--blackhole", "4:2"}).error,
      "");
  EXPECT_NE(
      parse({"--listen", "127.0.0.1:1", "--server", "127.0.0.1:2", "--frobnicate", "1"}).error, "");
  EXPECT_NE(parse({"--listen", "localhost:1", "--server", "127.0.0.1:2"}).error, "");
  EXPECT_NE(parse({"--listen", "[::1]:1", "--server", "[::1]:2", "--rebind-addr-at", "1"}).error,
            "");
  const ParseResult help = parse({"--help"});
  EXPECT_FALSE(help.options);
  EXPECT_EQ(help.error, "");
}

}  // namespace
}  // namespace impairment
