#include "engine/secret_kdf.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cstdlib>

namespace asioquic::engine {

void derive_key(std::span<const uint8_t> secret, std::string_view label, std::span<uint8_t> out) {
  gnutls_datum_t ikm{const_cast<unsigned char*>(secret.data()),
                     static_cast<unsigned>(secret.size())};
  gnutls_datum_t salt{nullptr, 0};
  std::array<uint8_t, 32> prk;
  gnutls_datum_t prk_datum{prk.data(), static_cast<unsigned>(prk.size())};
  gnutls_datum_t info{reinterpret_cast<unsigned char*>(const_cast<char*>(label.data())),
                      static_cast<unsigned>(label.size())};
  if (gnutls_hkdf_extract(GNUTLS_MAC_SHA256, &ikm, &salt, prk.data()) < 0 ||
      gnutls_hkdf_expand(GNUTLS_MAC_SHA256, &prk_datum, &info, out.data(), out.size()) < 0) {
    std::abort();
  }
  gnutls_memset(prk.data(), 0, prk.size());
}

std::array<uint8_t, 16> derive_key128(std::span<const uint8_t> secret, std::string_view label) {
  std::array<uint8_t, 16> key;
  derive_key(secret, label, key);
  return key;
}

}  // namespace asioquic::engine
