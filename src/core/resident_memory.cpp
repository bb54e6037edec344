#include "core/resident_memory.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <charconv>

namespace asioquic::detail {

uint64_t resident_memory_bytes() noexcept {
  const int fd = ::open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  std::array<char, 128> buf;
  const ssize_t n = ::read(fd, buf.data(), buf.size());
  ::close(fd);
  if (n <= 0) return 0;
  // "size resident shared text lib data dt", in pages.
  const char* p = buf.data();
  const char* end = buf.data() + n;
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  auto r = std::from_chars(p, end, size_pages);
  if (r.ec != std::errc() || r.ptr == end || *r.ptr != ' ') return 0;
  r = std::from_chars(r.ptr + 1, end, resident_pages);
  if (r.ec != std::errc()) return 0;
  const long page = ::sysconf(_SC_PAGESIZE);
  return resident_pages * static_cast<uint64_t>(page > 0 ? page : 4096);
}

}  // namespace asioquic::detail
