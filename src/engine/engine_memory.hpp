// The allocator the engine adapter hands to ngtcp2 and nghttp3.
#pragma once

#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include <cstddef>

namespace asioquic::engine {

/// malloc and realloc requests of this many bytes or more get whole pages of their own
/// (PageBlockPool); smaller ones, and every calloc, go to malloc.
constexpr size_t kEngineBlockBytes = 4096;

/// The allocators for ngtcp2_conn_*_new and nghttp3_conn_*_new. Both engines keep their small
/// objects in arenas of 4-44 KiB (ack ranges, packets in flight, stream IDs, streams: ~25 per
/// server connection, made at its start), of which an idle connection fills about 1 KiB each.
/// From malloc's heap those arenas share pages with their neighbours and most of their pages
/// become resident; from whole pages only the written ones do. Everything else is malloc's,
/// calloc'd objects included: they are zeroed to be written in full (ngtcp2_conn, 8.2 KiB, would
/// take three whole pages).
///
/// Returns nullptr (the engines' default, plain malloc) in AddressSanitizer builds: its leak
/// checker does not scan our pages, so it would report the malloc'd objects they point to.
/// The pool behind both is shared by all threads and never destroyed; of its free blocks it
/// keeps max(16 MiB, half the pages in use) resident and gives the rest back to the system.
const ngtcp2_mem* ngtcp2_memory() noexcept;
const nghttp3_mem* nghttp3_memory() noexcept;

/// The four allocator functions both engines call, for tests. Same contracts as malloc, free,
/// calloc and realloc (calloc and realloc return nullptr on size overflow or exhaustion).
void* engine_malloc(size_t size, void* user_data) noexcept;
void engine_free(void* ptr, void* user_data) noexcept;
void* engine_calloc(size_t nmemb, size_t size, void* user_data) noexcept;
void* engine_realloc(void* ptr, size_t size, void* user_data) noexcept;

}  // namespace asioquic::engine
