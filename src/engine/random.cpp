#include "engine/random.hpp"

#include <gnutls/crypto.h>

#include <cstdlib>

namespace asioquic::engine {

void random_bytes(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (gnutls_rnd(GNUTLS_RND_NONCE, out.data(), out.size()) != 0) std::abort();
}

}  // namespace asioquic::engine
