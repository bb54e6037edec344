#include "engine/packet_keys.hpp"

#include <gnutls/crypto.h>
#include <nettle/hkdf.h>
#include <nettle/hmac.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <cstdlib>
#include <cstring>
#include <string_view>

namespace asioquic::engine {
namespace {

// RFC 9001 §5.2; the v2 draft's (0x709a50c4, which ngtcp2 0.12 speaks; RFC 9369 later changed
// the salt); the drafts' before v1.
constexpr uint8_t kSaltV1[] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                               0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2Draft[] = {0xa7, 0x07, 0xc2, 0x03, 0xa5, 0x9b, 0x47, 0x18, 0x4a, 0x1d,
                                    0x62, 0xca, 0x57, 0x04, 0x06, 0xea, 0x7a, 0xe3, 0xe5, 0xd3};
constexpr uint8_t kSaltDraft[] = {0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97,
                                  0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99};
constexpr size_t kInitialKeyLen = 16;

// An HMAC keyed once with a secret (HKDF's PRK), expanded under several labels.
class KeyedHmac {
 public:
  KeyedHmac(SuiteHash hash, std::span<const uint8_t> key) : hash_(hash) {
    if (hash_ == SuiteHash::sha256) {
      hmac_sha256_set_key(&ctx_.sha256, key.size(), key.data());
    } else {
      hmac_sha384_set_key(&ctx_.sha384, key.size(), key.data());
    }
  }
  ~KeyedHmac() { gnutls_memset(&ctx_, 0, sizeof ctx_); }
  KeyedHmac(const KeyedHmac&) = delete;
  KeyedHmac& operator=(const KeyedHmac&) = delete;

  // HMAC of `data` into `out` (the hash's size): HKDF-Extract when keyed with the salt.
  void mac(std::span<const uint8_t> data, uint8_t* out) {
    if (hash_ == SuiteHash::sha256) {
      hmac_sha256_update(&ctx_.sha256, data.size(), data.data());
      hmac_sha256_digest(&ctx_.sha256, SHA256_DIGEST_SIZE, out);
    } else {
      hmac_sha384_update(&ctx_.sha384, data.size(), data.data());
      hmac_sha384_digest(&ctx_.sha384, SHA384_DIGEST_SIZE, out);
    }
  }

  // HKDF-Expand-Label (RFC 8446 §7.1) with an empty context. nettle's digest leaves the HMAC
  // keyed, so the next label reuses it.
  void expand_label(std::span<uint8_t> out, std::string_view label) {
    static constexpr std::string_view kPrefix = "tls13 ";
    std::array<uint8_t, 2 + 1 + kPrefix.size() + 16 + 1> info;
    if (out.size() > 255 || label.size() > 16) std::abort();  // only our constants come here
    size_t n = 0;
    info[n++] = 0;
    info[n++] = static_cast<uint8_t>(out.size());
    info[n++] = static_cast<uint8_t>(kPrefix.size() + label.size());
    std::memcpy(&info[n], kPrefix.data(), kPrefix.size());
    n += kPrefix.size();
    std::memcpy(&info[n], label.data(), label.size());
    n += label.size();
    info[n++] = 0;
    if (hash_ == SuiteHash::sha256) {
      hkdf_expand(&ctx_.sha256, &update<hmac_sha256_ctx, hmac_sha256_update>,
                  &digest<hmac_sha256_ctx, hmac_sha256_digest>, SHA256_DIGEST_SIZE, n, info.data(),
                  out.size(), out.data());
    } else {
      hkdf_expand(&ctx_.sha384, &update<hmac_sha512_ctx, hmac_sha384_update>,
                  &digest<hmac_sha512_ctx, hmac_sha384_digest>, SHA384_DIGEST_SIZE, n, info.data(),
                  out.size(), out.data());
    }
  }

 private:
  // nettle's HKDF takes untyped hash functions; these adapt the typed HMAC ones without a
  // function-pointer cast.
  template <typename Ctx, void (*F)(Ctx*, size_t, const uint8_t*)>
  static void update(void* ctx, size_t len, const uint8_t* data) {
    F(static_cast<Ctx*>(ctx), len, data);
  }
  template <typename Ctx, void (*F)(Ctx*, size_t, uint8_t*)>
  static void digest(void* ctx, size_t len, uint8_t* out) {
    F(static_cast<Ctx*>(ctx), len, out);
  }

  SuiteHash hash_;
  union {
    hmac_sha256_ctx sha256;
    hmac_sha512_ctx sha384;
  } ctx_;
};

struct Labels {
  std::string_view key, iv, hp;
};

Labels labels_of(uint32_t version) {
  if (version == NGTCP2_PROTO_VER_V2_DRAFT) return {"quicv2 key", "quicv2 iv", "quicv2 hp"};
  return {"quic key", "quic iv", "quic hp"};
}

// ngtcp2_crypto's GnuTLS code stores GnuTLS algorithm ids in the native handles.
template <typename T>
void* handle(T algorithm) {
  return reinterpret_cast<void*>(static_cast<intptr_t>(algorithm));
}

// The hash and key length of a negotiated suite; false for one this schedule cannot serve.
bool suite_of(const ngtcp2_crypto_ctx& ctx, SuiteHash& hash, size_t& key_len) {
  switch (
      static_cast<gnutls_digest_algorithm_t>(reinterpret_cast<intptr_t>(ctx.md.native_handle))) {
    case GNUTLS_DIG_SHA256:
      hash = SuiteHash::sha256;
      break;
    case GNUTLS_DIG_SHA384:
      hash = SuiteHash::sha384;
      break;
    default:
      return false;
  }
  key_len = ngtcp2_crypto_aead_keylen(&ctx.aead);
  return key_len <= kMaxPacketKeyLen &&
         ngtcp2_crypto_packet_protection_ivlen(&ctx.aead) == kPacketIvLen;
}

TlsConnRef& conn_ref_of(gnutls_session_t session) {
  // The pointer is to the TlsConnRef's first member, which points to the whole.
  return *reinterpret_cast<TlsConnRef*>(gnutls_session_get_ptr(session));
}

// The Initial packets' suite (AES-128-GCM, SHA-256, AES-128 header protection) in that
// convention; ngtcp2_crypto builds it with a function it does not export.
ngtcp2_crypto_ctx initial_crypto_ctx() {
  ngtcp2_crypto_ctx ctx{};
  ctx.aead.native_handle = handle(GNUTLS_CIPHER_AES_128_GCM);
  ctx.aead.max_overhead = gnutls_cipher_get_tag_size(GNUTLS_CIPHER_AES_128_GCM);
  ctx.md.native_handle = handle(GNUTLS_DIG_SHA256);
  ctx.hp.native_handle = handle(GNUTLS_CIPHER_AES_128_CBC);
  return ctx;
}

// Secrets and keys on the stack, wiped when they go out of scope.
template <typename T>
struct Wiped : T {
  Wiped() : T{} {}
  Wiped(const Wiped&) = delete;
  Wiped& operator=(const Wiped&) = delete;
  ~Wiped() { gnutls_memset(static_cast<T*>(this), 0, sizeof(T)); }
};

// One direction's AEAD and header-protection contexts, freed unless handed to the engine.
struct DirectionContexts {
  ngtcp2_crypto_aead_ctx aead{};
  ngtcp2_crypto_cipher_ctx hp{};

  DirectionContexts() = default;
  DirectionContexts(const DirectionContexts&) = delete;
  DirectionContexts& operator=(const DirectionContexts&) = delete;
  ~DirectionContexts() {
    if (hp.native_handle) gnutls_cipher_deinit(static_cast<gnutls_cipher_hd_t>(hp.native_handle));
    ngtcp2_crypto_aead_ctx_free(&aead);
  }

  // Creates both from `keys`: a decrypting AEAD for receiving, an encrypting one for sending.
  // ngtcp2_crypto 0.12 does not export its header-protection constructor; its hp_mask and
  // delete_crypto_cipher_ctx callbacks expect a GnuTLS cipher handle, made here.
  bool init(const ngtcp2_crypto_ctx& ctx, const PacketKeys& keys, bool receive) {
    const int rv =
        receive
            ? ngtcp2_crypto_aead_ctx_decrypt_init(&aead, &ctx.aead, keys.key.data(), kPacketIvLen)
            : ngtcp2_crypto_aead_ctx_encrypt_init(&aead, &ctx.aead, keys.key.data(), kPacketIvLen);
    if (rv != 0) return false;
    const auto cipher =
        static_cast<gnutls_cipher_algorithm_t>(reinterpret_cast<intptr_t>(ctx.hp.native_handle));
    gnutls_datum_t key{const_cast<uint8_t*>(keys.hp.data()),
                       static_cast<unsigned>(gnutls_cipher_get_key_size(cipher))};
    if (key.size == 0 || key.size > keys.hp.size()) return false;
    gnutls_cipher_hd_t hd;
    if (gnutls_cipher_init(&hd, cipher, &key, nullptr) != 0) return false;
    hp.native_handle = hd;
    return true;
  }
  // The engine took ownership.
  void release() {
    aead = {};
    hp = {};
  }
};

// Initial keys of `client_dcid` for `version`, installed as the connection's Initial keys or,
// with `vneg`, as the keys of the version compatible negotiation chose. A client that has not
// seen a Retry also gets the Retry integrity AEAD.
bool install_initial_keys(ngtcp2_conn* conn, uint32_t version, const ngtcp2_cid& client_dcid,
                          bool vneg) {
  const bool server = ngtcp2_conn_is_server(conn) != 0;
  const ngtcp2_crypto_ctx ctx =
      vneg ? *ngtcp2_conn_get_initial_crypto_ctx(conn) : initial_crypto_ctx();
  if (!vneg) ngtcp2_conn_set_initial_crypto_ctx(conn, &ctx);
  Wiped<InitialSecrets> secrets;
  derive_initial_secrets(secrets, version, {client_dcid.data, client_dcid.datalen});
  Wiped<PacketKeys> rx, tx;
  derive_packet_keys(rx, version, SuiteHash::sha256, kInitialKeyLen,
                     server ? secrets.client : secrets.server, true);
  derive_packet_keys(tx, version, SuiteHash::sha256, kInitialKeyLen,
                     server ? secrets.server : secrets.client, true);
  DirectionContexts rxc, txc;
  if (!rxc.init(ctx, rx, true) || !txc.init(ctx, tx, false)) {
    return false;
  }

  ngtcp2_crypto_aead retry_aead{};
  ngtcp2_crypto_aead_ctx retry_ctx{};
  if (!vneg && !server && !ngtcp2_conn_after_retry(conn)) {
    retry_aead = ctx.aead;
    const uint8_t* key = reinterpret_cast<const uint8_t*>(NGTCP2_RETRY_KEY_DRAFT);
    size_t noncelen = sizeof(NGTCP2_RETRY_NONCE_DRAFT) - 1;
    if (version == NGTCP2_PROTO_VER_V1) {
      key = reinterpret_cast<const uint8_t*>(NGTCP2_RETRY_KEY_V1);
      noncelen = sizeof(NGTCP2_RETRY_NONCE_V1) - 1;
    } else if (version == NGTCP2_PROTO_VER_V2_DRAFT) {
      key = reinterpret_cast<const uint8_t*>(NGTCP2_RETRY_KEY_V2_DRAFT);
      noncelen = sizeof(NGTCP2_RETRY_NONCE_V2_DRAFT) - 1;
    }
    if (ngtcp2_crypto_aead_ctx_encrypt_init(&retry_ctx, &retry_aead, key, noncelen) != 0) {
      return false;
    }
  }

  const int rv =
      vneg ? ngtcp2_conn_install_vneg_initial_key(conn, version, &rxc.aead, rx.iv.data(), &rxc.hp,
                                                  &txc.aead, tx.iv.data(), &txc.hp, kPacketIvLen)
           : ngtcp2_conn_install_initial_key(conn, &rxc.aead, rx.iv.data(), &rxc.hp, &txc.aead,
                                             tx.iv.data(), &txc.hp, kPacketIvLen);
  if (rv != 0) {
    ngtcp2_crypto_aead_ctx_free(&retry_ctx);
    return false;
  }
  rxc.release();
  txc.release();
  if (retry_ctx.native_handle) ngtcp2_conn_set_retry_aead(conn, &retry_aead, &retry_ctx);
  return true;
}

// The keys of one direction of a TLS secret: 0-RTT, Handshake or 1-RTT.
bool install_tls_key(TlsConnRef& ref, ngtcp2_conn* conn, gnutls_session_t session,
                     ngtcp2_crypto_level level, bool receive, std::span<const uint8_t> secret) {
  bool& app_installed = receive ? ref.app_rx_installed : ref.app_tx_installed;
  if (level == NGTCP2_CRYPTO_LEVEL_APPLICATION && app_installed) {
    ngtcp2_conn_set_tls_alert(conn, kTlsAlertUnexpectedMessage);
    ref.alert_chosen = true;
    return false;
  }
  const bool server = ngtcp2_conn_is_server(conn) != 0;
  const ngtcp2_crypto_ctx* ctx;
  uint32_t version;
  if (level == NGTCP2_CRYPTO_LEVEL_EARLY) {
    if (receive != server) return true;  // servers read 0-RTT, clients write it
    ngtcp2_crypto_ctx early;
    ngtcp2_crypto_ctx_tls_early(&early, session);
    ngtcp2_conn_set_early_crypto_ctx(conn, &early);
    ctx = ngtcp2_conn_get_early_crypto_ctx(conn);
    version = ngtcp2_conn_get_client_chosen_version(conn);
  } else {
    ctx = ngtcp2_conn_get_crypto_ctx(conn);
    version = ngtcp2_conn_get_negotiated_version(conn);
    if (!ctx->aead.native_handle) {
      ngtcp2_crypto_ctx negotiated;
      ngtcp2_crypto_ctx_tls(&negotiated, session);
      ngtcp2_conn_set_crypto_ctx(conn, &negotiated);
      ctx = ngtcp2_conn_get_crypto_ctx(conn);
    }
  }
  SuiteHash hash;
  size_t key_len;
  if (!suite_of(*ctx, hash, key_len)) return false;
  Wiped<PacketKeys> keys;
  derive_packet_keys(keys, version, hash, key_len, secret, true);
  DirectionContexts c;
  if (!c.init(*ctx, keys, receive)) return false;

  const uint8_t* iv = keys.iv.data();
  int rv = -1;
  switch (level) {
    case NGTCP2_CRYPTO_LEVEL_EARLY:
      rv = ngtcp2_conn_install_early_key(conn, &c.aead, iv, kPacketIvLen, &c.hp);
      break;
    case NGTCP2_CRYPTO_LEVEL_HANDSHAKE:
      rv = receive ? ngtcp2_conn_install_rx_handshake_key(conn, &c.aead, iv, kPacketIvLen, &c.hp)
                   : ngtcp2_conn_install_tx_handshake_key(conn, &c.aead, iv, kPacketIvLen, &c.hp);
      break;
    case NGTCP2_CRYPTO_LEVEL_APPLICATION:
      // The engine keeps the secret for key updates.
      rv = receive ? ngtcp2_conn_install_rx_key(conn, secret.data(), secret.size(), &c.aead, iv,
                                                kPacketIvLen, &c.hp)
                   : ngtcp2_conn_install_tx_key(conn, secret.data(), secret.size(), &c.aead, iv,
                                                kPacketIvLen, &c.hp);
      break;
    default:
      break;
  }
  if (rv != 0) return false;
  c.release();
  if (level == NGTCP2_CRYPTO_LEVEL_APPLICATION) app_installed = true;
  if (level == NGTCP2_CRYPTO_LEVEL_EARLY && receive) ref.early_rx_installed = true;
  return true;
}

}  // namespace

void derive_initial_secrets(InitialSecrets& out, uint32_t version,
                            std::span<const uint8_t> client_dcid) {
  std::span<const uint8_t> salt = kSaltDraft;
  if (version == NGTCP2_PROTO_VER_V1) {
    salt = kSaltV1;
  } else if (version == NGTCP2_PROTO_VER_V2_DRAFT) {
    salt = kSaltV2Draft;
  }
  Wiped<std::array<uint8_t, kInitialSecretLen>> initial;
  KeyedHmac(SuiteHash::sha256, salt).mac(client_dcid, initial.data());
  KeyedHmac prk(SuiteHash::sha256, initial);
  prk.expand_label(out.client, "client in");
  prk.expand_label(out.server, "server in");
}

void derive_packet_keys(PacketKeys& out, uint32_t version, SuiteHash hash, size_t key_len,
                        std::span<const uint8_t> secret, bool with_hp) {
  if (key_len > kMaxPacketKeyLen) std::abort();
  const Labels labels = labels_of(version);
  KeyedHmac prk(hash, secret);
  prk.expand_label({out.key.data(), key_len}, labels.key);
  prk.expand_label(out.iv, labels.iv);
  if (with_hp) prk.expand_label({out.hp.data(), key_len}, labels.hp);
}

void derive_next_secret(std::span<uint8_t> next, SuiteHash hash, std::span<const uint8_t> secret) {
  // "quic ku" for the v2 draft too, as ngtcp2 0.12 derives it (RFC 9369 later made it
  // "quicv2 ku"): the draft's peers are ngtcp2 0.12's.
  KeyedHmac(hash, secret).expand_label(next, "quic ku");
}

int on_recv_client_initial(ngtcp2_conn* conn, const ngtcp2_cid* dcid, void*) {
  return install_initial_keys(conn, ngtcp2_conn_get_client_chosen_version(conn), *dcid, false)
             ? 0
             : NGTCP2_ERR_CALLBACK_FAILURE;
}

int on_client_initial(ngtcp2_conn* conn, void*) {
  if (!install_initial_keys(conn, ngtcp2_conn_get_client_chosen_version(conn),
                            *ngtcp2_conn_get_dcid(conn), false) ||
      ngtcp2_crypto_read_write_crypto_data(conn, NGTCP2_CRYPTO_LEVEL_INITIAL, nullptr, 0) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int on_recv_retry(ngtcp2_conn* conn, const ngtcp2_pkt_hd* hd, void*) {
  return install_initial_keys(conn, ngtcp2_conn_get_client_chosen_version(conn), hd->scid, false)
             ? 0
             : NGTCP2_ERR_CALLBACK_FAILURE;
}

int on_version_negotiation(ngtcp2_conn* conn, uint32_t version, const ngtcp2_cid* client_dcid,
                           void*) {
  return install_initial_keys(conn, version, *client_dcid, true) ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
}

int on_update_key(ngtcp2_conn* conn, uint8_t* rx_secret, uint8_t* tx_secret,
                  ngtcp2_crypto_aead_ctx* rx_aead_ctx, uint8_t* rx_iv,
                  ngtcp2_crypto_aead_ctx* tx_aead_ctx, uint8_t* tx_iv,
                  const uint8_t* current_rx_secret, const uint8_t* current_tx_secret,
                  size_t secretlen, void*) {
  const ngtcp2_crypto_ctx* ctx = ngtcp2_conn_get_crypto_ctx(conn);
  const uint32_t version = ngtcp2_conn_get_negotiated_version(conn);
  SuiteHash hash;
  size_t key_len;
  if (!suite_of(*ctx, hash, key_len) || secretlen > kMaxTrafficSecretLen) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  derive_next_secret({rx_secret, secretlen}, hash, {current_rx_secret, secretlen});
  derive_next_secret({tx_secret, secretlen}, hash, {current_tx_secret, secretlen});
  Wiped<PacketKeys> rx, tx;
  derive_packet_keys(rx, version, hash, key_len, {rx_secret, secretlen}, false);
  derive_packet_keys(tx, version, hash, key_len, {tx_secret, secretlen}, false);
  if (ngtcp2_crypto_aead_ctx_decrypt_init(rx_aead_ctx, &ctx->aead, rx.key.data(), kPacketIvLen) !=
      0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  if (ngtcp2_crypto_aead_ctx_encrypt_init(tx_aead_ctx, &ctx->aead, tx.key.data(), kPacketIvLen) !=
      0) {
    ngtcp2_crypto_aead_ctx_free(rx_aead_ctx);
    rx_aead_ctx->native_handle = nullptr;
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  std::memcpy(rx_iv, rx.iv.data(), kPacketIvLen);
  std::memcpy(tx_iv, tx.iv.data(), kPacketIvLen);
  return 0;
}

int on_tls_alert(gnutls_session_t session, gnutls_record_encryption_level_t, gnutls_alert_level_t,
                 gnutls_alert_description_t alert) {
  TlsConnRef& ref = conn_ref_of(session);
  if (!ref.alert_chosen) {
    ngtcp2_conn_set_tls_alert(ref.ref.get_conn(&ref.ref), static_cast<uint8_t>(alert));
  }
  return 0;
}

int on_tls_secret(gnutls_session_t session, gnutls_record_encryption_level_t gtls_level,
                  const void* rx_secret, const void* tx_secret, size_t secretlen) {
  TlsConnRef& ref = conn_ref_of(session);
  ngtcp2_conn* conn = ref.ref.get_conn(&ref.ref);
  const ngtcp2_crypto_level level =
      ngtcp2_crypto_gnutls_from_gnutls_record_encryption_level(gtls_level);
  if (secretlen > kMaxTrafficSecretLen) return -1;
  if (rx_secret && !install_tls_key(ref, conn, session, level, true,
                                    {static_cast<const uint8_t*>(rx_secret), secretlen})) {
    return -1;
  }
  if (tx_secret && !install_tls_key(ref, conn, session, level, false,
                                    {static_cast<const uint8_t*>(tx_secret), secretlen})) {
    return -1;
  }
  return 0;
}

}  // namespace asioquic::engine
