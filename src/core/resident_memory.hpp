// The process's resident memory, for admission decisions (ServerSettings::retry_above_memory).
#pragma once

#include <cstdint>

namespace asioquic::detail {

/// Returns the resident set size of this process in bytes, read from /proc/self/statm; 0 if
/// it cannot be read (no procfs). A few system calls: callers sample it, not per packet.
uint64_t resident_memory_bytes() noexcept;

}  // namespace asioquic::detail
