#include "engine/tls_context.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include "asioquic/error.hpp"
#include "asioquic/session_store.hpp"
#include "engine/packet_keys.hpp"
#include "engine/resumption_entry.hpp"
#include "engine/secret_kdf.hpp"

namespace asioquic::engine {
namespace {

// TLS 1.3 only (QUIC requires it, RFC 9001 §4.2), no middlebox compatibility mode (forbidden in
// QUIC, §8.4), and the cipher suites QUIC defines. AES-128-GCM stays first: it is the suite
// every QUIC stack implements and the cheapest with AES-NI.
constexpr const char* kPriorityBase =
    "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:"
    "+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:";
// Our key-exchange groups, each first in turn: a client's key share is for the first, so one
// that resumes with a server which chose another group last time puts that one first and
// spares the HelloRetryRequest (RFC 8446 §4.2.8).
struct GroupOrder {
  gnutls_group_t first;
  const char* order;
};
constexpr std::array<GroupOrder, 3> kGroupOrders{{
    {GNUTLS_GROUP_X25519, "+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"},
    {GNUTLS_GROUP_SECP256R1, "+GROUP-SECP256R1:+GROUP-X25519:+GROUP-SECP384R1"},
    {GNUTLS_GROUP_SECP384R1, "+GROUP-SECP384R1:+GROUP-X25519:+GROUP-SECP256R1"},
}};

// GnuTLS 3.7 stores ALPN names in fixed arrays (lib/ext/alpn.h: 8 names of at most 31 bytes)
// and rejects longer lists per session, so create() enforces these instead of RFC 7301's 255.
constexpr size_t kMaxAlpnProtocols = 8;
constexpr size_t kMaxAlpnNameLength = 31;

// Entries the anti-replay cache holds at most; beyond that 0-RTT is refused rather than letting
// a ClientHello flood grow memory without bound.
constexpr size_t kMaxReplayEntries = 1 << 16;

// RFC 9001 §4.6.1: a QUIC server that allows 0-RTT must advertise max_early_data_size
// 0xffffffff; any other value is a protocol violation for the client (BoringSSL enforces it).
constexpr size_t kQuicMaxEarlyDataSize = 0xffffffff;

// Returns true if `host` is a textual IPv4 or IPv6 address.
bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// GnuTLS's hook after a NewSessionTicket was processed: the session data it yields now carries
// the ticket, and goes to the connection's store. Exceptions must not cross GnuTLS; a ticket
// the store cannot take costs only the next connection's resumption.
int store_ticket(gnutls_session_t s, unsigned /*type*/, unsigned /*when*/, unsigned incoming,
                 const gnutls_datum_t* /*msg*/) {
  if (incoming == 0) return 0;
  auto* ref = static_cast<TlsConnRef*>(gnutls_session_get_ptr(s));
  GnutlsDatum data;
  if (gnutls_session_get_data2(s, data.get()) < 0) return 0;
  ResumptionEntry e;
  e.alpn = TlsContext::negotiated_alpn(s);
  // From the ticket's early_data extension (RFC 9001 §4.6.1 allows no other size).
  e.early_data = gnutls_record_get_max_early_data_size(s) == kQuicMaxEarlyDataSize;
  e.key_share_group = static_cast<uint16_t>(gnutls_group_get(s));
  const ngtcp2_transport_params* tp =
      ngtcp2_conn_get_remote_transport_params(ref->ref.get_conn(&ref->ref));
  if (tp == nullptr) return 0;  // cannot happen once the handshake has run this far
  e.params = {tp->initial_max_streams_bidi,           tp->initial_max_streams_uni,
              tp->initial_max_stream_data_bidi_local, tp->initial_max_stream_data_bidi_remote,
              tp->initial_max_stream_data_uni,        tp->initial_max_data,
              tp->active_connection_id_limit,         tp->max_datagram_frame_size};
  try {
    const auto* bytes = reinterpret_cast<const uint8_t*>(data.view().data());
    e.ticket.assign(bytes, bytes + data.view().size());
    ref->session_store->put(*ref->session_key, encode_resumption_entry(e));
    ref->ticket_stored = true;
  } catch (...) {  // NOLINT(bugprone-empty-catch): see above
  }
  gnutls_memset(e.ticket.data(), 0, e.ticket.size());
  return 0;
}

// Reads a whole file into `out`. Returns false with `err` set to "<what> '<path>': <reason>".
bool read_file(const std::string& path, const char* what, std::string& out, std::string& err) {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rbe"), &std::fclose);
  if (!f) {
    err = std::string(what) + " '" + path + "': " + std::strerror(errno);
    return false;
  }
  out.clear();
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    out.append(buf, n);
  }
  if (std::ferror(f.get())) {
    err = std::string(what) + " '" + path + "': read error";
    return false;
  }
  return true;
}

// A datum viewing `s` (GnuTLS takes non-const pointers but does not write through them).
// Returns false when `s` is too large for a datum.
bool as_datum(std::string_view s, gnutls_datum_t& d) {
  if (s.size() > UINT_MAX) return false;
  d.data = reinterpret_cast<unsigned char*>(const_cast<char*>(s.data()));
  d.size = static_cast<unsigned>(s.size());
  return true;
}

// Installs the PEM chain `cert` (leaf first, or sorted here) and PEM private key `key` in
// `cred`, checking that the key belongs to the leaf. Returns false with `err` set on failure.
// Parsing is done here rather than by gnutls_certificate_set_x509_key_mem2, which in GnuTLS
// 3.7.9 leaks a certificate object when the PEM is malformed, and gives vaguer errors.
bool load_key_pair(gnutls_certificate_credentials_t cred, std::string_view cert,
                   std::string_view key, std::string& err) {
  gnutls_datum_t cert_d;
  gnutls_datum_t key_d;
  if (!as_datum(cert, cert_d) || !as_datum(key, key_d)) {
    err = "certificate or key is too large";
    return false;
  }
  gnutls_x509_crt_t* list = nullptr;
  unsigned count = 0;
  int rc = gnutls_x509_crt_list_import2(&list, &count, &cert_d, GNUTLS_X509_FMT_PEM,
                                        GNUTLS_X509_CRT_LIST_SORT);
  if (rc < 0) {
    err = std::string("cannot parse the certificate: ") + gnutls_strerror(rc);
    return false;
  }
  std::vector<GnutlsPtr<gnutls_x509_crt_t>> owned(list, list + count);
  gnutls_free(list);
  std::vector<gnutls_x509_crt_t> chain;
  for (const auto& crt : owned) {
    chain.push_back(crt.get());
  }

  gnutls_x509_privkey_t raw_key;
  if ((rc = gnutls_x509_privkey_init(&raw_key)) < 0) {
    err = std::string("gnutls_x509_privkey_init: ") + gnutls_strerror(rc);
    return false;
  }
  GnutlsPtr<gnutls_x509_privkey_t> pk(raw_key);
  if ((rc = gnutls_x509_privkey_import2(raw_key, &key_d, GNUTLS_X509_FMT_PEM, nullptr, 0)) < 0) {
    err = std::string("cannot parse the private key: ") + gnutls_strerror(rc);
    return false;
  }
  // Copies chain and key, and checks that they match.
  rc = gnutls_certificate_set_x509_key(cred, chain.data(), static_cast<int>(chain.size()), raw_key);
  if (rc == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
    err = "the private key does not match the certificate";
    return false;
  }
  if (rc < 0) {
    err = std::string("cannot use the certificate and key: ") + gnutls_strerror(rc);
    return false;
  }
  return true;
}

}  // namespace

// Appends TLS secrets to a file in NSS key log format, one line per secret. One FILE per
// context, shared by its sessions; the mutex keeps lines whole, and flushing every line makes
// each a single append write, so contexts writing the same file do not interleave either.
class TlsContext::KeyLog {
 public:
  // Opens `path` for appending (created 0600: it holds secrets). Returns nullptr with `err`
  // set on failure.
  static std::unique_ptr<KeyLog> open(const std::string& path, std::string& err) {
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
      err = "keylog_file '" + path + "': " + std::strerror(errno);
      return nullptr;
    }
    FILE* f = ::fdopen(fd, "a");
    if (f == nullptr) {
      err = "keylog_file '" + path + "': " + std::strerror(errno);
      ::close(fd);
      return nullptr;
    }
    return std::unique_ptr<KeyLog>(new KeyLog(f));
  }

  // gnutls_keylog_func. The session's db pointer carries the KeyLog: GnuTLS hands db_ptr only
  // to the TLS 1.2 session-cache callbacks, which a TLS 1.3-only session never uses, and the
  // session pointer proper belongs to ngtcp2 (the conn_ref). Returns 0 (never fails the
  // handshake).
  static int callback(gnutls_session_t session, const char* label, const gnutls_datum_t* secret) {
    if (auto* log = static_cast<KeyLog*>(gnutls_db_get_ptr(session))) {
      log->write(session, label, secret);
    }
    return 0;
  }

 private:
  explicit KeyLog(FILE* f) : file_(f, &std::fclose) {}

  void write(gnutls_session_t session, const char* label, const gnutls_datum_t* secret) {
    gnutls_datum_t client_random{nullptr, 0};
    gnutls_session_get_random(session, &client_random, nullptr);
    std::string line = label;
    line += ' ';
    append_hex(line, client_random);
    line += ' ';
    append_hex(line, *secret);
    line += '\n';
    std::lock_guard lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), file_.get());
    std::fflush(file_.get());
    gnutls_memset(line.data(), 0, line.size());
  }

  static void append_hex(std::string& out, const gnutls_datum_t& d) {
    static constexpr char kDigits[] = "0123456789abcdef";
    for (unsigned i = 0; i < d.size; ++i) {
      out += kDigits[d.data[i] >> 4];
      out += kDigits[d.data[i] & 0x0f];
    }
  }

  std::mutex mutex_;
  std::unique_ptr<FILE, int (*)(FILE*)> file_;
};

// In-memory store of ClientHellos that carried early data, for GnuTLS's anti-replay check
// (RFC 8446 §8.2): a ClientHello seen again within the freshness window is a replay and its
// 0-RTT data is rejected. Shared by all sessions of a context, hence the mutex.
class TlsContext::ReplayCache {
 public:
  // gnutls_db_add_func. Returns 0 when `key` was stored, GNUTLS_E_DB_ENTRY_EXISTS when it is
  // already present and unexpired, GNUTLS_E_DB_ERROR when the cache is full.
  static int add(void* self, time_t expires, const gnutls_datum_t* key,
                 const gnutls_datum_t* /*data*/) {
    return static_cast<ReplayCache*>(self)->add(expires, key);
  }

 private:
  int add(time_t expires, const gnutls_datum_t* key) {
    std::string k(reinterpret_cast<const char*>(key->data), key->size);
    time_t now = std::time(nullptr);
    std::lock_guard lock(mutex_);
    if (now != last_prune_) {
      std::erase_if(entries_, [now](const auto& e) { return e.second < now; });
      last_prune_ = now;
    }
    if (auto it = entries_.find(k); it != entries_.end() && it->second >= now) {
      return GNUTLS_E_DB_ENTRY_EXISTS;
    }
    if (entries_.size() >= kMaxReplayEntries) return GNUTLS_E_DB_ERROR;
    entries_[std::move(k)] = expires;
    return 0;
  }

  std::mutex mutex_;
  std::unordered_map<std::string, time_t> entries_;
  time_t last_prune_ = 0;
};

TlsContext::TlsContext(Role role) : role_(role) {}

TlsContext::~TlsContext() = default;

const char* TlsContext::intern_host(std::string_view host) const {
  std::lock_guard lock(hosts_mutex_);
  auto it = hosts_.find(host);
  if (it == hosts_.end()) it = hosts_.emplace(host).first;
  return it->c_str();
}

std::shared_ptr<TlsContext> TlsContext::create(Role role, const TlsSettings& s, std::error_code& ec,
                                               std::string* detail,
                                               std::span<const uint8_t> ticket_secret) {
  auto fail = [&](errc e, std::string msg) -> std::shared_ptr<TlsContext> {
    ec = e;
    if (detail != nullptr) *detail = std::move(msg);
    return nullptr;
  };
  auto gnutls_fail = [&](errc e, const std::string& what, int rc) {
    return fail(e, what + ": " + gnutls_strerror(rc));
  };

  std::shared_ptr<TlsContext> ctx(new TlsContext(role));

  if (s.alpn.empty()) {
    return fail(errc::invalid_argument, "alpn: at least one protocol is required");
  }
  if (s.alpn.size() > kMaxAlpnProtocols) {
    return fail(errc::invalid_argument, "alpn: at most 8 protocols are supported (GnuTLS limit)");
  }
  for (const auto& p : s.alpn) {
    if (p.empty() || p.size() > kMaxAlpnNameLength) {
      return fail(errc::invalid_argument,
                  "alpn: protocol '" + p + "' must be 1 to 31 bytes long (GnuTLS limit)");
    }
  }
  ctx->alpn_ = s.alpn;
  for (const auto& p : ctx->alpn_) {
    gnutls_datum_t d;
    as_datum(p, d);
    ctx->alpn_datums_.push_back(d);
  }

  // A server needs the first order only.
  const size_t orders = role == Role::server ? 1 : kGroupOrders.size();
  for (size_t i = 0; i < orders; ++i) {
    const std::string text = std::string(kPriorityBase) + kGroupOrders[i].order;
    gnutls_priority_t priority;
    const char* err_pos = nullptr;
    if (int rc = gnutls_priority_init2(&priority, text.c_str(), &err_pos, 0); rc < 0) {
      return fail(errc::internal, std::string("priority string rejected at '") +
                                      (err_pos != nullptr ? err_pos : "") +
                                      "': " + gnutls_strerror(rc));
    }
    ctx->priorities_[i].reset(priority);
  }

  gnutls_certificate_credentials_t cred;
  if (int rc = gnutls_certificate_allocate_credentials(&cred); rc < 0) {
    return gnutls_fail(errc::internal, "gnutls_certificate_allocate_credentials", rc);
  }
  ctx->credentials_.reset(cred);

  std::string err;
  if (role == Role::server) {
    std::string cert = s.cert_pem;
    std::string key = s.key_pem;
    if (!s.cert_file.empty() && !read_file(s.cert_file, "cert_file", cert, err)) {
      return fail(errc::tls_credentials, err);
    }
    if (!s.key_file.empty() && !read_file(s.key_file, "key_file", key, err)) {
      return fail(errc::tls_credentials, err);
    }
    if (cert.empty()) {
      return fail(errc::tls_credentials, "a server needs a certificate: set cert_file or cert_pem");
    }
    if (key.empty()) {
      return fail(errc::tls_credentials, "a server needs a private key: set key_file or key_pem");
    }
    bool loaded = load_key_pair(cred, cert, key, err);
    gnutls_memset(key.data(), 0, key.size());
    if (!loaded) return fail(errc::tls_credentials, err);

    // Generated first, for the size GnuTLS wants; then derived over it when a secret is given.
    if (int rc = gnutls_session_ticket_key_generate(ctx->ticket_key_.get()); rc < 0) {
      return gnutls_fail(errc::internal, "gnutls_session_ticket_key_generate", rc);
    }
    if (!ticket_secret.empty()) {
      gnutls_datum_t* master = ctx->ticket_key_.get();
      derive_key(ticket_secret, "asioquic session ticket key", {master->data, master->size});
      // A ticket may now come back to any process holding the secret, and the anti-replay
      // cache is this process's alone: a 0-RTT flight could be replayed to another one.
      ctx->accept_early_data_ = false;
    }
    ctx->replay_cache_ = std::make_unique<ReplayCache>();
    gnutls_anti_replay_t anti_replay;
    if (int rc = gnutls_anti_replay_init(&anti_replay); rc < 0) {
      return gnutls_fail(errc::internal, "gnutls_anti_replay_init", rc);
    }
    ctx->anti_replay_.reset(anti_replay);
    gnutls_anti_replay_set_ptr(anti_replay, ctx->replay_cache_.get());
    gnutls_anti_replay_set_add_function(anti_replay, &ReplayCache::add);
  } else {
    // Nothing is verified with insecure_skip_verify: the store would cost ~55 M instructions
    // (~10 ms) to load for nothing.
    if (s.use_system_trust && !s.insecure_skip_verify) {
      // Returns the number of certificates loaded; 0 (no CA bundle installed) is not an error
      // here, verification will simply fail for public servers.
      if (int rc = gnutls_certificate_set_x509_system_trust(cred); rc < 0) {
        return gnutls_fail(errc::tls_credentials, "cannot load the system trust store", rc);
      }
    }
    if (!s.ca_file.empty()) {
      std::string ca;
      if (!read_file(s.ca_file, "ca_file", ca, err)) return fail(errc::tls_credentials, err);
      gnutls_datum_t ca_d;
      if (!as_datum(ca, ca_d)) return fail(errc::tls_credentials, "ca_file is too large");
      int rc = gnutls_certificate_set_x509_trust_mem(cred, &ca_d, GNUTLS_X509_FMT_PEM);
      if (rc < 0) {
        return gnutls_fail(errc::tls_credentials, "ca_file '" + s.ca_file + "'", rc);
      }
      if (rc == 0) {
        return fail(errc::tls_credentials, "ca_file '" + s.ca_file + "': no PEM certificate found");
      }
    }
    ctx->verify_peer_ = !s.insecure_skip_verify;
    // GnuTLS makes two shares by default (X25519 and P-256 with our priority).
    constexpr unsigned kShareFlags[] = {GNUTLS_KEY_SHARE_TOP, GNUTLS_KEY_SHARE_TOP2,
                                        GNUTLS_KEY_SHARE_TOP3};
    if (s.key_shares < 1 || s.key_shares > 3) {
      return fail(errc::invalid_argument, "key_shares: must be 1, 2 or 3");
    }
    ctx->client_key_share_flag_ = kShareFlags[s.key_shares - 1];
  }

  // When keylog_file is empty, GnuTLS's default key log function stays in place: GnuTLS 3.7.9
  // itself appends to the file named by SSLKEYLOGFILE (read once per process, at the first
  // secret; ignored for setuid programs), for QUIC sessions too.
  if (!s.keylog_file.empty()) {
    ctx->keylog_ = KeyLog::open(s.keylog_file, err);
    if (!ctx->keylog_) return fail(errc::invalid_argument, err);
  }

  ec.clear();
  return ctx;
}

gnutls_session_t TlsContext::new_session(TlsConnRef* conn_ref, std::string_view verify_host,
                                         std::error_code& ec, const ClientResume& resume) const {
  const bool server = role_ == Role::server;
  if (!server && verify_peer_ && verify_host.empty()) {
    ec = errc::invalid_argument;
    return nullptr;
  }

  ec = errc::internal;
  gnutls_session_t raw;
  // A server's one session ticket goes out through issue_session_ticket.
  unsigned flags =
      server ? GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_CLIENT | client_key_share_flag_;
  const bool early_data = server ? accept_early_data_ : resume.offer_early_data;
  if (early_data) flags |= GNUTLS_ENABLE_EARLY_DATA | GNUTLS_NO_END_OF_EARLY_DATA;
  if (gnutls_init(&raw, flags) < 0) return nullptr;
  GnutlsPtr<gnutls_session_t> session(raw);

  size_t order = 0;
  for (size_t i = 1; i < kGroupOrders.size() && !server; ++i) {
    if (kGroupOrders[i].first == resume.key_share_group) order = i;
  }
  if (gnutls_priority_set(raw, priorities_[order].get()) < 0 ||
      gnutls_credentials_set(raw, GNUTLS_CRD_CERTIFICATE, credentials_.get()) < 0) {
    return nullptr;
  }
  // Server: refuse clients offering none of our protocols (no_application_protocol alert, as
  // RFC 9001 §8.1 requires), and pick by our preference order rather than the client's.
  unsigned alpn_flags = server ? GNUTLS_ALPN_MANDATORY | GNUTLS_ALPN_SERVER_PRECEDENCE : 0;
  if (gnutls_alpn_set_protocols(raw, alpn_datums_.data(),
                                static_cast<unsigned>(alpn_datums_.size()), alpn_flags) < 0) {
    return nullptr;
  }

  if (server) {
    // GNUTLS_ENABLE_EARLY_DATA puts an early_data extension into every NewSessionTicket, and
    // QUIC requires its size to be 0xffffffff. 0-RTT is then accepted when the anti-replay
    // cache has not seen the ClientHello before; without anti-replay GnuTLS rejects it.
    if (gnutls_session_ticket_enable_server(raw, ticket_key_.get()) < 0) return nullptr;
    if (accept_early_data_) {
      if (gnutls_record_set_max_early_data_size(raw, kQuicMaxEarlyDataSize) < 0) return nullptr;
      gnutls_anti_replay_enable(raw, anti_replay_.get());
    }
    if (ngtcp2_crypto_gnutls_configure_server_session(raw) != 0) return nullptr;
  } else {
    const std::string host(verify_host);  // NUL-terminated for inet_pton and GnuTLS
    // SNI carries host names only (RFC 6066 §3).
    if (!host.empty() && !is_ip_literal(host) &&
        gnutls_server_name_set(raw, GNUTLS_NAME_DNS, host.data(), host.size()) < 0) {
      return nullptr;
    }
    // On GnuTLS 3.7.9 a textual IPv4/IPv6 address given here is matched against the
    // certificate's iPAddress SANs (not its dNSNames), so one call covers both kinds of host.
    if (verify_peer_) gnutls_session_set_verify_cert(raw, intern_host(host), 0);
    if (ngtcp2_crypto_gnutls_configure_client_session(raw) != 0) return nullptr;
    // A ticket GnuTLS cannot use (corrupt, for another cipher suite) is dropped and the
    // handshake is a full one; an expired or unknown one the server declines in the same way.
    if (!resume.ticket.empty() && resume.ticket.size() <= UINT_MAX) {
      gnutls_session_set_data(raw, resume.ticket.data(), resume.ticket.size());
    }
    if (conn_ref->session_store) {
      gnutls_handshake_set_hook_function(raw, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST,
                                         store_ticket);
    }
  }

  // Our key schedule in place of ngtcp2_crypto's, and its alert hook with it (packet_keys.hpp);
  // ngtcp2_crypto's other hooks stay.
  gnutls_handshake_set_secret_function(raw, on_tls_secret);
  gnutls_alert_set_read_function(raw, on_tls_alert);
  gnutls_session_set_ptr(raw, &conn_ref->ref);
  if (keylog_) {
    gnutls_db_set_ptr(raw, keylog_.get());
    gnutls_session_set_keylog_function(raw, &KeyLog::callback);
  }
  ec.clear();
  return session.release();
}

std::string TlsContext::verify_failure(gnutls_session_t s) {
  unsigned status = gnutls_session_get_verify_cert_status(s);
  // GnuTLS reports UINT_MAX until verification has run.
  if (status == 0 || status == UINT_MAX) return {};
  GnutlsDatum out;
  if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, out.get(), 0) < 0) {
    return "certificate verification failed (GnuTLS status " + std::to_string(status) + ")";
  }
  // GnuTLS ends every sentence with a space.
  std::string_view text = out.view();
  while (!text.empty() && text.back() == ' ')
    text.remove_suffix(1);
  return std::string(text);
}

std::string TlsContext::negotiated_alpn(gnutls_session_t s) {
  gnutls_datum_t proto{nullptr, 0};
  if (gnutls_alpn_get_selected_protocol(s, &proto) < 0) return {};
  return {reinterpret_cast<const char*>(proto.data), proto.size};
}

bool TlsContext::offers_alpn(std::string_view protocol) const {
  return std::find(alpn_.begin(), alpn_.end(), protocol) != alpn_.end();
}

bool TlsContext::early_data_accepted(gnutls_session_t s) {
  return (gnutls_session_get_flags(s) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
}

bool TlsContext::resumed(gnutls_session_t s) {
  return gnutls_session_is_resumed(s) != 0;
}

bool TlsContext::issue_session_ticket(gnutls_session_t s) {
  return gnutls_session_ticket_send(s, 1, 0) == GNUTLS_E_SUCCESS;
}

}  // namespace asioquic::engine
