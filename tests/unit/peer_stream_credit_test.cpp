#include "engine/peer_stream_credit.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace asioquic::engine {
namespace {

// One stream at a time, as a client making sequential requests: nothing is granted until fewer
// than half the window is left, then everything closed so far at once.
TEST(PeerStreamCredit, SequentialStreamsAreGrantedInBatches) {
  PeerStreamCredit c(128);
  uint64_t grants = 0, granted = 128;
  for (uint64_t seq = 0; seq < 1000; ++seq) {
    ASSERT_LT(seq, granted) << "the peer ran out of credit";
    c.on_open(seq);
    if (const uint64_t n = c.on_close()) {
      ++grants;
      granted += n;
      EXPECT_GE(n, 64u) << "at stream " << seq;
    }
  }
  EXPECT_LE(grants, 1000u / 64);
  EXPECT_GE(grants, 1000u / 128);
}

// The whole window open at once: every close is granted at once, so the peer can keep it full.
TEST(PeerStreamCredit, AFullWindowGetsEachCloseBackAtOnce) {
  PeerStreamCredit c(8);
  for (uint64_t seq = 0; seq < 8; ++seq)
    c.on_open(seq);
  for (uint64_t next = 8; next < 100; ++next) {
    EXPECT_EQ(c.on_close(), 1u);
    c.on_open(next);
  }
}

// A one-request connection never makes us send MAX_STREAMS.
TEST(PeerStreamCredit, OneStreamNeedsNoGrant) {
  PeerStreamCredit c(128);
  c.on_open(0);
  EXPECT_EQ(c.on_close(), 0u);
}

// Streams opened out of order count by their highest sequence number (lower ones are opened
// implicitly, RFC 9000 §3.2).
TEST(PeerStreamCredit, OpensCountUpToTheHighestSequence) {
  PeerStreamCredit c(4);
  c.on_open(2);                 // streams 0-2 are open
  c.on_open(0);                 // a lower one, already counted
  EXPECT_EQ(c.on_close(), 1u);  // 1 of 4 left: fewer than half
  EXPECT_EQ(c.on_close(), 0u);  // 5 granted, 3 opened: half left
}

// ngtcp2 grants one stream by itself per RESET_STREAM, so the peer may open beyond what this
// class granted; credit must still flow, not wrap around.
TEST(PeerStreamCredit, PeerBeyondOurCountStillGetsCredit) {
  PeerStreamCredit c(2);
  c.on_open(2);  // three opened against two granted
  EXPECT_EQ(c.on_close(), 1u);
}

TEST(PeerStreamCredit, WindowsOfOneAndZero) {
  PeerStreamCredit one(1);
  one.on_open(0);
  EXPECT_EQ(one.on_close(), 1u);
  one.on_open(1);
  EXPECT_EQ(one.on_close(), 1u);
  PeerStreamCredit none(0);
  EXPECT_EQ(none.on_close(), 1u);  // a stream the peer could only open beyond our count
}

}  // namespace
}  // namespace asioquic::engine
