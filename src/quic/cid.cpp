#include "quic/cid.hpp"

#include "engine/random.hpp"

namespace asioquic::quic {
namespace {

struct HashKey {
  uint64_t k0, k1;
  HashKey() {
    std::array<uint8_t, 16> b;
    engine::random_bytes(b);
    std::memcpy(&k0, b.data(), 8);
    std::memcpy(&k1, b.data() + 8, 8);
  }
};

inline uint64_t mix(uint64_t x) noexcept {
  // splitmix64 finaliser: cheap, and with a secret key in the input good enough to keep an
  // attacker from predicting bucket collisions.
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

}  // namespace

std::string Cid::hex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(static_cast<size_t>(len) * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    s[2 * i] = kDigits[bytes[i] >> 4];
    s[2 * i + 1] = kDigits[bytes[i] & 0xf];
  }
  return s;
}

size_t CidHash::operator()(const Cid& c) const noexcept {
  static const HashKey key;
  // The length is mixed in on its own: XORed into the first word's lane, (len, byte 0) pairs
  // with equal XOR would collide whatever the key.
  uint64_t h = mix(key.k0 ^ c.len);
  for (size_t i = 0; i < Cid::kMaxLen; i += 8) {
    uint64_t w = 0;  // bytes past len are zero in every Cid, so they hash consistently
    std::memcpy(&w, c.bytes.data() + i, i + 8 <= Cid::kMaxLen ? 8 : Cid::kMaxLen - i);
    h = mix(h ^ w ^ key.k1);
  }
  return static_cast<size_t>(h);
}

Cid CidGenerator::generate() const {
  Cid c;
  c.len = kLength;
  engine::random_bytes({c.bytes.data() + 4, kLength - 4});
  c.bytes[0] = static_cast<uint8_t>(kLength - 1);
  c.bytes[1] = static_cast<uint8_t>(server_id_ >> 8);
  c.bytes[2] = static_cast<uint8_t>(server_id_);
  c.bytes[kShardByte] = shard_;
  return c;
}

bool CidGenerator::is_ours(std::span<const uint8_t> cid) const noexcept {
  return cid.size() == kLength && cid[0] == kLength - 1 &&
         cid[1] == static_cast<uint8_t>(server_id_ >> 8) &&
         cid[2] == static_cast<uint8_t>(server_id_);
}

Cid random_cid(size_t len) {
  Cid c;
  c.len = static_cast<uint8_t>(len);
  engine::random_bytes({c.bytes.data(), len});
  return c;
}

}  // namespace asioquic::quic
