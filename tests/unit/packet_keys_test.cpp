// The packet protection key schedule: RFC 9001's published vectors, and the same derivations
// through ngtcp2_crypto's own HKDF (GnuTLS) for what the RFC leaves out. The v2 draft's salt has
// no published vector; the interop suite's gtlsclient -v v2draft case checks it end to end.
#include "engine/packet_keys.hpp"

#include <gnutls/crypto.h>
#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::engine {
namespace {

std::vector<uint8_t> unhex(std::string_view hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::vector<uint8_t> head(std::span<const uint8_t> bytes, size_t n) {
  return {bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n)};
}

// ngtcp2_crypto's HKDF-Expand-Label, the reference the schedule replaces.
std::vector<uint8_t> reference_label(gnutls_digest_algorithm_t md_id,
                                     std::span<const uint8_t> secret, std::string_view label,
                                     size_t len) {
  ngtcp2_crypto_md md;
  md.native_handle = reinterpret_cast<void*>(static_cast<intptr_t>(md_id));
  std::vector<uint8_t> out(len);
  EXPECT_EQ(
      ngtcp2_crypto_hkdf_expand_label(out.data(), len, &md, secret.data(), secret.size(),
                                      reinterpret_cast<const uint8_t*>(label.data()), label.size()),
      0);
  return out;
}

std::vector<uint8_t> random_bytes(size_t n) {
  std::vector<uint8_t> out(n);
  EXPECT_EQ(gnutls_rnd(GNUTLS_RND_NONCE, out.data(), n), 0);
  return out;
}

// RFC 9001 Appendix A.1.
TEST(PacketKeys, InitialKeysOfRfc9001) {
  const auto dcid = unhex("8394c8f03e515708");
  InitialSecrets s;
  derive_initial_secrets(s, NGTCP2_PROTO_VER_V1, dcid);
  EXPECT_EQ(head(s.client, 32),
            unhex("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea"));
  EXPECT_EQ(head(s.server, 32),
            unhex("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b"));

  PacketKeys c, sv;
  derive_packet_keys(c, NGTCP2_PROTO_VER_V1, SuiteHash::sha256, 16, s.client, true);
  derive_packet_keys(sv, NGTCP2_PROTO_VER_V1, SuiteHash::sha256, 16, s.server, true);
  EXPECT_EQ(head(c.key, 16), unhex("1f369613dd76d5467730efcbe3b1a22d"));
  EXPECT_EQ(head(c.iv, 12), unhex("fa044b2f42a3fd3b46fb255c"));
  EXPECT_EQ(head(c.hp, 16), unhex("9f50449e04a0e810283a1e9933adedd2"));
  EXPECT_EQ(head(sv.key, 16), unhex("cf3a5331653c364c88f0f379b6067e37"));
  EXPECT_EQ(head(sv.iv, 12), unhex("0ac1493ca1905853b0bba03e"));
  EXPECT_EQ(head(sv.hp, 16), unhex("c206b8d9b9f0f37644430b490eeaa314"));
}

// RFC 9001 Appendix A.5: ChaCha20-Poly1305 (32-byte keys) and the key update secret.
TEST(PacketKeys, ChaChaKeysAndKeyUpdateOfRfc9001) {
  const auto secret = unhex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
  PacketKeys k;
  derive_packet_keys(k, NGTCP2_PROTO_VER_V1, SuiteHash::sha256, 32, secret, true);
  EXPECT_EQ(head(k.key, 32),
            unhex("c6d98ff3441c3fe1b2182094f69caa2ed4b716b65488960a7a984979fb23e1c8"));
  EXPECT_EQ(head(k.iv, 12), unhex("e0459b3474bdd0e44a41c144"));
  EXPECT_EQ(head(k.hp, 32),
            unhex("25a282b9e82f06f21f488917a4fc8f1b73573685608597d0efcb076b0ab7a7a4"));
  std::vector<uint8_t> next(secret.size());
  derive_next_secret(next, SuiteHash::sha256, secret);
  EXPECT_EQ(next, unhex("1223504755036d556342ee9361d253421a826c9ecdf3c7148684b36b714881f9"));
}

// Keys of a random secret against ngtcp2_crypto: "<prefix>key", "iv", "hp", and "quic ku" for
// the next secret (the v2 draft keeps it, as ngtcp2 0.12 derives it).
void expect_like_ngtcp2_crypto(uint32_t version, SuiteHash hash, size_t key_len,
                               std::string_view prefix) {
  const auto md = hash == SuiteHash::sha384 ? GNUTLS_DIG_SHA384 : GNUTLS_DIG_SHA256;
  const size_t secret_len = hash == SuiteHash::sha384 ? 48 : 32;
  const auto secret = random_bytes(secret_len);
  const std::string p(prefix);
  PacketKeys k;
  derive_packet_keys(k, version, hash, key_len, secret, true);
  EXPECT_EQ(head(k.key, key_len), reference_label(md, secret, p + "key", key_len));
  EXPECT_EQ(head(k.iv, 12), reference_label(md, secret, p + "iv", 12));
  EXPECT_EQ(head(k.hp, key_len), reference_label(md, secret, p + "hp", key_len));
  std::vector<uint8_t> next(secret_len);
  derive_next_secret(next, hash, secret);
  EXPECT_EQ(next, reference_label(md, secret, "quic ku", secret_len));
}

// SHA-384 (TLS_AES_256_GCM_SHA384) has no published QUIC vector.
TEST(PacketKeys, Sha384MatchesNgtcp2Crypto) {
  for (int round = 0; round < 8; ++round)
    expect_like_ngtcp2_crypto(NGTCP2_PROTO_VER_V1, SuiteHash::sha384, 32, "quic ");
}

TEST(PacketKeys, V2DraftLabelsMatchNgtcp2Crypto) {
  expect_like_ngtcp2_crypto(NGTCP2_PROTO_VER_V2_DRAFT, SuiteHash::sha256, 16, "quicv2 ");
}

// A key update leaves the header protection key alone (RFC 9001 §6.1): not derived, not written.
TEST(PacketKeys, HeaderProtectionKeyOnlyWhenAskedFor) {
  const auto secret = random_bytes(32);
  PacketKeys k;
  k.hp.fill(0x5a);
  derive_packet_keys(k, NGTCP2_PROTO_VER_V1, SuiteHash::sha256, 16, secret, false);
  for (uint8_t b : k.hp)
    EXPECT_EQ(b, 0x5a);
  EXPECT_EQ(head(k.key, 16), reference_label(GNUTLS_DIG_SHA256, secret, "quic key", 16));
}

// Initial secrets of connection IDs of every length the client may choose (RFC 9000 §7.2: at
// least 8 bytes from a client, but 0–20 on the wire), against ngtcp2_crypto's HKDF.
TEST(PacketKeys, InitialSecretsForEveryCidLength) {
  const auto salt = unhex("38762cf7f55934b34d179ae6a4c80cadccbb7f0a");
  ngtcp2_crypto_md md;
  md.native_handle = reinterpret_cast<void*>(static_cast<intptr_t>(GNUTLS_DIG_SHA256));
  for (size_t len = 0; len <= 20; ++len) {
    const auto dcid = random_bytes(len);
    uint8_t initial[32];
    ASSERT_EQ(ngtcp2_crypto_hkdf_extract(initial, &md, dcid.data(), dcid.size(), salt.data(),
                                         salt.size()),
              0);
    InitialSecrets s;
    derive_initial_secrets(s, NGTCP2_PROTO_VER_V1, dcid);
    EXPECT_EQ(head(s.client, 32), reference_label(GNUTLS_DIG_SHA256, initial, "client in", 32))
        << len;
    EXPECT_EQ(head(s.server, 32), reference_label(GNUTLS_DIG_SHA256, initial, "server in", 32))
        << len;
  }
}

}  // namespace
}  // namespace asioquic::engine
