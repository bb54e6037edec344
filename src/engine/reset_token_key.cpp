#include "engine/reset_token_key.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <nettle/cmac.h>

#include <cstdlib>
#include <string_view>

namespace asioquic::engine {

struct ResetTokenKey::Schedule {
  cmac_aes128_ctx ctx;  // after set_key: the expanded key and CMAC subkeys, empty message state
};

ResetTokenKey::ResetTokenKey(std::span<const uint8_t> secret) {
  // The label keeps this key apart from anything else derived from the same secret (Retry
  // tokens use it directly as ngtcp2's HKDF input).
  static constexpr std::string_view kInfo = "asioquic stateless reset token key";
  gnutls_datum_t ikm{const_cast<unsigned char*>(secret.data()),
                     static_cast<unsigned>(secret.size())};
  gnutls_datum_t salt{nullptr, 0};
  std::array<uint8_t, 32> prk;
  std::array<uint8_t, 16> key;
  gnutls_datum_t prk_datum{prk.data(), static_cast<unsigned>(prk.size())};
  gnutls_datum_t info{reinterpret_cast<unsigned char*>(const_cast<char*>(kInfo.data())),
                      static_cast<unsigned>(kInfo.size())};
  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, prk.data()) < 0 ||
      gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &prk_datum, &info, key.data(), key.size()) < 0) {
    std::abort();
  }
  auto s = std::make_unique<Schedule>();
  cmac_aes128_set_key(&s->ctx, key.data());
  gnutls_memset(prk.data(), 0, prk.size());
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
