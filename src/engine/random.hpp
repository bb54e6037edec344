// Cryptographically secure random bytes, from GnuTLS.
#pragma once

#include <cstdint>
#include <span>

namespace asioquic::engine {

/// Fills `out` with random bytes (GnuTLS's nonce-grade generator: unpredictable, fast, and
/// thread-safe). Aborts if the generator fails, which GnuTLS documents as unrecoverable.
void random_bytes(std::span<uint8_t> out);

}  // namespace asioquic::engine
