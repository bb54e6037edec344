// Connection IDs: the value type, a keyed hash for the router's map, and the server's generator.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>

namespace asioquic::quic {

/// A QUIC connection ID: 0-20 bytes (RFC 9000 §17.2).
struct Cid {
  static constexpr size_t kMaxLen = 20;
  uint8_t len = 0;
  std::array<uint8_t, kMaxLen> bytes{};

  Cid() = default;
  Cid(const uint8_t* p, size_t n) : len(static_cast<uint8_t>(n)) {
    if (n) std::memcpy(bytes.data(), p, n);
  }
  std::span<const uint8_t> view() const noexcept { return {bytes.data(), len}; }
  bool operator==(const Cid& o) const noexcept {
    return len == o.len && std::memcmp(bytes.data(), o.bytes.data(), len) == 0;
  }
  std::string hex() const;
};

/// Hash for the router's CID map. Client-chosen CIDs (the original DCID) are attacker-chosen,
/// so the hash is keyed with a per-process random key against collision flooding.
struct CidHash {
  size_t operator()(const Cid& c) const noexcept;
};

/// Layout of the connection IDs a server issues (QUIC-LB style, fixed length):
///   byte 0      config rotation (top 3 bits, 0) | length - 1 (low 5 bits)
///   bytes 1-2   server id (ServerSettings::server_id), big-endian
///   byte 3      shard id: which router (thread) owns the connection
///   bytes 4-15  random
/// A stateless load balancer or a multi-core router steers on bytes 1-3 without state.
class CidGenerator {
 public:
  static constexpr size_t kLength = 16;
  static constexpr size_t kShardByte = 3;

  CidGenerator(uint16_t server_id, uint8_t shard_id) : server_id_(server_id), shard_(shard_id) {}
  /// A fresh server CID with this generator's server and shard ids.
  Cid generate() const;
  /// True if `cid` has our length and carries our server id (a cheap plausibility check).
  bool is_ours(std::span<const uint8_t> cid) const noexcept;
  static uint8_t shard_of(std::span<const uint8_t> cid) noexcept {
    return cid.size() == kLength ? cid[kShardByte] : 0;
  }

 private:
  uint16_t server_id_;
  uint8_t shard_;
};

/// A random CID of `len` bytes (clients' own CIDs and initial DCIDs).
Cid random_cid(size_t len);

}  // namespace asioquic::quic
