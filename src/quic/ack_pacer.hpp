// How many received datagrams a worker reads before it writes (an ACK) in the middle of a
// receive batch. It always writes once at the end of a batch as well.
#pragma once

#include <algorithm>
#include <cstdint>

namespace asioquic::quic {

/// Spaces a receiver's ACKs by the size of the sender's flight: about four ACKs for the
/// datagrams that arrive in one smoothed RTT, but never fewer than one per kMinEvery
/// datagrams nor more than one per kMaxEvery.
///
/// Why: each ACK costs a send on our side and a receive on the peer's. On loopback a 1 GiB
/// download at one ACK per 8 datagrams sent 96 647 ACK packets; one per 32 made it 15-20%
/// faster, but under 1% loss through a relay a fixed 32 halved goodput (the sender's smaller
/// window then got one ACK per flight, or none before the batch ended). Measuring the flight
/// keeps small flights at 8 and gives large ones the spacing they can afford.
///
/// Deterministic: time is what the caller passes (the datagrams' receive timestamps).
class AckPacer {
 public:
  static constexpr unsigned kMinEvery = 8;
  static constexpr unsigned kMaxEvery = 32;
  static constexpr unsigned kAcksPerFlight = 4;
  /// The shortest measuring window: below this the smoothed RTT of a loopback path (tens of
  /// microseconds) would count only a few datagrams of a flight that takes longer to arrive.
  static constexpr uint64_t kMinWindowNs = 100'000;

  /// Counts one datagram received at `ts_ns`. `smoothed_rtt_ns()` is called only when a new
  /// measuring window starts (once per RTT). Returns true when the worker should write now.
  template <class RttFn>
  bool on_datagram(uint64_t ts_ns, RttFn&& smoothed_rtt_ns) {
    if (ts_ns >= window_end_) {
      every_ = std::clamp(window_count_ / kAcksPerFlight, kMinEvery, kMaxEvery);
      window_count_ = 0;
      window_end_ = ts_ns + std::max<uint64_t>(smoothed_rtt_ns(), kMinWindowNs);
    }
    ++window_count_;
    return ++since_write_ >= every_;
  }

  /// The worker wrote (whatever the reason): counting starts again.
  void on_write() noexcept { since_write_ = 0; }

  /// Datagrams between two ACKs inside a receive batch, as last measured.
  unsigned every() const noexcept { return every_; }

 private:
  uint64_t window_end_ = 0;
  unsigned window_count_ = 0;
  unsigned every_ = kMinEvery;
  unsigned since_write_ = 0;
};

}  // namespace asioquic::quic
