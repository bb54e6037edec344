// The relay's packet storage: a fixed pool of slots allocated once, a FIFO of slot ids for
// in-order packets and a min-heap for the reordered ones. Nothing allocates per packet.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

namespace impairment {

struct PacketMeta {
  int64_t due_ns = 0;
  uint32_t session = 0;
  uint32_t session_gen = 0;
  uint16_t len = 0;
  uint8_t dir = 0;
  uint8_t ecn = 0;
};

inline constexpr uint32_t kNoSlot = UINT32_MAX;

class PacketPool {
 public:
  PacketPool(size_t slots, size_t slot_bytes)
      : stride_((slot_bytes + 63) & ~size_t{63}),
        // Not value-initialised: the pages stay untouched until a slot is first used.
        data_(std::make_unique_for_overwrite<uint8_t[]>(slots * stride_)),
        meta_(slots) {
    free_.reserve(slots);
    for (size_t i = slots; i-- > 0;)
      free_.push_back(static_cast<uint32_t>(i));
  }

  uint32_t acquire() {
    if (free_.empty()) return kNoSlot;
    const uint32_t s = free_.back();
    free_.pop_back();
    return s;
  }
  void release(uint32_t s) { free_.push_back(s); }
  uint8_t* data(uint32_t s) { return data_.get() + size_t{s} * stride_; }
  PacketMeta& meta(uint32_t s) { return meta_[s]; }
  const PacketMeta& meta(uint32_t s) const { return meta_[s]; }
  size_t capacity() const { return meta_.size(); }
  size_t in_use() const { return meta_.size() - free_.size(); }

 private:
  size_t stride_;
  std::unique_ptr<uint8_t[]> data_;
  std::vector<PacketMeta> meta_;
  std::vector<uint32_t> free_;
};

// FIFO of slot ids with a fixed capacity (the pool's size, so it never fills first).
class SlotRing {
 public:
  explicit SlotRing(size_t capacity) : ids_(capacity) {}
  bool empty() const { return count_ == 0; }
  uint32_t front() const { return ids_[head_]; }
  void push(uint32_t s) {
    ids_[(head_ + count_) % ids_.size()] = s;
    ++count_;
  }
  void pop() {
    head_ = (head_ + 1) % ids_.size();
    --count_;
  }

 private:
  std::vector<uint32_t> ids_;
  size_t head_ = 0;
  size_t count_ = 0;
};

// Min-heap on (due time, arrival order): reordered packets leave by time, ties in arrival order.
class DueHeap {
 public:
  explicit DueHeap(size_t capacity) { entries_.reserve(capacity); }
  bool empty() const { return entries_.empty(); }
  int64_t top_due() const { return entries_.front().due_ns; }
  uint32_t top() const { return entries_.front().slot; }
  void push(int64_t due_ns, uint32_t slot) {
    entries_.push_back({due_ns, seq_++, slot});
    std::push_heap(entries_.begin(), entries_.end(), std::greater<>());
  }
  void pop() {
    std::pop_heap(entries_.begin(), entries_.end(), std::greater<>());
    entries_.pop_back();
  }

 private:
  struct Entry {
    int64_t due_ns;
    uint64_t seq;
    uint32_t slot;
    auto operator<=>(const Entry& o) const {
      return due_ns != o.due_ns ? due_ns <=> o.due_ns : seq <=> o.seq;
    }
    bool operator==(const Entry& o) const = default;
  };
  std::vector<Entry> entries_;
  uint64_t seq_ = 0;
};

}  // namespace impairment
