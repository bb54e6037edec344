#include "server/sha256.hpp"

#include <gnutls/crypto.h>

#include <array>

#include "common/hex.hpp"

namespace asioquic::tools {

Sha256::Sha256() {
  gnutls_hash_hd_t h = nullptr;
  if (gnutls_hash_init(&h, GNUTLS_DIG_SHA256) == 0) state_ = h;
}

Sha256::~Sha256() {
  if (state_) gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(state_), nullptr);
}

void Sha256::update(std::span<const uint8_t> bytes) {
  if (state_ && !bytes.empty())
    gnutls_hash(static_cast<gnutls_hash_hd_t>(state_), bytes.data(), bytes.size());
}

std::string Sha256::hex_digest() {
  if (!state_) return {};
  std::array<uint8_t, 32> digest{};
  gnutls_hash_deinit(static_cast<gnutls_hash_hd_t>(state_), digest.data());
  state_ = nullptr;
  return encode_hex(digest);
}

}  // namespace asioquic::tools
