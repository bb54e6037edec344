// When to let the peer open more streams of one kind (MAX_STREAMS, RFC 9000 §4.6).
#pragma once

#include <algorithm>
#include <cstdint>

namespace asioquic::engine {

/// Batches the stream credit a peer gets back as its streams close: the credit goes out once
/// the peer has less than half its window left unused, all at once; until then closed streams
/// only accumulate. The peer can still have the whole window open at once: with less than half
/// left, every close is granted immediately.
///
/// Why: granting each closed stream at once, as we did, made ngtcp2 send a MAX_STREAMS frame
/// after nearly every request. That turned packets ack-eliciting that would not have been, and
/// at the end of a one-request connection it went in a packet of its own, often crossing the
/// client's CONNECTION_CLOSE, which the client then sent again (quiche batches the same way).
class PeerStreamCredit {
 public:
  /// `window`: the streams the peer may have open at once (our initial_max_streams_*).
  explicit PeerStreamCredit(uint64_t window = 0) noexcept : window_(window), granted_(window) {}

  /// The peer opened the stream with this sequence number (stream ID >> 2).
  void on_open(uint64_t seq) noexcept {
    if (seq + 1 > opened_) opened_ = seq + 1;
  }

  /// One of the peer's streams closed. Returns how many more streams to grant now (0: wait).
  uint64_t on_close() noexcept {
    ++closed_;
    // ngtcp2 also grants one stream by itself for each RESET_STREAM it receives, so the peer
    // may have opened more than granted_ counts.
    const uint64_t left = granted_ > opened_ ? granted_ - opened_ : 0;
    if (left >= std::max<uint64_t>((window_ + 1) / 2, 1)) return 0;
    const uint64_t n = closed_;
    closed_ = 0;
    granted_ += n;
    return n;
  }

 private:
  uint64_t window_;
  uint64_t granted_;     // the limit we have given the peer so far
  uint64_t opened_ = 0;  // streams the peer has opened (the highest sequence number + 1)
  uint64_t closed_ = 0;  // closed since the last grant
};

}  // namespace asioquic::engine
