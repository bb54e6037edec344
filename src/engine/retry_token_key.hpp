// The key a server makes and checks its Retry tokens with.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>

#include "net/udp_socket.hpp"
#include "quic/cid.hpp"

namespace asioquic::engine {

/// Largest Retry token this library produces (and the buffer make() needs).
constexpr size_t kMaxRetryTokenLen = 1 + 12 + 8 + 1 + quic::Cid::kMaxLen + 16;

/// True if `token` looks like one of our Retry tokens (first byte); other tokens (e.g. from a
/// NEW_TOKEN of another server) are ignored rather than treated as forged.
bool is_retry_token(std::span<const uint8_t> token) noexcept;

/// Retry tokens (RFC 9000 §8.1.2), AES-128-GCM under a key derived once from the listener's
/// static secret (HKDF-SHA256, its own label): any process with the same secret accepts the
/// tokens of another. A token is
///
///   0xb6 | nonce (12) | sealed(issued-at ns (8) | DCID length (1) | DCID) | tag (16)
///
/// where DCID is the client's original one, with the client's address (family, port, IP) and the
/// Retry's source CID as associated data, so it is good only from that address and in an Initial
/// sent to that CID. Nonces are a random 32-bit prefix chosen per key and a 64-bit counter from a
/// random start, never repeated by one key (and, between keys of one secret, only if both random
/// parts collide). ngtcp2's helper ran an HKDF per token on each side (~70k instructions each);
/// this is two AES-GCM passes over a few dozen bytes.
///
/// Thread-safe: make() and verify() may be called from any thread at once.
class RetryTokenKey {
 public:
  /// Derives the key from `secret` (any length; 32 random bytes in practice). Aborts if GnuTLS
  /// cannot run HKDF-SHA256, which only a broken installation does.
  explicit RetryTokenKey(std::span<const uint8_t> secret);
  ~RetryTokenKey();
  RetryTokenKey(const RetryTokenKey&) = delete;
  RetryTokenKey& operator=(const RetryTokenKey&) = delete;

  /// Writes a token for `client`, answered by a Retry from `retry_scid`, of the connection the
  /// client began with `odcid`, issued at `ts` (ns). Returns its length; 0 if `out` is shorter
  /// than kMaxRetryTokenLen.
  size_t make(std::span<uint8_t> out, const net::Address& client, const quic::Cid& retry_scid,
              const quic::Cid& odcid, uint64_t ts) noexcept;

  /// Checks a token from an Initial that `client` sent to `dcid` (the retry_scid we chose) at
  /// `ts`. Returns false if it is forged, tampered, malformed, for another client address or CID,
  /// or `lifetime_ns` or more old; on success `odcid` is the client's original DCID.
  bool verify(std::span<const uint8_t> token, const net::Address& client, const quic::Cid& dcid,
              uint64_t lifetime_ns, uint64_t ts, quic::Cid& odcid) const noexcept;

 private:
  struct Schedule;  // nettle's AES key schedule and GCM hash key, kept out of this header
  std::unique_ptr<const Schedule> schedule_;
  uint32_t nonce_prefix_ = 0;
  std::atomic<uint64_t> nonce_counter_{0};
};

}  // namespace asioquic::engine
