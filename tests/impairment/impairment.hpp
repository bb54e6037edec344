// What impairment_relay does to each datagram: the per-direction profile, the seeded per-packet
// decisions, QUIC Initial recognition and the bandwidth shaper. Pure logic, no sockets, so the
// unit test can pin it down.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace impairment {

enum Dir : int { kC2S = 0, kS2C = 1 };
inline const char* dir_name(int d) {
  return d == kC2S ? "c2s" : "s2c";
}

struct Window {
  double from_s = 0;
  double to_s = 0;
};

// One direction's impairments. Percentages are in [0, 100].
struct DirectionProfile {
  double loss_pct = 0;
  double delay_ms = 0;
  double jitter_ms = 0;  // uniform in [-jitter, +jitter], never below zero total delay
  double reorder_pct = 0;
  double reorder_extra_ms = 10;  // how much longer a reordered packet is held
  double dup_pct = 0;
  double corrupt_pct = 0;
  double rate_mbit = 0;  // 0: no cap
  size_t queue_pkts = 1000;
  size_t burst_bytes = 15000;
  std::vector<Window> blackholes;  // seconds after the relay's first packet

  bool blackholed(double t_s) const {
    return std::any_of(blackholes.begin(), blackholes.end(),
                       [t_s](const Window& w) { return t_s >= w.from_s && t_s < w.to_s; });
  }
};

// Counter-based generator: the numbers for packet k of direction d depend only on (seed, d, k),
// so a run's decisions do not shift when the other direction carries more or fewer packets.
class PacketRng {
 public:
  PacketRng(uint64_t seed, int dir, uint64_t index)
      : state_(mix(seed ^ mix((index << 1) | static_cast<uint64_t>(dir & 1)))) {}

  uint64_t next() { return mix(state_ += kGamma); }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  static constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;
  static uint64_t mix(uint64_t z) {  // splitmix64's finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t state_;
};

// Corruption leaves the first bytes alone so most hits land in the protected payload (the
// receiver's AEAD check must reject them); shorter packets get their last byte flipped.
constexpr size_t kCorruptSkip = 8;

struct Fate {
  bool lose = false;
  bool corrupt = false;
  bool duplicate = false;
  bool reorder = false;
  size_t corrupt_pos = 0;
  uint8_t corrupt_xor = 0;
  int64_t jitter_ns[2] = {0, 0};  // the packet, its duplicate
};

// Every draw happens for every packet, in a fixed order, so switching one impairment on does
// not change the others' decisions.
inline Fate decide(const DirectionProfile& p, uint64_t seed, int dir, uint64_t index, size_t len) {
  PacketRng rng(seed, dir, index);
  Fate f;
  f.lose = rng.uniform() * 100 < p.loss_pct;
  f.corrupt = rng.uniform() * 100 < p.corrupt_pct && len > 0;
  const size_t skip = std::min(kCorruptSkip, len > 0 ? len - 1 : 0);
  const uint64_t pos_draw = rng.next();
  f.corrupt_pos = len > skip ? skip + pos_draw % (len - skip) : 0;
  f.corrupt_xor = static_cast<uint8_t>(1 + rng.next() % 255);
  f.duplicate = rng.uniform() * 100 < p.dup_pct;
  f.reorder = rng.uniform() * 100 < p.reorder_pct;
  for (int64_t& j : f.jitter_ns) {
    j = static_cast<int64_t>((rng.uniform() * 2 - 1) * p.jitter_ms * 1e6);
  }
  return f;
}

// True for a datagram whose first packet is a client Initial (QUIC v1, or v2 and its draft,
// which renumber the long-header types).
inline bool is_initial(const uint8_t* p, size_t len) {
  if (len < 7 || (p[0] & 0x80) == 0) return false;
  const uint32_t version =
      (uint32_t{p[1]} << 24) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 8) | uint32_t{p[4]};
  const unsigned type = (p[0] >> 4) & 3;
  if (version == 0x00000001) return type == 0;
  if (version == 0x6b3343cf || version == 0x709a50c4) return type == 1;
  return false;
}

// A token bucket (rate + burst) in front of a FIFO of queue_pkts packets, written as GCRA so a
// packet costs O(1) and nothing ticks. A packet that would find the FIFO full is tail-dropped,
// like a router's interface queue.
class Shaper {
 public:
  void configure(double rate_mbit, size_t burst_bytes, size_t queue_pkts) {
    enabled_ = rate_mbit > 0;
    if (!enabled_) return;
    ns_per_byte_ = 8e3 / rate_mbit;
    tau_ns_ = static_cast<int64_t>(static_cast<double>(burst_bytes) * ns_per_byte_);
    ring_.assign(std::max<size_t>(queue_pkts, 1), 0);
    head_ = count_ = 0;
    tat_ns_ = 0;
  }
  bool enabled() const { return enabled_; }

  // Departure time of a packet of `bytes` arriving at now_ns, or -1 when it is tail-dropped.
  int64_t admit(int64_t now_ns, size_t bytes) {
    if (!enabled_) return now_ns;
    while (count_ > 0 && ring_[head_] <= now_ns) {
      head_ = (head_ + 1) % ring_.size();
      --count_;
    }
    const int64_t depart = std::max(now_ns, tat_ns_ - tau_ns_);
    if (depart > now_ns && count_ == ring_.size()) return -1;
    tat_ns_ =
        std::max(depart, tat_ns_) + static_cast<int64_t>(static_cast<double>(bytes) * ns_per_byte_);
    if (depart > now_ns) {
      ring_[(head_ + count_) % ring_.size()] = depart;
      ++count_;
    }
    return depart;
  }
  size_t queued() const { return count_; }

 private:
  bool enabled_ = false;
  double ns_per_byte_ = 0;
  int64_t tau_ns_ = 0;
  int64_t tat_ns_ = 0;
  std::vector<int64_t> ring_;  // departure times of the packets still waiting, oldest first
  size_t head_ = 0;
  size_t count_ = 0;
};

}  // namespace impairment
