// QUIC packet protection keys (RFC 9001 §5 and §6.1): derived here with nettle's HMAC, then
// installed into ngtcp2. This replaces the part of ngtcp2_crypto's GnuTLS glue that runs HKDF:
// there every HKDF-Expand builds and wipes a GnuTLS MAC context (~22k instructions), 26 times per
// handshake on each side, 14% of a server's handshake. Here one keyed HMAC serves every label of
// a secret, and an expansion costs two hash compressions.
//
// The rest of the glue stays ngtcp2_crypto's: AEAD and header-protection contexts, CRYPTO data,
// the transport-parameters extension, Retry packets and tokens.
#pragma once

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace asioquic {
class SessionStore;
}

namespace asioquic::engine {

/// What a connection's GnuTLS session points to (gnutls_session_set_ptr): ngtcp2_crypto's
/// connection reference, as which its own hooks read the pointer, then what on_tls_secret
/// tracks: a TLS KeyUpdate makes GnuTLS hand over 1-RTT secrets a second time, which QUIC
/// forbids (RFC 9001 §6) and which ngtcp2 would abort on.
struct TlsConnRef {
  ngtcp2_crypto_conn_ref ref;  // first, so that a pointer to it points to the whole
  bool app_rx_installed = false;
  bool app_tx_installed = false;
  bool alert_chosen = false;  // on_tls_secret set the alert; GnuTLS's own does not replace it
  SessionStore* session_store = nullptr;     // client: where tickets go; null: no resumption
  const std::string* session_key = nullptr;  // client: the server's key in session_store
  bool ticket_stored = false;                // client: a ticket of this connection was put there
  bool early_rx_installed = false;           // server: the client's 0-RTT data can be read
};
static_assert(std::is_standard_layout_v<TlsConnRef>);

/// The hash of a TLS 1.3 cipher suite (RFC 8446 §B.4): SHA-384 for AES-256-GCM, else SHA-256.
enum class SuiteHash : uint8_t { sha256, sha384 };

/// The TLS alert for a message that has no place (RFC 8446 §6.2): CRYPTO_ERROR 0x10a in QUIC.
constexpr uint8_t kTlsAlertUnexpectedMessage = 10;

constexpr size_t kInitialSecretLen = 32;
constexpr size_t kMaxTrafficSecretLen = 48;
constexpr size_t kMaxPacketKeyLen = 32;
constexpr size_t kPacketIvLen = 12;

struct InitialSecrets {
  std::array<uint8_t, kInitialSecretLen> client;
  std::array<uint8_t, kInitialSecretLen> server;
};

/// The client's and the server's Initial secrets (RFC 9001 §5.2) for a connection whose client
/// chose QUIC `version` and sent its first Initial to `client_dcid`, into `out`. Unknown versions
/// get the salt of the drafts, as ngtcp2 gives them. Never fails.
void derive_initial_secrets(InitialSecrets& out, uint32_t version,
                            std::span<const uint8_t> client_dcid);

struct PacketKeys {
  std::array<uint8_t, kMaxPacketKeyLen> key{};
  std::array<uint8_t, kPacketIvLen> iv{};
  std::array<uint8_t, kMaxPacketKeyLen> hp{};  // written only when asked for
};

/// The AEAD key and IV, and with `with_hp` the header protection key, of traffic `secret`
/// (RFC 9001 §5.1) for QUIC `version` (the v2 draft has labels of its own), into `out`. Both
/// keys are `key_len` bytes (16 or 32). Never fails; a `key_len` above kMaxPacketKeyLen aborts.
void derive_packet_keys(PacketKeys& out, uint32_t version, SuiteHash hash, size_t key_len,
                        std::span<const uint8_t> secret, bool with_hp);

/// The traffic secret of the next key phase (RFC 9001 §6.1), written to `next` (the size of
/// `secret`). Never fails.
void derive_next_secret(std::span<uint8_t> next, SuiteHash hash, std::span<const uint8_t> secret);

// ngtcp2 callbacks in place of ngtcp2_crypto's of the same role. Each derives with the functions
// above, creates the AEAD and header-protection contexts through ngtcp2_crypto, installs them,
// and returns 0, or NGTCP2_ERR_CALLBACK_FAILURE (nothing installed, nothing leaked).

/// recv_client_initial (server): the Initial keys of the client's first DCID.
int on_recv_client_initial(ngtcp2_conn* conn, const ngtcp2_cid* dcid, void* user_data);
/// client_initial (client): the Initial keys, then the ClientHello handed to the engine.
int on_client_initial(ngtcp2_conn* conn, void* user_data);
/// recv_retry (client): new Initial keys for the Retry's source CID.
int on_recv_retry(ngtcp2_conn* conn, const ngtcp2_pkt_hd* hd, void* user_data);
/// version_negotiation: Initial keys for the version compatible negotiation moved to.
int on_version_negotiation(ngtcp2_conn* conn, uint32_t version, const ngtcp2_cid* client_dcid,
                           void* user_data);
/// update_key: the next key phase's secrets, AEAD contexts and IVs.
int on_update_key(ngtcp2_conn* conn, uint8_t* rx_secret, uint8_t* tx_secret,
                  ngtcp2_crypto_aead_ctx* rx_aead_ctx, uint8_t* rx_iv,
                  ngtcp2_crypto_aead_ctx* tx_aead_ctx, uint8_t* tx_iv,
                  const uint8_t* current_rx_secret, const uint8_t* current_tx_secret,
                  size_t secretlen, void* user_data);

/// GnuTLS's secret hook (gnutls_handshake_set_secret_function), to be set after
/// ngtcp2_crypto_gnutls_configure_*_session: installs the 0-RTT, Handshake and 1-RTT keys of each
/// secret TLS hands over. The session's pointer must be the connection's TlsConnRef. Returns 0,
/// or -1: GnuTLS then fails the handshake or the post-handshake message. 1-RTT secrets for a
/// direction that has them already (a KeyUpdate) are refused with the unexpected_message
/// alert, so the connection closes with CRYPTO_ERROR 0x10a.
int on_tls_secret(gnutls_session_t session, gnutls_record_encryption_level_t level,
                  const void* rx_secret, const void* tx_secret, size_t secretlen);

/// GnuTLS's alert hook (gnutls_alert_set_read_function), set with on_tls_secret: the alert TLS
/// would send becomes the connection's CRYPTO_ERROR, as ngtcp2_crypto's hook does, unless
/// on_tls_secret chose one already (GnuTLS follows a refused secret with internal_error).
/// Returns 0.
int on_tls_alert(gnutls_session_t session, gnutls_record_encryption_level_t level,
                 gnutls_alert_level_t alert_level, gnutls_alert_description_t alert);

}  // namespace asioquic::engine
