#include "load/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace asioquic::bench {

// Values below 2^kSubBits map to themselves. Above, a value whose top bit is b keeps its top
// kSubBits bits: shift = b - (kSubBits - 1), and the bucket is shift * kHalf plus those bits
// (which lie in [kHalf, 2 * kHalf)), so buckets stay contiguous and ordered.
size_t Histogram::index(uint64_t v) {
  if (v < (uint64_t{1} << kSubBits)) return static_cast<size_t>(v);
  const int top = 63 - std::countl_zero(v);
  const int shift = top - (kSubBits - 1);
  return static_cast<size_t>(shift) * kHalf + static_cast<size_t>(v >> shift);
}

uint64_t Histogram::lower_bound(size_t i) {
  if (i < (size_t{1} << kSubBits)) return i;
  const size_t shift = i / kHalf - 1;
  const uint64_t bits = i - shift * kHalf;
  return bits << shift;
}

void Histogram::record(uint64_t ns) {
  ++buckets_[index(ns)];
  ++count_;
  min_ = std::min(min_, ns);
  max_ = std::max(max_, ns);
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i)
    buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::quantile(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1.0) return max_;
  q = std::max(q, 0.0);
  // The rank of the sample, 1-based: the smallest sample with at least q of all at or below.
  const auto rank = std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      const uint64_t lo = lower_bound(i);
      const uint64_t hi = i + 1 < kBuckets ? lower_bound(i + 1) : lo;
      return std::clamp(lo + (hi - lo) / 2, min(), max_);
    }
  }
  return max_;
}

}  // namespace asioquic::bench
