// Keys derived from a listener's static secret.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace asioquic::engine {

/// A 128-bit key for one purpose, HKDF-SHA256 (RFC 5869, no salt) of `secret` with `label` as
/// info: keys with different labels are independent even though they share the secret. Aborts
/// if GnuTLS cannot run HKDF-SHA256, which only a broken installation does.
std::array<uint8_t, 16> derive_key128(std::span<const uint8_t> secret, std::string_view label);

}  // namespace asioquic::engine
