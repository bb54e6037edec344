#include "engine/reset_token_key.hpp"

#include <gnutls/gnutls.h>
#include <nettle/cmac.h>

#include "engine/secret_kdf.hpp"

namespace asioquic::engine {

struct ResetTokenKey::Schedule {
  cmac_aes128_ctx ctx;  // after set_key: the expanded key and CMAC subkeys, empty message state
};

ResetTokenKey::ResetTokenKey(std::span<const uint8_t> secret) {
  auto key = derive_key128(secret, "asioquic stateless reset token key");
  auto s = std::make_unique<Schedule>();
  cmac_aes128_set_key(&s->ctx, key.data());
  gnutls_memset(key.data(), 0, key.size());
  schedule_ = std::move(s);
}

ResetTokenKey::~ResetTokenKey() = default;

ResetToken ResetTokenKey::token(std::span<const uint8_t> cid) const noexcept {
  // nettle's CMAC keeps the message state in its context: work on a copy so that concurrent
  // callers share only the read-only key.
  cmac_aes128_ctx ctx = schedule_->ctx;
  ResetToken out;
  cmac_aes128_update(&ctx, cid.size(), cid.data());
  cmac_aes128_digest(&ctx, out.size(), out.data());
  return out;
}

}  // namespace asioquic::engine
