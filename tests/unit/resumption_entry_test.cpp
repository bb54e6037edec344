// ResumptionEntry: what a client stores per server survives the round trip, and anything else
// (another format, truncated, trailing nothing) is refused rather than misread.
#include "engine/resumption_entry.hpp"

#include <gtest/gtest.h>

namespace {

using asioquic::engine::decode_resumption_entry;
using asioquic::engine::encode_resumption_entry;
using asioquic::engine::ResumptionEntry;

ResumptionEntry sample() {
  ResumptionEntry e;
  e.alpn = "h3";
  e.early_data = true;
  e.key_share_group = 0x1234;
  e.params = {100, 3, 1u << 20, 2u << 20, 3u << 20, 1ull << 40, 7, 65535};
  e.ticket = {9, 8, 7, 6, 5};
  return e;
}

TEST(ResumptionEntry, RoundTrips) {
  const ResumptionEntry e = sample();
  const auto d = decode_resumption_entry(encode_resumption_entry(e));
  ASSERT_TRUE(d);
  EXPECT_EQ(d->alpn, "h3");
  EXPECT_TRUE(d->early_data);
  EXPECT_EQ(d->key_share_group, 0x1234);
  EXPECT_EQ(d->params.initial_max_streams_bidi, 100u);
  EXPECT_EQ(d->params.initial_max_streams_uni, 3u);
  EXPECT_EQ(d->params.initial_max_stream_data_bidi_local, 1u << 20);
  EXPECT_EQ(d->params.initial_max_stream_data_bidi_remote, 2u << 20);
  EXPECT_EQ(d->params.initial_max_stream_data_uni, 3u << 20);
  EXPECT_EQ(d->params.initial_max_data, 1ull << 40);
  EXPECT_EQ(d->params.active_connection_id_limit, 7u);
  EXPECT_EQ(d->params.max_datagram_frame_size, 65535u);
  EXPECT_EQ(d->ticket, e.ticket);

  ResumptionEntry plain = e;
  plain.early_data = false;
  plain.alpn.clear();
  const auto p = decode_resumption_entry(encode_resumption_entry(plain));
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->early_data);
  EXPECT_EQ(p->alpn, "");
}

TEST(ResumptionEntry, RefusesWhatItDidNotWrite) {
  const auto good = encode_resumption_entry(sample());
  EXPECT_FALSE(decode_resumption_entry({}));
  // A bare GnuTLS session (what session files held before) has no format tag.
  EXPECT_FALSE(decode_resumption_entry(std::vector<uint8_t>{0, 0, 0, 1, 2, 3, 4}));
  for (size_t n = 0; n + 5 <= good.size(); ++n) {  // every cut short of the whole ticket
    EXPECT_FALSE(decode_resumption_entry(std::span(good).first(n))) << n;
  }
  auto bad_flag = good;
  bad_flag[4] = 2;
  EXPECT_FALSE(decode_resumption_entry(bad_flag));
  auto other_version = good;
  other_version[3] = 2;
  EXPECT_FALSE(decode_resumption_entry(other_version));
}

}  // namespace
