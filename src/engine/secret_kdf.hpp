// Keys derived from a listener's static secret.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace asioquic::engine {

/// Fills `out` (at most 8 160 bytes) with key material for one purpose: HKDF-SHA256 (RFC 5869,
/// no salt) of `secret` with `label` as info. Keys with different labels are independent even
/// though they share the secret. Aborts if GnuTLS cannot run HKDF-SHA256, which only a broken
/// installation does.
void derive_key(std::span<const uint8_t> secret, std::string_view label, std::span<uint8_t> out);

/// A 128-bit key from derive_key.
std::array<uint8_t, 16> derive_key128(std::span<const uint8_t> secret, std::string_view label);

}  // namespace asioquic::engine
