#include "engine/page_block_pool.hpp"

#include <sys/mman.h>

namespace asioquic::engine {

PageBlockPool::~PageBlockPool() {
  const size_t n = segment_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i)
    ::munmap(segments_[i].table, segment_bytes_);
}

void* PageBlockPool::allocate(size_t bytes) noexcept {
  const size_t pages = pages_for(bytes);
  if (pages == 0 || pages > kMaxPages) return nullptr;
  std::lock_guard lock(mu_);
  uint32_t n = pop(resident_, pages);
  if (n) {
    free_resident_pages_ -= pages;
  } else {
    n = pop(released_, pages);
  }
  void* block = n ? block_at(n - 1) : carve(pages);
  if (block) in_use_pages_ += pages;
  return block;
}

void* PageBlockPool::carve(size_t pages) noexcept {
  size_t count = segment_count_.load(std::memory_order_relaxed);
  if (count == 0 || next_page_ + pages > segments_[count - 1].page_count) {
    // The tail of the old segment (fewer than `pages` pages) is left unused.
    if (!add_segment()) return nullptr;
    count = segment_count_.load(std::memory_order_relaxed);
  }
  Segment& s = segments_[count - 1];
  s.table[next_page_].pages = static_cast<uint8_t>(pages);
  void* block = s.base + next_page_ * kPageBytes;
  next_page_ += pages;
  return block;
}

bool PageBlockPool::add_segment() noexcept {
  const size_t count = segment_count_.load(std::memory_order_relaxed);
  if (exhausted_ || count == kMaxSegments) return false;
  const size_t total_pages = segment_bytes_ / kPageBytes;
  const size_t table_pages = table_pages_for(total_pages);
  void* m = ::mmap(nullptr, segment_bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    exhausted_ = true;  // strict overcommit or an address-space limit: malloc from now on
    return false;
  }
  // The table starts out as the kernel's zero pages; a page of it is written only where blocks
  // start.
  Segment& s = segments_[count];
  s.table = static_cast<PageEntry*>(m);
  s.base = static_cast<std::byte*>(m) + table_pages * kPageBytes;
  s.page_count = total_pages - table_pages;
  next_page_ = 0;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(m);
  low_.store(std::min(lo, low_.load(std::memory_order_relaxed)), std::memory_order_relaxed);
  high_.store(std::max(lo + segment_bytes_, high_.load(std::memory_order_relaxed)),
              std::memory_order_relaxed);
  segment_count_.store(count + 1, std::memory_order_release);
  return true;
}

void PageBlockPool::deallocate(void* block) noexcept {
  const uint32_t number = number_of(block);
  uint32_t excess = 0;
  {
    std::lock_guard lock(mu_);
    const size_t pages = entry(number).pages;
    push(resident_, number);
    free_resident_pages_ += pages;
    in_use_pages_ -= pages;
    const size_t high = std::max(keep_free_pages_, in_use_pages_ / 2);
    if (free_resident_pages_ > high) excess = take_excess(high / 2);
  }
  // The taken blocks are on no list, so no other thread can be handed one while its pages go.
  while (excess) {
    const uint32_t n = excess - 1;
    PageEntry& e = entry(n);
    excess = e.next_free;
    const bool given_back = ::madvise(block_at(n), e.pages * kPageBytes, MADV_DONTNEED) == 0;
    std::lock_guard lock(mu_);
    push(given_back ? released_ : resident_, n);
    if (!given_back) free_resident_pages_ += e.pages;
  }
}

uint32_t PageBlockPool::take_excess(size_t target) noexcept {
  uint32_t taken = 0;
  // The largest blocks first: the most pages per system call.
  for (size_t pages = kMaxPages; pages > 0 && free_resident_pages_ > target; --pages) {
    while (free_resident_pages_ > target) {
      const uint32_t n = pop(resident_, pages);
      if (!n) break;
      entry(n - 1).next_free = taken;
      taken = n;
      free_resident_pages_ -= pages;
    }
  }
  return taken;
}

void PageBlockPool::push(FreeLists& lists, uint32_t number) noexcept {
  PageEntry& e = entry(number);
  e.next_free = lists[e.pages];
  lists[e.pages] = number + 1;
}

uint32_t PageBlockPool::pop(FreeLists& lists, size_t pages) noexcept {
  const uint32_t head = lists[pages];
  if (head) {
    PageEntry& e = entry(head - 1);
    lists[pages] = e.next_free;
    e.next_free = 0;
  }
  return head;
}

const PageBlockPool::Segment* PageBlockPool::segment_of(const void* p) const noexcept {
  const auto* b = static_cast<const std::byte*>(p);
  const size_t n = segment_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const Segment& s = segments_[i];
    if (b >= s.base && b < s.base + s.page_count * kPageBytes) return &s;
  }
  return nullptr;
}

uint32_t PageBlockPool::number_of(const void* block) const noexcept {
  const Segment* s = segment_of(block);
  const auto page =
      static_cast<size_t>(static_cast<const std::byte*>(block) - s->base) / kPageBytes;
  return static_cast<uint32_t>(static_cast<size_t>(s - segments_.data()) * s->page_count + page);
}

void* PageBlockPool::block_at(uint32_t number) const noexcept {
  const Segment& s = segments_[number / segments_[0].page_count];
  return s.base + number % s.page_count * kPageBytes;
}

PageBlockPool::PageEntry& PageBlockPool::entry(uint32_t number) const noexcept {
  const Segment& s = segments_[number / segments_[0].page_count];
  return s.table[number % s.page_count];
}

size_t PageBlockPool::capacity(const void* block) const noexcept {
  return entry(number_of(block)).pages * kPageBytes;
}

}  // namespace asioquic::engine
