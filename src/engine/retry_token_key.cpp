#include "engine/retry_token_key.hpp"

#include <gnutls/gnutls.h>
#include <nettle/aes.h>
#include <nettle/gcm.h>
#include <nettle/memops.h>

#include <netinet/in.h>

#include <array>
#include <cstring>

#include "engine/random.hpp"
#include "engine/secret_kdf.hpp"

namespace asioquic::engine {
namespace {

constexpr uint8_t kMagic = 0xb6;
constexpr size_t kNonceLen = 12;
constexpr size_t kTagLen = 16;
constexpr size_t kFixedPlain = 8 + 1;  // issued-at, original DCID length
constexpr size_t kMinLen = 1 + kNonceLen + kFixedPlain + kTagLen;
static_assert(kMaxRetryTokenLen == kMinLen + quic::Cid::kMaxLen, "the header's bound");

void put_u64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8)
    p[i] = static_cast<uint8_t>(v);
}

uint64_t get_u64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i)
    v = (v << 8) | p[i];
  return v;
}

// The associated data: the client's family, port and IP, then the Retry's source CID. Returns
// its length (at most 1 + 2 + 16 + 1 + 20 bytes).
size_t binding(uint8_t* out, const net::Address& client, const quic::Cid& cid) {
  size_t n = 0;
  out[n++] = static_cast<uint8_t>(client.family());
  const uint16_t port = client.port();
  out[n++] = static_cast<uint8_t>(port >> 8);
  out[n++] = static_cast<uint8_t>(port);
  if (client.family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(client.sa());
    std::memcpy(out + n, &a->sin6_addr, 16);
    n += 16;
  } else if (client.family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(client.sa());
    std::memcpy(out + n, &a->sin_addr, 4);
    n += 4;
  }
  out[n++] = cid.len;
  std::memcpy(out + n, cid.bytes.data(), cid.len);
  return n + cid.len;
}

}  // namespace

struct RetryTokenKey::Schedule {
  aes128_ctx aes;  // encryption key schedule
  gcm_key hash;    // GCM's hash subkey tables, from the AES key

  static nettle_cipher_func* cipher() {
    return reinterpret_cast<nettle_cipher_func*>(aes128_encrypt);
  }

  // A GCM pass under `nonce`, its associated data (`client`, `cid`) already taken in.
  gcm_ctx begin(const uint8_t* nonce, const net::Address& client, const quic::Cid& cid) const {
    std::array<uint8_t, 40> ad;
    const size_t ad_len = binding(ad.data(), client, cid);
    gcm_ctx ctx;
    gcm_set_iv(&ctx, &hash, kNonceLen, nonce);
    gcm_update(&ctx, &hash, ad_len, ad.data());
    return ctx;
  }
};

bool is_retry_token(std::span<const uint8_t> token) noexcept {
  return !token.empty() && token[0] == kMagic;
}

RetryTokenKey::RetryTokenKey(std::span<const uint8_t> secret) {
  auto key = derive_key128(secret, "asioquic retry token key");
  auto s = std::make_unique<Schedule>();
  aes128_set_encrypt_key(&s->aes, key.data());
  gcm_set_key(&s->hash, &s->aes, Schedule::cipher());
  gnutls_memset(key.data(), 0, key.size());
  schedule_ = std::move(s);
  // Both parts random: keys made from one secret (other threads, processes, restarts) would
  // need the same prefix and overlapping counter ranges to repeat a nonce.
  uint64_t start = 0;
  random_bytes({reinterpret_cast<uint8_t*>(&nonce_prefix_), sizeof nonce_prefix_});
  random_bytes({reinterpret_cast<uint8_t*>(&start), sizeof start});
  nonce_counter_.store(start, std::memory_order_relaxed);
}

RetryTokenKey::~RetryTokenKey() = default;

size_t RetryTokenKey::make(std::span<uint8_t> out, const net::Address& client,
                           const quic::Cid& retry_scid, const quic::Cid& odcid,
                           uint64_t ts) noexcept {
  if (out.size() < kMaxRetryTokenLen) return 0;
  uint8_t* p = out.data();
  p[0] = kMagic;
  uint8_t* nonce = p + 1;
  std::memcpy(nonce, &nonce_prefix_, 4);
  put_u64(nonce + 4, nonce_counter_.fetch_add(1, std::memory_order_relaxed));

  std::array<uint8_t, kFixedPlain + quic::Cid::kMaxLen> plain;
  put_u64(plain.data(), ts);
  plain[8] = odcid.len;
  std::memcpy(plain.data() + kFixedPlain, odcid.bytes.data(), odcid.len);
  const size_t plain_len = kFixedPlain + odcid.len;

  const Schedule& k = *schedule_;
  gcm_ctx ctx = k.begin(nonce, client, retry_scid);
  uint8_t* sealed = nonce + kNonceLen;
  gcm_encrypt(&ctx, &k.hash, &k.aes, Schedule::cipher(), plain_len, sealed, plain.data());
  gcm_digest(&ctx, &k.hash, &k.aes, Schedule::cipher(), kTagLen, sealed + plain_len);
  return 1 + kNonceLen + plain_len + kTagLen;
}

bool RetryTokenKey::verify(std::span<const uint8_t> token, const net::Address& client,
                           const quic::Cid& dcid, uint64_t lifetime_ns, uint64_t ts,
                           quic::Cid& odcid) const noexcept {
  if (token.size() < kMinLen || token.size() > kMaxRetryTokenLen || !is_retry_token(token)) {
    return false;
  }
  const uint8_t* nonce = token.data() + 1;
  const uint8_t* sealed = nonce + kNonceLen;
  const size_t plain_len = token.size() - kMinLen + kFixedPlain;

  const Schedule& k = *schedule_;
  std::array<uint8_t, kFixedPlain + quic::Cid::kMaxLen> plain;
  std::array<uint8_t, kTagLen> tag;
  gcm_ctx ctx = k.begin(nonce, client, dcid);
  gcm_decrypt(&ctx, &k.hash, &k.aes, Schedule::cipher(), plain_len, plain.data(), sealed);
  gcm_digest(&ctx, &k.hash, &k.aes, Schedule::cipher(), kTagLen, tag.data());
  if (!memeql_sec(tag.data(), sealed + plain_len, kTagLen)) return false;

  // Authentic from here on: the fields are ours.
  const uint64_t issued = get_u64(plain.data());
  const size_t cid_len = plain[8];
  if (cid_len != plain_len - kFixedPlain) return false;
  // A later `issued` is another thread's clock reading taken after this datagram arrived.
  if (ts >= issued && ts - issued >= lifetime_ns) return false;
  odcid = quic::Cid(plain.data() + kFixedPlain, cid_len);
  return true;
}

}  // namespace asioquic::engine
