// Tests of quic/ack_pacer.hpp: ACK spacing follows the datagrams that arrive in one RTT.
#include "quic/ack_pacer.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace asioquic::quic {
namespace {

constexpr uint64_t kRtt = 1'000'000;  // 1 ms

// Feeds `n` datagrams spread evenly over one RTT starting at `start`; returns how many of them
// asked for a write, writing (on_write) whenever asked, as the worker does.
unsigned feed_window(AckPacer& p, uint64_t start, unsigned n, unsigned* rtt_calls = nullptr) {
  unsigned writes = 0;
  for (unsigned i = 0; i < n; ++i) {
    const bool now = p.on_datagram(start + i * (kRtt / n), [&] {
      if (rtt_calls) ++*rtt_calls;
      return kRtt;
    });
    if (now) {
      ++writes;
      p.on_write();
    }
  }
  return writes;
}

TEST(AckPacer, StartsAtTheMinimumSpacing) {
  AckPacer p;
  EXPECT_EQ(feed_window(p, 0, 64), 64 / AckPacer::kMinEvery);
  EXPECT_EQ(p.every(), AckPacer::kMinEvery);
}

TEST(AckPacer, LargeFlightsGetTheMaximumSpacing) {
  AckPacer p;
  feed_window(p, 0, 1000);  // measuring window: 1000 datagrams in one RTT
  EXPECT_EQ(feed_window(p, kRtt, 1000), 1000 / AckPacer::kMaxEvery);
  EXPECT_EQ(p.every(), AckPacer::kMaxEvery);
}

TEST(AckPacer, MidSizeFlightsGetAboutFourAcks) {
  AckPacer p;
  feed_window(p, 0, 60);
  feed_window(p, kRtt, 60);
  EXPECT_EQ(p.every(), 60 / AckPacer::kAcksPerFlight);
}

TEST(AckPacer, SmallFlightsStayAtTheMinimum) {
  AckPacer p;
  feed_window(p, 0, 12);
  feed_window(p, kRtt, 12);
  EXPECT_EQ(p.every(), AckPacer::kMinEvery);
}

TEST(AckPacer, FollowsAShrinkingFlight) {
  AckPacer p;
  feed_window(p, 0, 1000);
  feed_window(p, kRtt, 40);  // this window is measured with the spacing of the one before
  EXPECT_EQ(p.every(), AckPacer::kMaxEvery);
  feed_window(p, 2 * kRtt, 40);
  EXPECT_EQ(p.every(), 40 / AckPacer::kAcksPerFlight);
}

TEST(AckPacer, AsksTheRttOncePerWindow) {
  AckPacer p;
  unsigned calls = 0;
  feed_window(p, 0, 500, &calls);
  feed_window(p, kRtt, 500, &calls);
  EXPECT_EQ(calls, 2u);
}

TEST(AckPacer, AWriteForAnyReasonRestartsTheCount) {
  AckPacer p;
  auto rtt = [] { return kRtt; };
  for (unsigned i = 0; i + 1 < AckPacer::kMinEvery; ++i)
    EXPECT_FALSE(p.on_datagram(i, rtt));
  p.on_write();  // e.g. the end of a receive batch
  EXPECT_FALSE(p.on_datagram(100, rtt));
}

TEST(AckPacer, ATinyRttStillMeasuresOverTheMinimumWindow) {
  AckPacer p;
  auto tiny = [] { return uint64_t{1'000}; };  // 1 µs
  // 200 datagrams 0.25 µs apart all fall in the first (minimum, 100 µs) window.
  for (unsigned i = 0; i < 200; ++i)
    p.on_datagram(i * 250, tiny);
  p.on_datagram(AckPacer::kMinWindowNs, tiny);
  EXPECT_EQ(p.every(), AckPacer::kMaxEvery);
}

}  // namespace
}  // namespace asioquic::quic
