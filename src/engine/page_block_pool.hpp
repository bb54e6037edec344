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
/// are reserved (MAP_NORESERVE) a segment at a time and never unmapped. A block shares no page
/// with another, and the pool writes nothing into a block, handed out or free (its bookkeeping
/// lives in a table at the segment's start). So a block's pages become resident only when its
/// user writes them: a 12 KiB arena of which a connection fills 1 KiB costs one page, not three.
///
/// A freed block goes on a last-in-first-out list of its size and is handed out again as is,
/// its written pages still resident, as freed malloc memory is. When the free blocks hold more
/// than max(`keep_free_bytes`, half the pages in use), the pool gives back the pages of
/// free blocks (madvise MADV_DONTNEED) until they hold half that: the memory of a spike of
/// connections is returned as they close, while connections coming and going at a steady count
/// seldom cross that line. Blocks given back are handed out after the resident ones.
///
/// Thread-safe: every member may be called from any thread at once. Allocation and release take
/// a mutex; owns() and capacity() take none. The pool must outlive every block it handed out;
/// the engines' pool (engine_memory.hpp) is never destroyed.
class PageBlockPool {
 public:
  static constexpr size_t kPageBytes = 4096;
  static constexpr size_t kMaxPages = 32;
  static constexpr size_t kMaxSegments = 64;
  static constexpr size_t kDefaultKeepFreeBytes = size_t{16} << 20;

  /// A pool that reserves `segment_bytes` of address space (rounded up to whole pages, at least
  /// kMaxPages + the segment's own table, at most 256 GiB) whenever it needs more, up to
  /// kMaxSegments segments, and keeps at least `keep_free_bytes` (rounded up to whole pages) of
  /// free blocks' pages before giving any back. Reserves nothing until the first allocation.
  constexpr explicit PageBlockPool(size_t segment_bytes = size_t{1} << 30,
                                   size_t keep_free_bytes = kDefaultKeepFreeBytes) noexcept
      : segment_bytes_(std::clamp(pages_for(segment_bytes), kMaxPages + table_pages_for(kMaxPages),
                                  kMaxSegmentPages) *
                       kPageBytes),
        keep_free_pages_(pages_for(keep_free_bytes)) {}
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

  /// Pages of free blocks not given back to the system (those that may be resident).
  size_t free_resident_pages() noexcept {
    std::lock_guard lock(mu_);
    return free_resident_pages_;
  }

 private:
  // Per page of a segment, used where a block starts: its page count and, while it is free, the
  // next block of its list (a block number + 1, 0 for none). All zero is a page where no block
  // starts: the kernel's fresh table.
  struct PageEntry {
    uint32_t next_free;
    uint8_t pages;
  };
  using FreeLists = std::array<uint32_t, kMaxPages + 1>;  // by page count: first block's number + 1
  struct Segment {
    std::byte* base = nullptr;   // first block page; the table sits before it
    PageEntry* table = nullptr;  // one entry per block page
    size_t page_count = 0;       // block pages in the segment
  };

  // Block numbers (uint32_t) must not run out before the segments do.
  static constexpr size_t kMaxSegmentPages = UINT32_MAX / kMaxSegments;

  static constexpr size_t pages_for(size_t bytes) noexcept {
    return (bytes + kPageBytes - 1) / kPageBytes;
  }
  static constexpr size_t table_pages_for(size_t block_pages) noexcept {
    return pages_for(block_pages * sizeof(PageEntry));
  }
  const Segment* segment_of(const void* p) const noexcept;
  // A block's number: its first page counted over all segments (they are all the same size).
  uint32_t number_of(const void* block) const noexcept;
  void* block_at(uint32_t number) const noexcept;
  PageEntry& entry(uint32_t number) const noexcept;
  // With mu_ held: a never-used block of `pages` pages from the last segment (or a new one);
  // nullptr when no segment can be added.
  void* carve(size_t pages) noexcept;
  bool add_segment() noexcept;  // with mu_ held
  void push(FreeLists& lists, uint32_t number) noexcept;
  uint32_t pop(FreeLists& lists, size_t pages) noexcept;  // number + 1, 0 if empty
  // With mu_ held: takes free blocks off `resident_` until they hold `target` pages or fewer and
  // returns them as a list (linked like the free lists), for the caller to give back.
  uint32_t take_excess(size_t target) noexcept;

  const size_t segment_bytes_;
  const size_t keep_free_pages_;
  std::mutex mu_;
  FreeLists resident_{};  // free blocks whose pages were not given back, last freed first
  FreeLists released_{};  // free blocks whose pages were given back
  size_t in_use_pages_ = 0;
  size_t free_resident_pages_ = 0;
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
