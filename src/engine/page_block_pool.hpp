// Whole-page blocks for the engines' arenas, so that the pages a connection never writes are
// never backed by memory.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace asioquic::engine {

/// A pool of page-aligned blocks of 1 to kMaxPages pages, carved from anonymous mappings that
/// are reserved (MAP_NORESERVE) a segment at a time and never returned. A block shares no page
/// with another, and the pool writes nothing into a block it hands out (a free block holds one
/// link word in its first bytes). So a block's pages become resident only when its user writes
/// them: a 12 KiB arena of which a connection fills 1 KiB costs one page, not three.
///
/// A freed block goes on a last-in-first-out list of its size and is handed out again as is:
/// the pages it had touched stay resident, as freed malloc memory does; none go back to the
/// system.
///
/// Thread-safe: every member may be called from any thread at once. Allocation and release take
/// a mutex; owns() and capacity() take none. The pool must outlive every block it handed out;
/// the engines' pool (engine_memory.hpp) is never destroyed.
class PageBlockPool {
 public:
  static constexpr size_t kPageBytes = 4096;
  static constexpr size_t kMaxPages = 32;
  static constexpr size_t kMaxSegments = 64;

  /// A pool that reserves `segment_bytes` of address space (rounded up to whole pages, at least
  /// kMaxPages + the segment's own page table) whenever it needs more, up to kMaxSegments
  /// segments. Reserves nothing until the first allocation.
  constexpr explicit PageBlockPool(size_t segment_bytes = size_t{1} << 30) noexcept
      : segment_bytes_(std::max(pages_for(segment_bytes), kMaxPages + 1) * kPageBytes) {}
  ~PageBlockPool();
  PageBlockPool(const PageBlockPool&) = delete;
  PageBlockPool& operator=(const PageBlockPool&) = delete;

  /// Returns a block of at least `bytes` bytes, aligned to a page, with unspecified contents.
  /// Returns nullptr if `bytes` is 0 or more than kMaxPages pages, or if no address space can be
  /// reserved (all segments full, or mmap refused); the caller then uses malloc.
  void* allocate(size_t bytes) noexcept;

  /// Gives back a block from allocate() of this pool. `block` must not be null.
  void deallocate(void* block) noexcept;

  /// True if `p` points into a block of this pool (false for nullptr and malloc's memory).
  /// Inline: the engines ask it on every free.
  bool owns(const void* p) const noexcept {
    const uintptr_t a = reinterpret_cast<uintptr_t>(p);
    return a >= low_.load(std::memory_order_relaxed) && a < high_.load(std::memory_order_relaxed) &&
           segment_of(p);
  }

  /// The usable size of a block this pool handed out: its pages times kPageBytes.
  size_t capacity(const void* block) const noexcept;

 private:
  struct Segment {
    std::byte* base = nullptr;  // first block page; the page table sits before it
    uint8_t* pages = nullptr;   // per page: the page count of the block that starts there
    size_t page_count = 0;      // block pages in the segment
  };

  static constexpr size_t pages_for(size_t bytes) noexcept {
    return (bytes + kPageBytes - 1) / kPageBytes;
  }
  const Segment* segment_of(const void* p) const noexcept;
  size_t block_pages(const void* block) const noexcept;  // from the block's segment table
  bool add_segment() noexcept;  // with mu_ held

  const size_t segment_bytes_;
  std::mutex mu_;
  std::array<void*, kMaxPages + 1> free_{};  // by page count: the most recently freed block
  std::array<Segment, kMaxSegments> segments_{};
  std::atomic<size_t> segment_count_{0};  // segments_[0, count) are published and immutable
  // All segments lie in [low_, high_): a cheap first test for owns(). Each bound only ever
  // widens, so whatever value a thread reads is at least as wide as when the segment of any
  // block handed to it was added.
  std::atomic<uintptr_t> low_{UINTPTR_MAX};
  std::atomic<uintptr_t> high_{0};
  size_t next_page_ = 0;  // first never-used page of the last segment
  bool exhausted_ = false;
};

}  // namespace asioquic::engine
