#include "engine/engine_memory.hpp"

#include <malloc.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "engine/page_block_pool.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define ASIOQUIC_ENGINE_MALLOC_ONLY 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ASIOQUIC_ENGINE_MALLOC_ONLY 1
#endif
#endif

namespace asioquic::engine {

namespace {

// Constant-initialised, so no guard on the per-call path, and never destroyed (a union does not
// destroy its member): a connection freed during static destruction still returns its blocks.
union PoolStorage {
  constexpr PoolStorage() : pool() {}
  ~PoolStorage() {}
  PageBlockPool pool;
};
constinit PoolStorage storage;

PageBlockPool& pool() {
  return storage.pool;
}

}  // namespace

void* engine_malloc(size_t size, void*) noexcept {
  if (size >= kEngineBlockBytes) {
    if (void* p = pool().allocate(size)) return p;
  }
  return std::malloc(size);
}

void engine_free(void* ptr, void*) noexcept {
  if (pool().owns(ptr)) [[unlikely]] {
    pool().deallocate(ptr);
  } else {
    std::free(ptr);
  }
}

// Only ngtcp2_conn (8.2 KiB) is calloc'd at this size, and it is written all over: from whole
// pages it would cost three of them, from malloc its own bytes.
void* engine_calloc(size_t nmemb, size_t size, void*) noexcept {
  // Checked here: sanitizers' calloc aborts on an overflowing size instead of failing.
  size_t bytes = 0;
  if (__builtin_mul_overflow(nmemb, size, &bytes)) return nullptr;
  return std::calloc(nmemb, size);
}

void* engine_realloc(void* ptr, size_t size, void* ud) noexcept {
  if (!ptr) return engine_malloc(size, ud);
  const bool pooled = pool().owns(ptr);
  if (!pooled && size < kEngineBlockBytes) return std::realloc(ptr, size);
  const size_t old = pooled ? pool().capacity(ptr) : malloc_usable_size(ptr);
  if (pooled && size <= old && size >= kEngineBlockBytes) return ptr;
  void* p = engine_malloc(size, ud);
  if (!p) return nullptr;
  std::memcpy(p, ptr, std::min(old, size));
  engine_free(ptr, ud);
  return p;
}

namespace {

// ngtcp2_mem and nghttp3_mem have the same members in the same order.
template <class Mem>
const Mem* engine_mem() noexcept {
#ifdef ASIOQUIC_ENGINE_MALLOC_ONLY
  return nullptr;
#else
  static const Mem mem{nullptr, engine_malloc, engine_free, engine_calloc, engine_realloc};
  return &mem;
#endif
}

}  // namespace

const ngtcp2_mem* ngtcp2_memory() noexcept {
  return engine_mem<ngtcp2_mem>();
}

const nghttp3_mem* nghttp3_memory() noexcept {
  return engine_mem<nghttp3_mem>();
}

}  // namespace asioquic::engine
