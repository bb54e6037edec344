// Tests of certificate.hpp and engine::TlsContext. The handshake tests drive a client and a
// server ngtcp2_conn against each other in memory, to check what only a handshake shows:
// ALPN selection, certificate verification (DNS and IP names), key logging, tickets.
#include "asioquic/certificate.hpp"

#include <arpa/inet.h>
#include <gnutls/crypto.h>
#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <thread>

#include "asioquic/error.hpp"
#include "engine/tls_context.hpp"

namespace asioquic {
namespace {

using engine::GnutlsDatum;
using engine::GnutlsPtr;
using engine::TlsConnRef;
using engine::TlsContext;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Helpers

GnutlsPtr<gnutls_x509_crt_t> parse_cert(const std::string& pem) {
  gnutls_x509_crt_t crt;
  if (gnutls_x509_crt_init(&crt) < 0) return nullptr;
  GnutlsPtr<gnutls_x509_crt_t> owned(crt);
  gnutls_datum_t d{reinterpret_cast<unsigned char*>(const_cast<char*>(pem.data())),
                   static_cast<unsigned>(pem.size())};
  if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0) return nullptr;
  return owned;
}

Certificate make_cert(const std::vector<std::string>& names) {
  std::error_code ec;
  Certificate c = make_self_signed_certificate(names, ec);
  EXPECT_FALSE(ec) << ec.message();
  return c;
}

std::string base64(const unsigned char* p, size_t n) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = unsigned(p[i]) << 16;
    if (i + 1 < n) v |= unsigned(p[i + 1]) << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < n ? kAlphabet[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kAlphabet[v & 63] : '=';
  }
  return out;
}

// A fresh directory under the test temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = testing::TempDir() + "asioquic_tls_XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp: " << std::strerror(errno);
    path_ = tmpl;
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string write(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p) << content;
    return p;
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TlsSettings server_settings(const Certificate& c, std::vector<std::string> alpn = {"h3"}) {
  TlsSettings s;
  s.cert_pem = c.cert_pem;
  s.key_pem = c.key_pem;
  s.alpn = std::move(alpn);
  return s;
}

// A client trusting only `ca_file`.
TlsSettings client_settings(const std::string& ca_file, std::vector<std::string> alpn = {"h3"}) {
  TlsSettings s;
  s.use_system_trust = false;
  s.ca_file = ca_file;
  s.alpn = std::move(alpn);
  return s;
}

std::shared_ptr<TlsContext> make_ctx(TlsContext::Role role, const TlsSettings& s) {
  std::error_code ec;
  std::string detail;
  auto ctx = TlsContext::create(role, s, ec, &detail);
  EXPECT_TRUE(ctx) << ec.message() << ": " << detail;
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// In-memory QUIC handshake between two ngtcp2 connections.

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * NGTCP2_SECONDS + uint64_t(ts.tv_nsec);
}

void random_bytes(uint8_t* p, size_t n) {
  ASSERT_EQ(gnutls_rnd(GNUTLS_RND_NONCE, p, n), 0);
}

ngtcp2_cid random_cid(size_t len) {
  ngtcp2_cid cid;
  cid.datalen = len;
  random_bytes(cid.data, len);
  return cid;
}

struct QuicEnd {
  ~QuicEnd() {
    if (conn != nullptr) ngtcp2_conn_del(conn);
    if (tls != nullptr) gnutls_deinit(tls);
  }
  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<QuicEnd*>(ref->user_data)->conn;
  }

  ngtcp2_conn* conn = nullptr;
  gnutls_session_t tls = nullptr;
  TlsConnRef ref{{&QuicEnd::get_conn, this}};
  int error = 0;  // first ngtcp2 error seen
};

class QuicPair {
 public:
  QuicPair(std::shared_ptr<TlsContext> server_ctx, std::shared_ptr<TlsContext> client_ctx)
      : server_ctx_(std::move(server_ctx)), client_ctx_(std::move(client_ctx)) {
    client_addr_.sin_family = AF_INET;
    client_addr_.sin_port = htons(50000);
    client_addr_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server_addr_ = client_addr_;
    server_addr_.sin_port = htons(4433);
  }

  // Runs the handshake until both sides are done and no more packets flow, or one side fails.
  // `prepare_client` may adjust the client session first. Returns true when both sides
  // completed the handshake.
  bool client_offers_early_data = false;  // TlsContext::new_session's offer_early_data

  bool handshake(const std::string& verify_host,
                 const std::function<void(gnutls_session_t)>& prepare_client = {}) {
    ngtcp2_callbacks cb = callbacks();
    cb.client_initial = ngtcp2_crypto_client_initial_cb;
    cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    ngtcp2_cid dcid = random_cid(18);
    ngtcp2_cid scid = random_cid(16);
    ngtcp2_path path = make_path(client_addr_, server_addr_);
    if (ngtcp2_conn_client_new(&client.conn, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                               &settings, &params, nullptr, &client) != 0) {
      return false;
    }
    std::error_code ec;
    std::string host = verify_host;
    client.tls = client_ctx_->new_session(&client.ref, host, ec, {{}, client_offers_early_data});
    if (client.tls == nullptr) return false;
    // The session must not depend on the caller's buffer.
    std::fill(host.begin(), host.end(), 'x');
    if (prepare_client) prepare_client(client.tls);
    ngtcp2_conn_set_tls_native_handle(client.conn, client.tls);

    for (int round = 0; round < 32; ++round) {
      auto to_server = flush(client);
      if (round == 0) first_flight_ = to_server;
      for (auto& pkt : to_server) {
        if (server.conn == nullptr && !accept(server, pkt)) return false;
        read(server, make_path(server_addr_, client_addr_), pkt);
      }
      if (!ticket_issued_ && server.conn && ngtcp2_conn_get_handshake_completed(server.conn)) {
        ticket_issued_ = TlsContext::issue_session_ticket(server.tls);  // as QuicConn does
      }
      auto to_client = flush(server);
      for (auto& pkt : to_client) {
        read(client, make_path(client_addr_, server_addr_), pkt);
      }
      if (client.error != 0 || server.error != 0) return false;
      if (to_server.empty() && to_client.empty()) break;
    }
    return server.conn != nullptr && ngtcp2_conn_get_handshake_completed(client.conn) &&
           ngtcp2_conn_get_handshake_completed(server.conn);
  }

  // Feeds the client's first flight again to a new server connection `replay`, as an attacker
  // replaying captured packets would. Returns false if `replay` could not be set up.
  bool replay_first_flight(QuicEnd& replay) {
    if (first_flight_.empty() || !accept(replay, first_flight_.front())) return false;
    for (auto& pkt : first_flight_) {
      read(replay, make_path(server_addr_, client_addr_), pkt);
    }
    return true;
  }

  QuicEnd client;
  QuicEnd server;

 private:
  using Packet = std::vector<uint8_t>;

  static ngtcp2_callbacks callbacks() {
    ngtcp2_callbacks cb{};
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.rand = [](uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) { random_bytes(dest, len); };
    cb.get_new_connection_id = [](ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len,
                                  void*) {
      *cid = random_cid(len);
      random_bytes(token, NGTCP2_STATELESS_RESET_TOKENLEN);
      return 0;
    };
    return cb;
  }

  static ngtcp2_path make_path(sockaddr_in& local, sockaddr_in& remote) {
    ngtcp2_path p{};
    p.local = {reinterpret_cast<ngtcp2_sockaddr*>(&local), sizeof local};
    p.remote = {reinterpret_cast<ngtcp2_sockaddr*>(&remote), sizeof remote};
    return p;
  }

  // Creates the server connection `end` for the client Initial `pkt`. Returns false on failure.
  bool accept(QuicEnd& end, const Packet& pkt) {
    ngtcp2_pkt_hd hd;
    if (ngtcp2_accept(&hd, pkt.data(), pkt.size()) != 0) return false;
    ngtcp2_callbacks cb = callbacks();
    cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    ngtcp2_settings settings;
    ngtcp2_settings_default(&settings);
    settings.initial_ts = now_ns();
    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.original_dcid = hd.dcid;
    ngtcp2_cid scid = random_cid(16);
    ngtcp2_path path = make_path(server_addr_, client_addr_);
    if (ngtcp2_conn_server_new(&end.conn, &hd.scid, &scid, &path, hd.version, &cb, &settings,
                               &params, nullptr, &end) != 0) {
      return false;
    }
    std::error_code ec;
    end.tls = server_ctx_->new_session(&end.ref, "", ec);
    if (end.tls == nullptr) return false;
    ngtcp2_conn_set_tls_native_handle(end.conn, end.tls);
    return true;
  }

  static std::vector<Packet> flush(QuicEnd& end) {
    std::vector<Packet> out;
    if (end.conn == nullptr || end.error != 0) return out;
    for (;;) {
      uint8_t buf[1500];
      ngtcp2_path_storage ps;
      ngtcp2_path_storage_zero(&ps);
      ngtcp2_pkt_info pi;
      ngtcp2_ssize n = ngtcp2_conn_write_pkt(end.conn, &ps.path, &pi, buf, sizeof buf, now_ns());
      if (n < 0) end.error = int(n);
      if (n <= 0) return out;
      out.emplace_back(buf, buf + n);
    }
  }

  static void read(QuicEnd& end, ngtcp2_path path, const Packet& pkt) {
    if (end.error != 0) return;
    ngtcp2_pkt_info pi{};
    int rv = ngtcp2_conn_read_pkt(end.conn, &path, &pi, pkt.data(), pkt.size(), now_ns());
    if (rv != 0) end.error = rv;
  }

  std::shared_ptr<TlsContext> server_ctx_;
  std::shared_ptr<TlsContext> client_ctx_;
  std::vector<Packet> first_flight_;
  bool ticket_issued_ = false;
  sockaddr_in client_addr_{};
  sockaddr_in server_addr_{};
};

// ---------------------------------------------------------------------------------------------
// make_self_signed_certificate

// The certificate's times come from system_clock (CLOCK_REALTIME). std::time() reads the
// kernel's coarse clock, which can still show the previous second a few milliseconds after
// system_clock has moved on, so the bounds are taken from the same clock as the certificate.
time_t wall_seconds() {
  return std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
}

TEST(SelfSignedCertificate, HasRequestedNamesKeyAndExtensions) {
  const auto before = wall_seconds();
  Certificate c = make_cert({"localhost", "example.test", "127.0.0.1", "::1"});
  ASSERT_NE(c.cert_pem.find("-----BEGIN CERTIFICATE-----"), std::string::npos);
  ASSERT_NE(c.key_pem.find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  auto crt = parse_cert(c.cert_pem);
  ASSERT_TRUE(crt);

  char cn[256];
  size_t cn_size = sizeof cn;
  ASSERT_EQ(
      gnutls_x509_crt_get_dn_by_oid(crt.get(), GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &cn_size), 0);
  EXPECT_EQ(std::string(cn, cn_size), "localhost");

  std::set<std::string> dns;
  std::set<std::string> ips;
  for (unsigned i = 0;; ++i) {
    unsigned char san[256];
    size_t size = sizeof san;
    int type = gnutls_x509_crt_get_subject_alt_name(crt.get(), i, san, &size, nullptr);
    if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
    ASSERT_GE(type, 0);
    if (type == GNUTLS_SAN_DNSNAME) {
      dns.emplace(reinterpret_cast<char*>(san), size);
    } else if (type == GNUTLS_SAN_IPADDRESS) {
      char text[INET6_ADDRSTRLEN];
      ASSERT_TRUE(size == 4 || size == 16);
      inet_ntop(size == 4 ? AF_INET : AF_INET6, san, text, sizeof text);
      ips.emplace(text);
    } else {
      ADD_FAILURE() << "unexpected SAN type " << type;
    }
  }
  EXPECT_EQ(dns, (std::set<std::string>{"localhost", "example.test"}));
  EXPECT_EQ(ips, (std::set<std::string>{"127.0.0.1", "::1"}));

  unsigned bits = 0;
  EXPECT_EQ(gnutls_x509_crt_get_pk_algorithm(crt.get(), &bits), GNUTLS_PK_ECDSA);
  gnutls_ecc_curve_t curve;
  gnutls_datum_t x{nullptr, 0};
  gnutls_datum_t y{nullptr, 0};
  ASSERT_EQ(gnutls_x509_crt_get_pk_ecc_raw(crt.get(), &curve, &x, &y), 0);
  gnutls_free(x.data);
  gnutls_free(y.data);
  EXPECT_EQ(curve, GNUTLS_ECC_CURVE_SECP256R1);
  EXPECT_EQ(gnutls_x509_crt_get_signature_algorithm(crt.get()), GNUTLS_SIGN_ECDSA_SHA256);

  const auto after = wall_seconds();
  EXPECT_GE(gnutls_x509_crt_get_activation_time(crt.get()), before - 3600);
  EXPECT_LE(gnutls_x509_crt_get_activation_time(crt.get()), after - 3600);
  EXPECT_GE(gnutls_x509_crt_get_expiration_time(crt.get()), before + 14 * 24 * 3600);
  EXPECT_LE(gnutls_x509_crt_get_expiration_time(crt.get()), after + 14 * 24 * 3600);

  unsigned usage = 0;
  unsigned critical = 0;
  ASSERT_GE(gnutls_x509_crt_get_key_usage(crt.get(), &usage, &critical), 0);
  EXPECT_EQ(usage, unsigned(GNUTLS_KEY_DIGITAL_SIGNATURE));
  char oid[128];
  size_t oid_size = sizeof oid;
  ASSERT_EQ(gnutls_x509_crt_get_key_purpose_oid(crt.get(), 0, oid, &oid_size, nullptr), 0);
  EXPECT_STREQ(oid, GNUTLS_KP_TLS_WWW_SERVER);
  oid_size = sizeof oid;
  EXPECT_EQ(gnutls_x509_crt_get_key_purpose_oid(crt.get(), 1, oid, &oid_size, nullptr),
            GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
  unsigned ca = 1;
  int path_len = 0;
  ASSERT_GE(gnutls_x509_crt_get_basic_constraints(crt.get(), nullptr, &ca, &path_len), 0);
  EXPECT_EQ(ca, 0u);

  // Self-signed: issuer == subject, and the signature verifies with its own key.
  EXPECT_TRUE(gnutls_x509_crt_check_issuer(crt.get(), crt.get()));
  gnutls_x509_crt_t self = crt.get();
  unsigned status = 1;
  ASSERT_EQ(gnutls_x509_crt_verify(crt.get(), &self, 1, 0, &status), 0);
  EXPECT_EQ(status, 0u);

  // GnuTLS's name matching: IP literals match iPAddress SANs.
  EXPECT_TRUE(gnutls_x509_crt_check_hostname(crt.get(), "localhost"));
  EXPECT_TRUE(gnutls_x509_crt_check_hostname(crt.get(), "127.0.0.1"));
  EXPECT_TRUE(gnutls_x509_crt_check_hostname(crt.get(), "::1"));
  EXPECT_FALSE(gnutls_x509_crt_check_hostname(crt.get(), "127.0.0.2"));
  EXPECT_FALSE(gnutls_x509_crt_check_hostname(crt.get(), "other.test"));
}

TEST(SelfSignedCertificate, IpLiteralsOnlyBecomeIpAddressSans) {
  Certificate c = make_cert({"192.0.2.7", "2001:db8::1"});
  auto crt = parse_cert(c.cert_pem);
  ASSERT_TRUE(crt);
  std::vector<std::pair<int, size_t>> sans;
  for (unsigned i = 0;; ++i) {
    unsigned char san[256];
    size_t size = sizeof san;
    int type = gnutls_x509_crt_get_subject_alt_name(crt.get(), i, san, &size, nullptr);
    if (type < 0) break;
    sans.emplace_back(type, size);
  }
  EXPECT_EQ(sans, (std::vector<std::pair<int, size_t>>{{GNUTLS_SAN_IPADDRESS, 4},
                                                       {GNUTLS_SAN_IPADDRESS, 16}}));
  EXPECT_TRUE(gnutls_x509_crt_check_hostname(crt.get(), "2001:db8::1"));
  EXPECT_TRUE(gnutls_x509_crt_check_ip(
      crt.get(), reinterpret_cast<const unsigned char*>("\xc0\x00\x02\x07"), 4, 0));
}

TEST(SelfSignedCertificate, SerialIsRandomPositiveAndCustomValidityApplies) {
  std::error_code ec;
  Certificate a = make_self_signed_certificate({"a.test"}, ec, std::chrono::hours(48));
  ASSERT_FALSE(ec);
  Certificate b = make_cert({"a.test"});
  auto ca = parse_cert(a.cert_pem);
  auto cb = parse_cert(b.cert_pem);
  ASSERT_TRUE(ca && cb);
  unsigned char sa[32];
  unsigned char sb[32];
  size_t la = sizeof sa;
  size_t lb = sizeof sb;
  ASSERT_EQ(gnutls_x509_crt_get_serial(ca.get(), sa, &la), 0);
  ASSERT_EQ(gnutls_x509_crt_get_serial(cb.get(), sb, &lb), 0);
  EXPECT_EQ(la, 16u);
  EXPECT_EQ(sa[0] & 0x80, 0);
  EXPECT_NE(sa[0], 0);
  EXPECT_NE(std::string(reinterpret_cast<char*>(sa), la),
            std::string(reinterpret_cast<char*>(sb), lb));
  const auto now = wall_seconds();
  EXPECT_NEAR(double(gnutls_x509_crt_get_expiration_time(ca.get())), double(now + 48 * 3600), 5);
}

TEST(SelfSignedCertificate, RejectsBadArguments) {
  std::error_code ec;
  Certificate c = make_self_signed_certificate({}, ec);
  EXPECT_EQ(ec, errc::invalid_argument);
  EXPECT_TRUE(c.cert_pem.empty() && c.key_pem.empty());
  make_self_signed_certificate({"ok.test", ""}, ec);
  EXPECT_EQ(ec, errc::invalid_argument);
  make_self_signed_certificate({"ok.test"}, ec, std::chrono::hours(0));
  EXPECT_EQ(ec, errc::invalid_argument);
}

// ---------------------------------------------------------------------------------------------
// spki_pin_sha256

TEST(SpkiPin, MatchesIndependentComputation) {
  Certificate c = make_cert({"localhost"});
  std::error_code ec;
  std::string pin = spki_pin_sha256(c.cert_pem, ec);
  ASSERT_FALSE(ec);
  EXPECT_EQ(pin.size(), 44u);

  // GnuTLS's SHA-256 key ID is the hash of the whole DER SubjectPublicKeyInfo.
  auto crt = parse_cert(c.cert_pem);
  ASSERT_TRUE(crt);
  unsigned char id[64];
  size_t id_size = sizeof id;
  ASSERT_EQ(gnutls_x509_crt_get_key_id(crt.get(), GNUTLS_KEYID_USE_SHA256, id, &id_size), 0);
  ASSERT_EQ(id_size, 32u);
  EXPECT_EQ(pin, base64(id, id_size));
}

TEST(SpkiPin, MatchesOpenssl) {
  if (access("/usr/bin/openssl", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/openssl";
  TempDir dir;
  Certificate c = make_cert({"localhost", "127.0.0.1"});
  std::string path = dir.write("cert.pem", c.cert_pem);
  std::string cmd = "/usr/bin/openssl x509 -in '" + path +
                    "' -pubkey -noout | /usr/bin/openssl pkey -pubin -outform der | "
                    "/usr/bin/openssl dgst -sha256 -binary | base64";
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), &pclose);
  ASSERT_TRUE(p);
  char buf[128] = {};
  ASSERT_NE(fgets(buf, sizeof buf, p.get()), nullptr);
  std::string expected(buf);
  while (!expected.empty() && (expected.back() == '\n' || expected.back() == '\r')) {
    expected.pop_back();
  }
  std::error_code ec;
  EXPECT_EQ(spki_pin_sha256(c.cert_pem, ec), expected);
  EXPECT_FALSE(ec);
}

TEST(SpkiPin, UsesFirstCertificateOfChain) {
  Certificate a = make_cert({"a.test"});
  Certificate b = make_cert({"b.test"});
  std::error_code ec;
  std::string pin_a = spki_pin_sha256(a.cert_pem, ec);
  std::string pin_b = spki_pin_sha256(b.cert_pem, ec);
  EXPECT_NE(pin_a, pin_b);
  EXPECT_EQ(spki_pin_sha256(a.cert_pem + b.cert_pem, ec), pin_a);
  EXPECT_FALSE(ec);
}

TEST(SpkiPin, GarbageIsTlsCredentials) {
  std::error_code ec;
  EXPECT_EQ(spki_pin_sha256("not a certificate", ec), "");
  EXPECT_EQ(ec, errc::tls_credentials);
  ec.clear();
  EXPECT_EQ(spki_pin_sha256("", ec), "");
  EXPECT_EQ(ec, errc::tls_credentials);
  ec.clear();
  EXPECT_EQ(spki_pin_sha256("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", ec),
            "");
  EXPECT_EQ(ec, errc::tls_credentials);
  ec.clear();
  // A key is not a certificate.
  EXPECT_EQ(spki_pin_sha256(make_cert({"x.test"}).key_pem, ec), "");
  EXPECT_EQ(ec, errc::tls_credentials);
}

// ---------------------------------------------------------------------------------------------
// TlsContext::create

TEST(TlsContext, ServerFromMemoryAndFromFiles) {
  Certificate c = make_cert({"localhost"});
  auto mem = make_ctx(TlsContext::Role::server, server_settings(c));
  ASSERT_TRUE(mem);
  EXPECT_EQ(mem->role(), TlsContext::Role::server);

  TempDir dir;
  TlsSettings s;
  s.cert_file = dir.write("cert.pem", c.cert_pem);
  s.key_file = dir.write("key.pem", c.key_pem);
  s.alpn = {"h3"};
  auto files = make_ctx(TlsContext::Role::server, s);
  ASSERT_TRUE(files);

  // Files win over memory: a garbage cert_pem is ignored when cert_file is set.
  s.cert_pem = "garbage";
  s.key_pem = "garbage";
  EXPECT_TRUE(make_ctx(TlsContext::Role::server, s));
}

TEST(TlsContext, MissingFilesAreTlsCredentials) {
  Certificate c = make_cert({"localhost"});
  TempDir dir;
  TlsSettings s;
  s.cert_file = dir.file("missing.pem");
  s.key_pem = c.key_pem;
  s.alpn = {"h3"};
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("missing.pem"), std::string::npos) << detail;
  EXPECT_NE(detail.find("No such file"), std::string::npos) << detail;

  s.cert_file = dir.write("cert.pem", c.cert_pem);
  s.key_file = dir.file("missing-key.pem");
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("missing-key.pem"), std::string::npos) << detail;
}

TEST(TlsContext, ServerWithoutCredentialsIsTlsCredentials) {
  TlsSettings s;
  s.alpn = {"h3"};
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("certificate"), std::string::npos) << detail;

  s.cert_pem = make_cert({"localhost"}).cert_pem;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("key"), std::string::npos) << detail;
}

TEST(TlsContext, MismatchedKeyIsTlsCredentials) {
  Certificate a = make_cert({"a.test"});
  Certificate b = make_cert({"b.test"});
  TlsSettings s = server_settings(a);
  s.key_pem = b.key_pem;
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("does not match"), std::string::npos) << detail;
}

TEST(TlsContext, GarbagePemIsTlsCredentials) {
  Certificate c = make_cert({"localhost"});
  TlsSettings s = server_settings(c);
  s.cert_pem = "-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n";
  std::error_code ec;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec));
  EXPECT_EQ(ec, errc::tls_credentials);
  s = server_settings(c);
  s.key_pem = "garbage";
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::server, s, ec));
  EXPECT_EQ(ec, errc::tls_credentials);
}

TEST(TlsContext, AlpnValidation) {
  Certificate c = make_cert({"localhost"});
  std::error_code ec;
  std::string detail;
  for (auto alpn :
       std::vector<std::vector<std::string>>{{},
                                             {""},
                                             {"h3", ""},
                                             {std::string(32, 'x')},
                                             {std::string(256, 'x')},
                                             {"1", "2", "3", "4", "5", "6", "7", "8", "9"}}) {
    for (auto role : {TlsContext::Role::server, TlsContext::Role::client}) {
      ec.clear();
      TlsSettings s =
          role == TlsContext::Role::server ? server_settings(c, alpn) : client_settings("", alpn);
      EXPECT_FALSE(TlsContext::create(role, s, ec, &detail));
      EXPECT_EQ(ec, errc::invalid_argument) << alpn.size();
      EXPECT_NE(detail.find("alpn"), std::string::npos) << detail;
    }
  }
  // The longest name and the longest list GnuTLS takes work all the way to a session.
  std::vector<std::vector<std::string>> ok{{std::string(31, 'x')},
                                           {"1", "2", "3", "4", "5", "6", "7", "8"}};
  for (const auto& alpn : ok) {
    auto ctx = make_ctx(TlsContext::Role::server, server_settings(c, alpn));
    ASSERT_TRUE(ctx);
    TlsConnRef ref{};
    gnutls_session_t s = ctx->new_session(&ref, "", ec);
    EXPECT_NE(s, nullptr);
    gnutls_deinit(s);
  }
}

TEST(TlsContext, ClientTrust) {
  Certificate c = make_cert({"localhost"});
  TempDir dir;
  std::error_code ec;
  std::string detail;

  EXPECT_FALSE(TlsContext::create(TlsContext::Role::client, client_settings(dir.file("nope.pem")),
                                  ec, &detail));
  EXPECT_EQ(ec, errc::tls_credentials);
  EXPECT_NE(detail.find("nope.pem"), std::string::npos) << detail;

  EXPECT_FALSE(TlsContext::create(TlsContext::Role::client,
                                  client_settings(dir.write("empty.pem", "nothing here\n")), ec,
                                  &detail));
  EXPECT_EQ(ec, errc::tls_credentials);

  auto ctx = make_ctx(TlsContext::Role::client, client_settings(dir.write("ca.pem", c.cert_pem)));
  ASSERT_TRUE(ctx);
  EXPECT_EQ(ctx->role(), TlsContext::Role::client);

  TlsSettings system;
  system.alpn = {"h3"};
  EXPECT_TRUE(make_ctx(TlsContext::Role::client, system));
}

TEST(TlsContext, UnopenableKeylogFileIsInvalidArgument) {
  TlsSettings s = client_settings("");
  s.keylog_file = "/nonexistent-dir/keys.log";
  std::error_code ec;
  std::string detail;
  EXPECT_FALSE(TlsContext::create(TlsContext::Role::client, s, ec, &detail));
  EXPECT_EQ(ec, errc::invalid_argument);
  EXPECT_NE(detail.find("keylog_file"), std::string::npos) << detail;
}

// ---------------------------------------------------------------------------------------------
// TlsContext::new_session

TEST(TlsContext, NewSessionForBothRoles) {
  Certificate c = make_cert({"localhost"});
  TempDir dir;
  auto server = make_ctx(TlsContext::Role::server, server_settings(c));
  auto client =
      make_ctx(TlsContext::Role::client, client_settings(dir.write("ca.pem", c.cert_pem)));
  ASSERT_TRUE(server && client);
  TlsConnRef ref{};
  std::error_code ec;

  GnutlsPtr<gnutls_session_t> s(server->new_session(&ref, "", ec));
  ASSERT_TRUE(s);
  EXPECT_FALSE(ec);
  EXPECT_EQ(gnutls_session_get_ptr(s.get()), &ref);
  EXPECT_EQ(TlsContext::negotiated_alpn(s.get()), "");
  EXPECT_EQ(TlsContext::verify_failure(s.get()), "");

  GnutlsPtr<gnutls_session_t> cl(client->new_session(&ref, "localhost", ec));
  ASSERT_TRUE(cl);
  EXPECT_FALSE(ec);
  EXPECT_EQ(gnutls_session_get_ptr(cl.get()), &ref);

  // A verifying client needs a name to verify against.
  EXPECT_EQ(client->new_session(&ref, "", ec), nullptr);
  EXPECT_EQ(ec, errc::invalid_argument);
}

TEST(TlsContext, NewSessionConcurrently) {
  Certificate c = make_cert({"localhost"});
  auto server = make_ctx(TlsContext::Role::server, server_settings(c));
  ASSERT_TRUE(server);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      TlsConnRef ref{};
      for (int i = 0; i < 50; ++i) {
        std::error_code ec;
        GnutlsPtr<gnutls_session_t> s(server->new_session(&ref, "", ec));
        if (!s) ++failures;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures, 0);
}

// ---------------------------------------------------------------------------------------------
// Handshakes

// The SNI a server session received, "" if none.
std::string server_name(gnutls_session_t s) {
  char name[256];
  size_t size = sizeof name;
  unsigned type = 0;
  if (gnutls_server_name_get(s, name, &size, &type, 0) != 0) return "";
  return std::string(name, size);
}

class Handshake : public testing::Test {
 protected:
  std::shared_ptr<TlsContext> server(const Certificate& c, std::vector<std::string> alpn = {"h3"}) {
    return make_ctx(TlsContext::Role::server, server_settings(c, std::move(alpn)));
  }
  std::shared_ptr<TlsContext> trusting_client(const Certificate& c,
                                              std::vector<std::string> alpn = {"h3"}) {
    return make_ctx(TlsContext::Role::client,
                    client_settings(dir_.write("ca.pem", c.cert_pem), std::move(alpn)));
  }

  TempDir dir_;
};

TEST_F(Handshake, SucceedsAndNegotiatesServerPreferredAlpn) {
  Certificate c = make_cert({"localhost", "127.0.0.1"});
  QuicPair pair(server(c, {"h3", "hq-interop"}), trusting_client(c, {"hq-interop", "h3"}));
  ASSERT_TRUE(pair.handshake("localhost"))
      << pair.client.error << " " << pair.server.error << " "
      << (pair.client.tls ? TlsContext::verify_failure(pair.client.tls) : "");
  EXPECT_EQ(TlsContext::negotiated_alpn(pair.client.tls), "h3");
  EXPECT_EQ(TlsContext::negotiated_alpn(pair.server.tls), "h3");
  EXPECT_EQ(TlsContext::verify_failure(pair.client.tls), "");
  EXPECT_EQ(gnutls_protocol_get_version(pair.client.tls), GNUTLS_TLS1_3);
  EXPECT_EQ(gnutls_cipher_get(pair.client.tls), GNUTLS_CIPHER_AES_128_GCM);
  EXPECT_EQ(server_name(pair.server.tls), "localhost");
  // The server issued a session ticket.
  EXPECT_TRUE(gnutls_session_get_flags(pair.client.tls) & GNUTLS_SFLAGS_SESSION_TICKET);
}

// Tickets resume sessions; they advertise the early data size QUIC requires; 0-RTT is
// accepted once per ClientHello and refused when the same ClientHello is replayed.
TEST_F(Handshake, TicketsResumeAndAntiReplayRefusesReplayedEarlyData) {
  Certificate c = make_cert({"localhost"});
  auto srv = server(c);
  auto cli = trusting_client(c);
  QuicPair first(srv, cli);
  ASSERT_TRUE(first.handshake("localhost"));
  EXPECT_FALSE(gnutls_session_is_resumed(first.server.tls));
  // From the NewSessionTicket's early_data extension; RFC 9001 §4.6.1 requires 0xffffffff.
  EXPECT_EQ(gnutls_record_get_max_early_data_size(first.client.tls), 0xffffffffu);
  GnutlsDatum ticket;
  ASSERT_EQ(gnutls_session_get_data2(first.client.tls, ticket.get()), 0);

  const auto resume = [&](gnutls_session_t s) {
    ASSERT_EQ(gnutls_session_set_data(s, ticket.get()->data, ticket.get()->size), 0);
  };

  QuicPair second(srv, cli);
  second.client_offers_early_data = true;
  ASSERT_TRUE(second.handshake("localhost", resume));
  EXPECT_TRUE(gnutls_session_is_resumed(second.server.tls));
  EXPECT_TRUE(gnutls_session_is_resumed(second.client.tls));
  EXPECT_TRUE(TlsContext::resumed(second.server.tls));
  EXPECT_TRUE(gnutls_session_get_flags(second.server.tls) & GNUTLS_SFLAGS_EARLY_DATA);

  QuicEnd replayed;
  ASSERT_TRUE(second.replay_first_flight(replayed));
  EXPECT_FALSE(gnutls_session_get_flags(replayed.tls) & GNUTLS_SFLAGS_EARLY_DATA);

  // The engine's clients resume without offering 0-RTT (they have no early data to send).
  QuicPair third(srv, cli);
  ASSERT_TRUE(third.handshake("localhost", resume));
  EXPECT_TRUE(TlsContext::resumed(third.client.tls));
  EXPECT_FALSE(gnutls_session_get_flags(third.server.tls) & GNUTLS_SFLAGS_EARLY_DATA);
}

// Contexts made with one ticket secret resume each other's tickets, and refuse 0-RTT: no single
// anti-replay cache covers them.
TEST_F(Handshake, TicketSecretSharesTicketsAndRefusesEarlyData) {
  Certificate c = make_cert({"localhost"});
  const std::array<uint8_t, 32> secret{7, 7, 7};
  std::error_code ec;
  auto ctx_with = [&](std::span<const uint8_t> s) {
    auto ctx =
        TlsContext::create(TlsContext::Role::server, server_settings(c, {"h3"}), ec, nullptr, s);
    EXPECT_TRUE(ctx) << ec.message();
    return ctx;
  };
  auto first_server = ctx_with(secret);
  auto cli = trusting_client(c);
  QuicPair first(first_server, cli);
  ASSERT_TRUE(first.handshake("localhost"));
  GnutlsDatum ticket;
  ASSERT_EQ(gnutls_session_get_data2(first.client.tls, ticket.get()), 0);
  const auto resume = [&](gnutls_session_t s) {
    ASSERT_EQ(gnutls_session_set_data(s, ticket.get()->data, ticket.get()->size), 0);
  };

  QuicPair twin(ctx_with(secret), cli);  // another process with the same secret
  twin.client_offers_early_data = true;
  ASSERT_TRUE(twin.handshake("localhost", resume));
  EXPECT_TRUE(TlsContext::resumed(twin.server.tls));
  EXPECT_FALSE(gnutls_session_get_flags(twin.server.tls) & GNUTLS_SFLAGS_EARLY_DATA);

  const std::array<uint8_t, 32> other{8};
  QuicPair stranger(ctx_with(other), cli);
  ASSERT_TRUE(stranger.handshake("localhost", resume));
  EXPECT_FALSE(TlsContext::resumed(stranger.server.tls));
}

TEST_F(Handshake, VerifiesIpLiteralsAgainstIpAddressSans) {
  Certificate c = make_cert({"localhost", "127.0.0.1", "::1"});
  for (const char* host : {"127.0.0.1", "::1"}) {
    QuicPair pair(server(c), trusting_client(c));
    EXPECT_TRUE(pair.handshake(host)) << host;
    EXPECT_EQ(server_name(pair.server.tls), "") << "no SNI for an IP literal";
  }
  QuicPair wrong_ip(server(c), trusting_client(c));
  EXPECT_FALSE(wrong_ip.handshake("127.0.0.2"));
  EXPECT_NE(TlsContext::verify_failure(wrong_ip.client.tls), "");

  // An IP literal does not match a dNSName holding the same text.
  Certificate dns_only = make_cert({"localhost"});
  QuicPair pair(server(dns_only), trusting_client(dns_only));
  EXPECT_FALSE(pair.handshake("127.0.0.1"));
}

TEST_F(Handshake, WrongNameFailsWithReason) {
  Certificate c = make_cert({"localhost"});
  QuicPair pair(server(c), trusting_client(c));
  EXPECT_FALSE(pair.handshake("example.com"));
  std::string reason = TlsContext::verify_failure(pair.client.tls);
  EXPECT_NE(reason.find("does not match"), std::string::npos) << reason;
}

TEST_F(Handshake, UntrustedCertificateFailsWithReason) {
  Certificate c = make_cert({"localhost"});
  Certificate other = make_cert({"localhost"});
  QuicPair pair(server(c), trusting_client(other));
  EXPECT_FALSE(pair.handshake("localhost"));
  std::string reason = TlsContext::verify_failure(pair.client.tls);
  EXPECT_NE(reason.find("NOT trusted"), std::string::npos) << reason;
}

TEST_F(Handshake, InsecureSkipVerifyAcceptsAnyCertificate) {
  Certificate c = make_cert({"localhost"});
  TlsSettings s = client_settings("");
  s.insecure_skip_verify = true;
  QuicPair pair(server(c), make_ctx(TlsContext::Role::client, s));
  EXPECT_TRUE(pair.handshake("example.com"));
  EXPECT_EQ(TlsContext::verify_failure(pair.client.tls), "");
}

TEST_F(Handshake, AlpnMismatchFailsWithNoApplicationProtocol) {
  Certificate c = make_cert({"localhost"});
  QuicPair pair(server(c, {"h3"}), trusting_client(c, {"hq-interop"}));
  EXPECT_FALSE(pair.handshake("localhost"));
  ASSERT_NE(pair.server.conn, nullptr);
  EXPECT_EQ(ngtcp2_conn_get_tls_alert(pair.server.conn), GNUTLS_A_NO_APPLICATION_PROTOCOL);
  EXPECT_EQ(TlsContext::negotiated_alpn(pair.client.tls), "");
}

// Checks `path` holds NSS key log lines for one TLS 1.3 handshake per side with the given
// client random.
void expect_keylog(const std::string& path, gnutls_session_t client) {
  gnutls_datum_t random{nullptr, 0};
  gnutls_session_get_random(client, &random, nullptr);
  std::string random_hex;
  for (unsigned i = 0; i < random.size; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", random.data[i]);
    random_hex += b;
  }
  std::istringstream in(read_all(path));
  std::multiset<std::string> labels;
  std::string label;
  std::string rnd;
  std::string secret;
  while (in >> label >> rnd >> secret) {
    labels.insert(label);
    EXPECT_EQ(rnd, random_hex);
    EXPECT_EQ(secret.size(), 64u) << label;  // SHA-256 suites
    EXPECT_EQ(secret.find_first_not_of("0123456789abcdef"), std::string::npos);
  }
  for (const char* l : {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                        "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}) {
    EXPECT_EQ(labels.count(l), 2u) << l;  // written by both sides
  }
}

TEST_F(Handshake, WritesKeyLogFile) {
  Certificate c = make_cert({"localhost"});
  std::string keylog = dir_.file("keys.log");
  TlsSettings ss = server_settings(c);
  ss.keylog_file = keylog;
  TlsSettings cs = client_settings(dir_.write("ca.pem", c.cert_pem));
  cs.keylog_file = keylog;
  QuicPair pair(make_ctx(TlsContext::Role::server, ss), make_ctx(TlsContext::Role::client, cs));
  ASSERT_TRUE(pair.handshake("localhost"));
  expect_keylog(keylog, pair.client.tls);
  EXPECT_EQ(fs::status(keylog).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

// GnuTLS reads SSLKEYLOGFILE once per process, so this runs in a fresh process.
TEST_F(Handshake, GnutlsHonoursSslKeyLogFileWhenKeylogFileIsEmpty) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Certificate c = make_cert({"localhost"});
  std::string keylog = dir_.file("env-keys.log");
  std::string ca = dir_.write("ca.pem", c.cert_pem);
  EXPECT_EXIT(
      {
        setenv("SSLKEYLOGFILE", keylog.c_str(), 1);
        QuicPair pair(make_ctx(TlsContext::Role::server, server_settings(c)),
                      make_ctx(TlsContext::Role::client, client_settings(ca)));
        bool ok = pair.handshake("localhost");
        expect_keylog(keylog, pair.client.tls);
        std::exit(ok && !testing::Test::HasFailure() ? 0 : 1);
      },
      testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace asioquic
