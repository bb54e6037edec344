// Tests of quic::StreamTable: a connection's own send and receive buffers, and the SendSource
// bookkeeping (next/written/blocked/acked) the packetizer drives.
#include "quic/stream_table.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "asioquic/error.hpp"

namespace asioquic::quic {
namespace {

using Bytes = std::vector<uint8_t>;

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

Bytes pattern(size_t n, uint8_t seed = 0) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i)
    b[i] = static_cast<uint8_t>(seed + i * 7 + i / 251);
  return b;
}

// The bytes a StreamChunk offers, concatenated.
Bytes gather(const StreamChunk& c) {
  Bytes out;
  for (size_t i = 0; i < c.iovcnt; ++i) {
    const auto* p = static_cast<const uint8_t*>(c.iov[i].iov_base);
    out.insert(out.end(), p, p + c.iov[i].iov_len);
  }
  return out;
}

std::string str(const Bytes& b) {
  return {b.begin(), b.end()};
}

// Reads everything buffered on `id`.
std::string read_all(StreamTable& t, int64_t id, bool& fin, std::error_code& ec) {
  std::string out;
  uint8_t buf[7];  // small, so reads take several calls
  for (;;) {
    const size_t n = t.recv(id, buf, fin, ec, nullptr);
    out.append(reinterpret_cast<char*>(buf), n);
    if (n == 0 || fin || ec) return out;
  }
}

// ------------------------------------------------------------------------------- send

TEST(StreamTableSend, UnknownStream) {
  StreamTable t(100);
  std::error_code ec;
  EXPECT_EQ(t.send(0, as_bytes("abc"), false, ec), 0u);
  EXPECT_EQ(ec, errc::stream_not_found);
  ec.clear();
  t.send(0, Buffer::copy("abc"), false, ec);
  EXPECT_EQ(ec, errc::stream_not_found);
  EXPECT_EQ(t.capacity(0), 0u);
  EXPECT_FALSE(t.contains(0));
  EXPECT_FALSE(t.has_pending());
}

TEST(StreamTableSend, CapacityAndWouldBlock) {
  StreamTable t(100);
  t.open(0);
  EXPECT_EQ(t.capacity(0), 100u);
  std::error_code ec;
  const Bytes data = pattern(160);
  EXPECT_EQ(t.send(0, {data.data(), 60}, false, ec), 60u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(t.capacity(0), 40u);
  // Only what fits is taken, and the FIN with it is not, since not all was taken.
  EXPECT_EQ(t.send(0, {data.data() + 60, 100}, true, ec), 40u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(t.capacity(0), 0u);
  EXPECT_EQ(t.send(0, {data.data() + 100, 1}, false, ec), 0u);
  EXPECT_EQ(ec, errc::would_block);

  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 0);
  EXPECT_EQ(gather(c), Bytes(data.begin(), data.begin() + 100));
  EXPECT_FALSE(c.fin);
}

TEST(StreamTableSend, FinAndAfterFin) {
  StreamTable t(100);
  t.open(4);
  std::error_code ec;
  EXPECT_EQ(t.send(4, as_bytes("hello"), true, ec), 5u);
  EXPECT_FALSE(ec);
  EXPECT_EQ(t.capacity(4), 0u);  // finished: nothing more may be queued
  EXPECT_EQ(t.send(4, as_bytes("x"), false, ec), 0u);
  EXPECT_EQ(ec, errc::stream_finished);
  ec.clear();
  t.send(4, Buffer::copy("x"), false, ec);
  EXPECT_EQ(ec, errc::stream_finished);

  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(str(gather(c)), "hello");
  EXPECT_TRUE(c.fin);
  t.written(4, 5, true);
  EXPECT_FALSE(t.has_pending());
  EXPECT_FALSE(t.next(c));
}

TEST(StreamTableSend, BareFin) {
  StreamTable t(100);
  t.open(0);
  std::error_code ec;
  EXPECT_EQ(t.send(0, std::span<const uint8_t>(), true, ec), 0u);
  EXPECT_FALSE(ec);
  ASSERT_TRUE(t.has_pending());
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_TRUE(gather(c).empty());
  EXPECT_TRUE(c.fin);
  t.written(0, 0, true);
  EXPECT_FALSE(t.has_pending());
}

// A FIN sent when the earlier data is already written goes out alone.
TEST(StreamTableSend, FinAfterDataWasWritten) {
  StreamTable t(100);
  t.open(0);
  std::error_code ec;
  t.send(0, as_bytes("abc"), false, ec);
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  t.written(0, 3, false);
  EXPECT_FALSE(t.next(c));
  t.send(0, std::span<const uint8_t>(), true, ec);
  ASSERT_TRUE(t.next(c));
  EXPECT_TRUE(gather(c).empty());
  EXPECT_TRUE(c.fin);
}

TEST(StreamTableSend, LargeWriteSpansBlocks) {
  StreamTable t(1 << 20);
  t.open(0);
  std::error_code ec;
  const Bytes data = pattern(40 * 1024 + 3, 5);
  ASSERT_EQ(t.send(0, data, true, ec), data.size());
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_GT(c.iovcnt, 1u);
  EXPECT_EQ(gather(c), data);
  EXPECT_TRUE(c.fin);
}

TEST(StreamTableSend, SmallWritesArePacked) {
  StreamTable t(1 << 20);
  t.open(0);
  std::error_code ec;
  std::string all;
  for (int i = 0; i < 100; ++i) {
    const std::string piece = std::to_string(i) + ",";
    all += piece;
    ASSERT_EQ(t.send(0, as_bytes(piece), false, ec), piece.size());
  }
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.iovcnt, 1u);  // one pooled block, not one chunk per write
  EXPECT_EQ(str(gather(c)), all);
}

TEST(StreamTableSend, BufferIsWholeOrNothing) {
  StreamTable t(100);
  t.open(0);
  std::error_code ec;
  // Larger than the limit, on an empty stream: accepted, or it could never be sent.
  t.send(0, Buffer::take(pattern(150)), false, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(t.capacity(0), 0u);
  t.send(0, Buffer::copy("x"), false, ec);
  EXPECT_EQ(ec, errc::would_block);

  t.open(4);
  ec.clear();
  EXPECT_EQ(t.send(4, pattern(60), false, ec), 60u);
  t.send(4, Buffer::take(pattern(41)), false, ec);
  EXPECT_EQ(ec, errc::would_block);
  EXPECT_EQ(t.capacity(4), 40u);  // a refused buffer takes nothing
  ec.clear();
  t.send(4, Buffer::take(pattern(40)), true, ec);
  EXPECT_FALSE(ec);
  EXPECT_EQ(t.capacity(4), 0u);
}

TEST(StreamTableSend, BufferIsNotCopiedAndReleasedWhenAcked) {
  StreamTable t(1 << 20);
  t.open(0);
  auto owner = std::make_shared<Bytes>(pattern(1000));
  std::error_code ec;
  t.send(0, Buffer::shared(owner, *owner), true, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(owner.use_count(), 2);
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  ASSERT_EQ(c.iovcnt, 1u);
  EXPECT_EQ(c.iov[0].iov_base, owner->data());
  EXPECT_TRUE(c.fin);
  t.written(0, 1000, true);
  t.acked(0, 0, 999);
  EXPECT_EQ(owner.use_count(), 2);  // one byte still unacknowledged
  t.acked(0, 999, 1);
  EXPECT_EQ(owner.use_count(), 1);
}

// Bytes copied after a Buffer must follow it, not be written into it.
TEST(StreamTableSend, BytesAfterBufferKeepOrder) {
  StreamTable t(1 << 20);
  t.open(0);
  std::error_code ec;
  t.send(0, Buffer::copy("abc"), false, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(t.send(0, as_bytes("def"), false, ec), 3u);
  ASSERT_FALSE(ec);
  t.send(0, Buffer::copy("ghi"), false, ec);
  EXPECT_EQ(t.send(0, as_bytes("jk"), true, ec), 2u);
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(str(gather(c)), "abcdefghijk");
  EXPECT_TRUE(c.fin);
}

// ------------------------------------------------------------------------ SendSource

TEST(StreamTableWrite, PartialWritesResumeAtTheRightOffset) {
  StreamTable t(1 << 20);
  t.open(0);
  std::error_code ec;
  const Bytes data = pattern(20 * 1024, 9);  // two pooled blocks
  t.send(0, data, true, ec);
  size_t done = 0;
  for (size_t step : {30u, 16 * 1024u - 30u + 10u, 1u}) {
    StreamChunk c;
    ASSERT_TRUE(t.next(c));
    EXPECT_EQ(gather(c), Bytes(data.begin() + done, data.end())) << done;
    EXPECT_TRUE(c.fin);
    t.written(0, step, false);
    done += step;
  }
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(gather(c).size(), data.size() - done);
  t.written(0, data.size() - done, true);
  EXPECT_FALSE(t.has_pending());
}

TEST(StreamTableWrite, RoundRobinAcrossStreams) {
  StreamTable t(1 << 20);
  std::error_code ec;
  for (int64_t id : {0, 4, 8}) {
    t.open(id);
    t.send(id, pattern(100), false, ec);
  }
  std::vector<int64_t> order;
  for (int i = 0; i < 9; ++i) {
    StreamChunk c;
    ASSERT_TRUE(t.next(c));
    order.push_back(c.stream_id);
    t.written(c.stream_id, 30, false);  // a packet's worth, then the next stream
  }
  EXPECT_EQ(order, (std::vector<int64_t>{0, 4, 8, 0, 4, 8, 0, 4, 8}));
  // 10 bytes left on each; finishing one drops it from the rotation.
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 0);
  t.written(0, 10, false);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 4);
  t.written(4, 10, false);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 8);
  t.written(8, 10, false);
  EXPECT_FALSE(t.next(c));
  EXPECT_FALSE(t.has_pending());
}

TEST(StreamTableWrite, AtMost16IovsAndFinOnlyWithTheLast) {
  StreamTable t(1 << 20);
  t.open(0);
  std::error_code ec;
  std::string all;
  for (int i = 0; i < 20; ++i) {
    const std::string piece(10, static_cast<char>('a' + i));
    all += piece;
    t.send(0, Buffer::copy(piece), i == 19, ec);
  }
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.iovcnt, 16u);
  EXPECT_FALSE(c.fin);  // the last chunks were not offered
  EXPECT_EQ(str(gather(c)), all.substr(0, 160));
  t.written(0, 160, false);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(str(gather(c)), all.substr(160));
  EXPECT_TRUE(c.fin);
}

TEST(StreamTableWrite, BlockedStreamsAreSkippedUntilUnblocked) {
  StreamTable t(1 << 20);
  std::error_code ec;
  for (int64_t id : {0, 4}) {
    t.open(id);
    t.send(id, pattern(50), false, ec);
  }
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  ASSERT_EQ(c.stream_id, 0);
  t.blocked(0);  // flow control: the engine took nothing
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 4);
  t.written(4, 50, false);
  EXPECT_FALSE(t.next(c));
  t.unblocked(0);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 0);
  EXPECT_EQ(gather(c).size(), 50u);

  // Blocked while not at the front of the line.
  t.send(4, pattern(5), false, ec);
  t.blocked(4);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 0);
  t.written(0, 50, false);
  EXPECT_FALSE(t.next(c));
  t.unblocked(4);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 4);
  EXPECT_EQ(gather(c).size(), 5u);
}

TEST(StreamTableWrite, AcksFreeCapacity) {
  StreamTable t(40 * 1024);
  t.open(0);
  std::error_code ec;
  const Bytes data = pattern(40 * 1024);
  ASSERT_EQ(t.send(0, data, false, ec), data.size());
  EXPECT_EQ(t.capacity(0), 0u);
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  t.written(0, data.size(), false);
  t.acked(0, 0, 16 * 1024);
  EXPECT_EQ(t.capacity(0), 16u * 1024);
  t.acked(0, 16 * 1024, 24 * 1024);
  EXPECT_EQ(t.capacity(0), 40u * 1024);
  // The freed room is usable, and the new bytes are what next() offers.
  const Bytes more = pattern(100, 77);
  EXPECT_EQ(t.send(0, more, false, ec), 100u);
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(gather(c), more);
}

// A send buffer smaller than a pooled block must not stall once everything is acknowledged.
TEST(StreamTableWrite, SmallLimitRecoversAfterAck) {
  StreamTable t(1000);
  t.open(0);
  std::error_code ec;
  for (int round = 0; round < 3; ++round) {
    const Bytes data = pattern(1000, static_cast<uint8_t>(round));
    ASSERT_EQ(t.send(0, data, false, ec), 1000u) << round;
    ASSERT_FALSE(ec);
    StreamChunk c;
    ASSERT_TRUE(t.next(c));
    EXPECT_EQ(gather(c), data);
    t.written(0, 1000, false);
    t.acked(0, round * 1000u, 1000);
    EXPECT_EQ(t.capacity(0), 1000u) << round;
  }
}

TEST(StreamTableWrite, AbandonSendDropsQueuedData) {
  StreamTable t(1000);
  std::error_code ec;
  for (int64_t id : {0, 4}) {
    t.open(id);
    t.send(id, pattern(100), false, ec);
  }
  t.abandon_send(0, /*by_peer=*/false);
  EXPECT_EQ(t.capacity(0), 0u);
  EXPECT_EQ(t.send(0, pattern(1), false, ec), 0u);
  EXPECT_EQ(ec, errc::stream_finished);
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 4);
  t.written(4, 100, false);
  EXPECT_FALSE(t.next(c));

  // STOP_SENDING from the peer reports stream_stopped.
  t.abandon_send(4, /*by_peer=*/true);
  ec.clear();
  EXPECT_EQ(t.send(4, pattern(1), false, ec), 0u);
  EXPECT_EQ(ec, errc::stream_stopped);
  ec.clear();
  t.send(4, Buffer::copy("x"), false, ec);
  EXPECT_EQ(ec, errc::stream_stopped);
  t.abandon_send(12, true);  // unknown: ignored
  EXPECT_FALSE(t.contains(12));
}

// ---------------------------------------------------------------------------------- receive

TEST(StreamTableRecv, InOrderWithFin) {
  StreamTable t(100);
  t.on_data(0, as_bytes("hello "), false);
  t.on_data(0, as_bytes("world"), true);
  bool fin = false;
  std::error_code ec;
  EXPECT_EQ(read_all(t, 0, fin, ec), "hello world");
  EXPECT_TRUE(fin);
  EXPECT_FALSE(ec);
}

TEST(StreamTableRecv, FinOnlyOnceEverythingIsRead) {
  StreamTable t(100);
  t.on_data(0, as_bytes("abcdef"), true);
  uint8_t buf[4];
  bool fin = true;
  std::error_code ec;
  EXPECT_EQ(t.recv(0, buf, fin, ec, nullptr), 4u);
  EXPECT_FALSE(fin);
  EXPECT_EQ(t.recv(0, buf, fin, ec, nullptr), 2u);
  EXPECT_TRUE(fin);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 2), "ef");
}

TEST(StreamTableRecv, InterleavedArrivalsKeepEachStreamsOrder) {
  StreamTable t(100);
  std::string expect0, expect4;
  for (int i = 0; i < 50; ++i) {
    // Appended, not "a" + string: g++ 12 -O3 warns falsely (-Wstringop-overflow) on that.
    std::string a = "a", b = "b";
    a += std::to_string(i);
    b += std::to_string(i);
    t.on_data(0, as_bytes(a), false);
    t.on_data(4, as_bytes(b), false);
    expect0 += a;
    expect4 += b;
    if (i % 10 == 0) {  // read part of it midway, so the buffer compacts
      bool fin;
      std::error_code ec;
      uint8_t buf[3];
      const size_t n = t.recv(0, buf, fin, ec, nullptr);
      ASSERT_EQ(std::string(reinterpret_cast<char*>(buf), n), expect0.substr(0, n));
      expect0.erase(0, n);
    }
  }
  bool fin;
  std::error_code ec;
  EXPECT_EQ(read_all(t, 0, fin, ec), expect0);
  EXPECT_EQ(read_all(t, 4, fin, ec), expect4);
}

TEST(StreamTableRecv, UnknownStream) {
  StreamTable t(100);
  uint8_t buf[4];
  bool fin;
  std::error_code ec;
  EXPECT_EQ(t.recv(8, buf, fin, ec, nullptr), 0u);
  EXPECT_EQ(ec, errc::stream_not_found);
}

TEST(StreamTableRecv, ResetDropsDataAndReportsCode) {
  StreamTable t(100);
  t.on_data(0, as_bytes("abc"), false);
  t.on_reset(0, 77);
  uint8_t buf[8];
  bool fin;
  std::error_code ec;
  uint64_t code = 0;
  EXPECT_EQ(t.recv(0, buf, fin, ec, &code), 0u);
  EXPECT_EQ(ec, errc::stream_reset);
  EXPECT_EQ(code, 77u);
  // A reset before any data also creates the stream, so the application learns of it.
  t.on_reset(4, 5);
  ASSERT_EQ(t.next_readable(), 0);
  ASSERT_EQ(t.next_readable(), 4);
  ec.clear();
  EXPECT_EQ(t.recv(4, buf, fin, ec, &code), 0u);
  EXPECT_EQ(ec, errc::stream_reset);
  EXPECT_EQ(code, 5u);
}

TEST(StreamTableRecv, StopReadingDropsAndCountsUnread) {
  StreamTable t(100);
  t.on_data(0, as_bytes("0123456789"), false);
  uint8_t buf[3];
  bool fin;
  std::error_code ec;
  ASSERT_EQ(t.recv(0, buf, fin, ec, nullptr), 3u);
  EXPECT_FALSE(t.is_reading_stopped(0));
  EXPECT_EQ(t.stop_reading(0), 7u);  // what the caller credits back to flow control
  EXPECT_TRUE(t.is_reading_stopped(0));
  t.on_data(0, as_bytes("later"), true);  // dropped
  EXPECT_EQ(t.recv(0, buf, fin, ec, nullptr), 0u);
  EXPECT_TRUE(t.take_unread().empty());
  EXPECT_EQ(t.stop_reading(40), 0u);  // unknown: nothing
  EXPECT_FALSE(t.is_reading_stopped(40));
}

TEST(StreamTableRecv, NextReadableInArrivalOrderWithoutDuplicates) {
  StreamTable t(100);
  t.on_data(8, as_bytes("a"), false);
  t.on_data(0, as_bytes("b"), false);
  t.on_data(8, as_bytes("c"), false);  // already queued: not again
  t.on_data(4, {}, true);
  EXPECT_EQ(t.next_readable(), 8);
  EXPECT_EQ(t.next_readable(), 0);
  EXPECT_EQ(t.next_readable(), 4);
  EXPECT_EQ(t.next_readable(), std::nullopt);
  // Data arriving after the stream was taken queues it again.
  t.on_data(0, as_bytes("d"), false);
  EXPECT_EQ(t.next_readable(), 0);
  EXPECT_EQ(t.next_readable(), std::nullopt);
}

TEST(StreamTableRecv, ForgottenStreamsAreSkipped) {
  StreamTable t(100);
  t.on_data(0, as_bytes("x"), true);
  t.on_data(4, as_bytes("y"), false);
  bool fin;
  std::error_code ec;
  EXPECT_EQ(read_all(t, 0, fin, ec), "x");
  ASSERT_TRUE(fin);
  t.on_closed(0);
  EXPECT_FALSE(t.contains(0));
  EXPECT_EQ(t.next_readable(), 4);
  EXPECT_EQ(t.next_readable(), std::nullopt);
}

// ---------------------------------------------------------------------------------- closing

TEST(StreamTableClose, ForgetsOnlyWhenNothingIsLeftToRead) {
  StreamTable t(100);
  bool fin;
  std::error_code ec;
  // Unread data: kept until read to the FIN.
  t.on_data(0, as_bytes("abc"), true);
  t.on_closed(0);
  EXPECT_TRUE(t.contains(0));
  EXPECT_EQ(read_all(t, 0, fin, ec), "abc");
  EXPECT_TRUE(fin);
  EXPECT_FALSE(t.contains(0));

  // An unread bare FIN: kept until the application has seen it.
  t.on_data(4, {}, true);
  t.on_closed(4);
  EXPECT_TRUE(t.contains(4));
  uint8_t buf[1];
  EXPECT_EQ(t.recv(4, buf, fin, ec, nullptr), 0u);
  EXPECT_TRUE(fin);
  EXPECT_FALSE(t.contains(4));

  // A reset: kept until recv reported it.
  t.on_reset(8, 3);
  t.on_closed(8);
  EXPECT_TRUE(t.contains(8));
  EXPECT_EQ(t.recv(8, buf, fin, ec, nullptr), 0u);
  EXPECT_EQ(ec, errc::stream_reset);
  EXPECT_FALSE(t.contains(8));

  // Our own unidirectional stream has nothing to read: gone at once.
  t.open(2);
  t.send(2, as_bytes("out"), true, ec);
  t.on_closed(2);
  EXPECT_FALSE(t.contains(2));

  // Reading stopped: gone at once.
  t.on_data(12, as_bytes("zzz"), false);
  t.stop_reading(12);
  t.on_closed(12);
  EXPECT_FALSE(t.contains(12));

  t.on_closed(99);  // unknown: ignored
  EXPECT_FALSE(t.contains(99));
}

TEST(StreamTableClose, ClosedStreamLeavesTheSendRotation) {
  StreamTable t(100);
  std::error_code ec;
  t.open(0);
  t.open(4);
  t.send(0, as_bytes("aaa"), false, ec);
  t.send(4, as_bytes("bbb"), false, ec);
  t.on_closed(0);  // e.g. the engine closed it after a reset
  ASSERT_FALSE(t.contains(0));
  StreamChunk c;
  ASSERT_TRUE(t.next(c));
  EXPECT_EQ(c.stream_id, 4);
}

TEST(StreamTableTakeUnread, MovesOutBytesAndFinsSortedById) {
  StreamTable t(100);
  t.on_data(8, as_bytes("eight"), false);
  t.on_data(0, as_bytes("zero"), true);
  t.on_data(4, {}, true);
  t.open(12);  // nothing received: not listed
  bool fin;
  std::error_code ec;
  t.on_data(16, as_bytes("read"), false);
  read_all(t, 16, fin, ec);  // already read: not listed

  const auto p = t.take_unread();
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0].id, 0);
  EXPECT_EQ(str(p[0].bytes), "zero");
  EXPECT_TRUE(p[0].fin);
  EXPECT_EQ(p[1].id, 4);
  EXPECT_TRUE(p[1].bytes.empty());
  EXPECT_TRUE(p[1].fin);
  EXPECT_EQ(p[2].id, 8);
  EXPECT_EQ(str(p[2].bytes), "eight");
  EXPECT_FALSE(p[2].fin);

  // Moved, not copied: nothing is delivered twice.
  EXPECT_TRUE(t.take_unread().empty());
  uint8_t buf[8];
  EXPECT_EQ(t.recv(8, buf, fin, ec, nullptr), 0u);
}

}  // namespace
}  // namespace asioquic::quic
