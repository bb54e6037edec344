// A fixed-size latency histogram with bounded relative error, for percentiles over runs of any
// length without keeping every sample.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace asioquic::bench {

/// Log-linear buckets over nanoseconds: values below 256 ns are exact, above that each power of
/// two is split into 128 buckets, so a reported percentile is within 0.8% of the true sample.
/// Recording is a few instructions and never allocates. Not thread-safe: one per thread, merged.
class Histogram {
 public:
  void record(uint64_t ns);
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  /// The value at quantile q (0..1): the midpoint of the bucket holding the q-th sample,
  /// clamped to [min, max]. 0 when empty.
  uint64_t quantile(double q) const;

 private:
  static constexpr int kSubBits = 8;  // 2^kSubBits buckets per power of two at most
  static constexpr int kHalf = 1 << (kSubBits - 1);
  static constexpr size_t kBuckets = (64 - kSubBits + 1) * kHalf + kHalf;

  static size_t index(uint64_t v);
  static uint64_t lower_bound(size_t i);

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace asioquic::bench
