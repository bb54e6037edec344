#include "engine/page_block_pool.hpp"

#include <sys/mman.h>

#include <cstring>

namespace asioquic::engine {

PageBlockPool::~PageBlockPool() {
  const size_t n = segment_count_.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i)
    ::munmap(segments_[i].pages, segment_bytes_);
}

void* PageBlockPool::allocate(size_t bytes) noexcept {
  const size_t pages = pages_for(bytes);
  if (pages == 0 || pages > kMaxPages) return nullptr;
  std::lock_guard lock(mu_);
  if (void* block = free_[pages]) {
    std::memcpy(&free_[pages], block, sizeof(void*));
    return block;
  }
  size_t count = segment_count_.load(std::memory_order_relaxed);
  if (count == 0 || next_page_ + pages > segments_[count - 1].page_count) {
    // The tail of the old segment (fewer than `pages` pages) is left unused.
    if (!add_segment()) return nullptr;
    count = segment_count_.load(std::memory_order_relaxed);
  }
  Segment& s = segments_[count - 1];
  s.pages[next_page_] = static_cast<uint8_t>(pages);
  void* block = s.base + next_page_ * kPageBytes;
  next_page_ += pages;
  return block;
}

bool PageBlockPool::add_segment() noexcept {
  const size_t count = segment_count_.load(std::memory_order_relaxed);
  if (exhausted_ || count == kMaxSegments) return false;
  // One table byte per page of the segment, at its start, rounded up to whole pages.
  const size_t total_pages = segment_bytes_ / kPageBytes;
  const size_t table_pages = pages_for(total_pages);
  void* m = ::mmap(nullptr, segment_bytes_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    exhausted_ = true;  // strict overcommit or an address-space limit: malloc from now on
    return false;
  }
  Segment& s = segments_[count];
  s.pages = static_cast<uint8_t*>(m);
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
  const size_t pages = block_pages(block);
  std::lock_guard lock(mu_);
  std::memcpy(block, &free_[pages], sizeof(void*));
  free_[pages] = block;
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

size_t PageBlockPool::block_pages(const void* block) const noexcept {
  const Segment* s = segment_of(block);
  return s->pages[(static_cast<const std::byte*>(block) - s->base) / kPageBytes];
}

size_t PageBlockPool::capacity(const void* block) const noexcept {
  return block_pages(block) * kPageBytes;
}

}  // namespace asioquic::engine
