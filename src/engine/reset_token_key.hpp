// The key a server derives its stateless reset tokens with.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

namespace asioquic::engine {

constexpr size_t kStatelessResetTokenLen = 16;
using ResetToken = std::array<uint8_t, kStatelessResetTokenLen>;

/// Stateless reset tokens (RFC 9000 §10.3.2) as AES-CMAC (RFC 4493) of the connection ID, under
/// a 128-bit key derived once from the listener's static secret with HKDF-SHA256. Any process
/// with the same secret makes the same tokens, so a restarted server can still reset the
/// connections of its predecessor. A token costs two AES blocks; the per-token HKDF it replaces
/// (ngtcp2_crypto_generate_stateless_reset_token) cost ~40k instructions, seven times per
/// handshake.
///
/// Immutable after construction: token() may be called from any thread at once.
class ResetTokenKey {
 public:
  /// Derives the key from `secret` (any length; 32 random bytes in practice). Aborts if GnuTLS
  /// cannot run HKDF-SHA256, which only a broken installation does.
  explicit ResetTokenKey(std::span<const uint8_t> secret);
  ~ResetTokenKey();
  ResetTokenKey(const ResetTokenKey&) = delete;
  ResetTokenKey& operator=(const ResetTokenKey&) = delete;

  /// The token of connection ID `cid` (0-20 bytes). Never fails.
  ResetToken token(std::span<const uint8_t> cid) const noexcept;

 private:
  struct Schedule;  // nettle's CMAC-AES128 context, kept out of this header
  std::unique_ptr<const Schedule> schedule_;
};

}  // namespace asioquic::engine
