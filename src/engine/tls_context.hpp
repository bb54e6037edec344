// TLS for the QUIC engine: credentials, trust and per-connection GnuTLS sessions wired to
// ngtcp2's GnuTLS crypto glue. Internal; GnuTLS and ngtcp2 types are fine here.
#pragma once

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <vector>

#include "asioquic/settings.hpp"
#include "engine/packet_keys.hpp"

namespace asioquic::engine {

/// unique_ptr deleter for every GnuTLS handle type the engine owns.
struct GnutlsDeleter {
  void operator()(gnutls_session_t p) const noexcept { gnutls_deinit(p); }
  void operator()(gnutls_certificate_credentials_t p) const noexcept {
    gnutls_certificate_free_credentials(p);
  }
  void operator()(gnutls_priority_t p) const noexcept { gnutls_priority_deinit(p); }
  void operator()(gnutls_anti_replay_t p) const noexcept { gnutls_anti_replay_deinit(p); }
  void operator()(gnutls_x509_crt_t p) const noexcept { gnutls_x509_crt_deinit(p); }
  void operator()(gnutls_x509_privkey_t p) const noexcept { gnutls_x509_privkey_deinit(p); }
  void operator()(gnutls_pubkey_t p) const noexcept { gnutls_pubkey_deinit(p); }
};

/// Owning pointer to a GnuTLS handle (`Handle` is the handle typedef, e.g. gnutls_session_t).
template <class Handle>
using GnutlsPtr = std::unique_ptr<std::remove_pointer_t<Handle>, GnutlsDeleter>;

/// A gnutls_datum_t whose buffer GnuTLS allocated (export2 and friends). The buffer is wiped
/// before it is freed because it may hold key material.
class GnutlsDatum {
 public:
  GnutlsDatum() = default;
  GnutlsDatum(const GnutlsDatum&) = delete;
  GnutlsDatum& operator=(const GnutlsDatum&) = delete;
  ~GnutlsDatum() {
    if (datum_.data != nullptr) {
      gnutls_memset(datum_.data, 0, datum_.size);
      gnutls_free(datum_.data);
    }
  }

  gnutls_datum_t* get() noexcept { return &datum_; }
  const gnutls_datum_t* get() const noexcept { return &datum_; }
  std::string_view view() const noexcept {
    return {reinterpret_cast<const char*>(datum_.data), datum_.size};
  }

 private:
  gnutls_datum_t datum_{nullptr, 0};
};

/// How a client session resumes (TlsContext::new_session).
struct ClientResume {
  std::span<const uint8_t> ticket;  // GnuTLS's packed session; empty: a full handshake
  bool offer_early_data = false;
  int key_share_group = 0;  // gnutls_group_t the server chose last time; 0: X25519
};

/// Credentials, trust, ALPN and key logging shared by every connection of one listener or
/// client. Immutable after create() (apart from an internal, locked cache of verified host
/// names); new_session() may be called from any thread concurrently. Sessions point into the
/// context (credentials, anti-replay cache, key log, host names), so it must outlive them.
///
/// Server sessions issue TLS 1.3 session tickets whose early_data size is 0xffffffff (RFC 9001
/// §4.6.1), so a resuming client (Chromium, for one) may send 0-RTT. GnuTLS accepts it once
/// per ClientHello (the context's anti-replay cache refuses a replayed one), so the engine
/// must be ready for early, replayable stream data on resumed connections.
class TlsContext {
 public:
  enum class Role { server, client };

  /// Builds a context from `s`. Server: loads the certificate chain and key (files win over
  /// in-memory PEM; they must match). Client: loads the system trust store when
  /// use_system_trust, plus ca_file when set; client certificates are not supported, so
  /// cert/key fields are ignored. Both: validates the ALPN list and opens keylog_file.
  /// ALPN names must be 1..31 bytes and at most 8 (GnuTLS 3.7's storage limits).
  /// On failure returns nullptr, sets `ec` (errc::invalid_argument for a bad ALPN list, a
  /// client's key_shares outside 1..3 or a key log file that cannot be opened,
  /// errc::tls_credentials for a missing, unreadable, unparsable or mismatched certificate/key or
  /// CA file, errc::internal when GnuTLS fails otherwise) and, when `detail` is given, a
  /// human-readable reason.
  /// Server: `ticket_secret`, when not empty, is what the session-ticket key derives from, so
  /// every context made with the same secret (other processes, a restarted one) resumes the
  /// others' tickets; such a context refuses 0-RTT, as its anti-replay cache cannot see what
  /// the others accepted. Empty: a random key, tickets die with the context, 0-RTT is taken.
  static std::shared_ptr<TlsContext> create(Role role, const TlsSettings& s, std::error_code& ec,
                                            std::string* detail = nullptr,
                                            std::span<const uint8_t> ticket_secret = {});

  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// Creates the GnuTLS session for one QUIC connection, configured for ngtcp2 with our key
  /// schedule's hooks (packet_keys.hpp) and `conn_ref` as its session pointer (`conn_ref` must
  /// outlive the session). Client: `verify_host` (a host name, or a bare IPv4/IPv6 literal
  /// without brackets) is sent as SNI unless it is an IP literal, and the server certificate is
  /// verified against it (dNSName or iPAddress SANs) unless insecure_skip_verify; it is
  /// copied, so it need not outlive the call. Server: `verify_host` is ignored. With a key log
  /// file, the session's gnutls_db_set_ptr slot is in use. Client with
  /// `resume.ticket` (GnuTLS's packed session, from the client's ResumptionEntry) offers that
  /// session for resumption; one GnuTLS cannot use is ignored (a full handshake). The key
  /// share goes for `resume.key_share_group` when it is one of ours. Client with
  /// `conn_ref->session_store`: each ticket the server sends is put there under
  /// `*conn_ref->session_key`, as a ResumptionEntry with the negotiated ALPN and the server's
  /// transport parameters (the session's NEW_SESSION_TICKET hook is in use, and `conn_ref`
  /// must reach the ngtcp2 connection by then). A client offers early data (0-RTT) with a
  /// ticket that allows it only when `resume.offer_early_data` (ClientSettings::early_data). The
  /// caller owns the result and frees it with gnutls_deinit. A server session sends no session
  /// ticket by itself: its owner calls issue_session_ticket once the handshake completes. On
  /// failure returns nullptr and sets `ec` (errc::invalid_argument for an empty verify_host on
  /// a verifying client, else errc::internal).
  gnutls_session_t new_session(TlsConnRef* conn_ref, std::string_view verify_host,
                               std::error_code& ec, const ClientResume& resume = {}) const;

  /// Whether `protocol` is in this context's ALPN list.
  bool offers_alpn(std::string_view protocol) const;

  /// Client, once the handshake completed: whether the server accepted the early data offered.
  static bool early_data_accepted(gnutls_session_t s);

  /// After a failed client handshake: the reason certificate verification failed, e.g. "The
  /// certificate is NOT trusted. The name in the certificate does not match the expected.",
  /// or "" when verification did not run or passed.
  static std::string verify_failure(gnutls_session_t s);

  /// Whether the handshake resumed an earlier session (a client offered a ticket the server
  /// accepted); false before the handshake is done.
  static bool resumed(gnutls_session_t s);

  /// The negotiated ALPN protocol, or "" if none was negotiated (yet).
  static std::string negotiated_alpn(gnutls_session_t s);

  /// Server, once the handshake completes: hands the connection's one NewSessionTicket to the
  /// engine's crypto stream through the session's handshake hooks. GnuTLS on its own would send
  /// two with the server's Finished, which pushed the first flight (Initial + Handshake, padded
  /// to 1 200 bytes) into a second datagram; one is enough for the client's next connection,
  /// which gets a fresh one in turn (GnuTLS also accepts a ticket more than once). Returns
  /// false when GnuTLS fails; the connection goes on, the client without resumption.
  static bool issue_session_ticket(gnutls_session_t s);

  Role role() const noexcept { return role_; }

 private:
  class KeyLog;
  class ReplayCache;

  explicit TlsContext(Role role);

  // Returns a NUL-terminated copy of `host` that lives as long as the context. GnuTLS keeps
  // the pointer given to gnutls_session_set_verify_cert rather than a copy, and a session has
  // no destruction hook, so verified names are interned here (one copy per distinct name).
  const char* intern_host(std::string_view host) const;

  Role role_;
  bool verify_peer_ = false;
  unsigned client_key_share_flag_ = 0;  // client: GNUTLS_KEY_SHARE_TOP*, from key_shares
  bool accept_early_data_ = true;       // server: 0-RTT; off when tickets travel (ticket_secret)
  GnutlsPtr<gnutls_certificate_credentials_t> credentials_;
  // Cipher suites and groups, one per group order (kGroupOrders in the .cpp; a server uses
  // the first only).
  std::array<GnutlsPtr<gnutls_priority_t>, 3> priorities_;
  std::vector<std::string> alpn_;
  std::vector<gnutls_datum_t> alpn_datums_;      // views of alpn_
  GnutlsDatum ticket_key_;                       // server
  std::unique_ptr<ReplayCache> replay_cache_;    // server
  GnutlsPtr<gnutls_anti_replay_t> anti_replay_;  // server
  std::unique_ptr<KeyLog> keylog_;               // only when keylog_file is set
  mutable std::mutex hosts_mutex_;
  mutable std::set<std::string, std::less<>> hosts_;  // see intern_host()
};

}  // namespace asioquic::engine
