#include "asioquic/certificate.hpp"

#include <arpa/inet.h>
#include <gnutls/crypto.h>

#include <climits>
#include <ctime>

#include "asioquic/error.hpp"
#include "engine/tls_context.hpp"

namespace asioquic {
namespace {

using engine::GnutlsDatum;
using engine::GnutlsPtr;

// Longest validity accepted; keeps the time arithmetic far from overflow.
constexpr std::chrono::hours kMaxValidity(24 * 365 * 100);

// Adds `name` as a subjectAltName: iPAddress for an IPv4/IPv6 literal, dNSName otherwise.
// Returns a GnuTLS error code (0 on success).
int add_san(gnutls_x509_crt_t crt, const std::string& name) {
  unsigned char ip[16];
  if (inet_pton(AF_INET, name.c_str(), ip) == 1) {
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 4,
                                                GNUTLS_FSAN_APPEND);
  }
  if (inet_pton(AF_INET6, name.c_str(), ip) == 1) {
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, 16,
                                                GNUTLS_FSAN_APPEND);
  }
  return gnutls_x509_crt_set_subject_alt_name(
      crt, GNUTLS_SAN_DNSNAME, name.data(), static_cast<unsigned>(name.size()), GNUTLS_FSAN_APPEND);
}

// Fills in and self-signs `crt` with `key`. Returns a GnuTLS error code (0 on success).
int build_certificate(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key,
                      const std::vector<std::string>& names, std::chrono::hours validity) {
  // A positive 128-bit serial: the top bit is cleared so the DER INTEGER needs no sign byte,
  // and a bit below it is set so it never starts with a zero byte (which DER forbids).
  unsigned char serial[16];
  int rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
  if (rc < 0) return rc;
  serial[0] = static_cast<unsigned char>((serial[0] & 0x3f) | 0x40);

  const auto now = std::chrono::system_clock::now();
  const time_t not_before = std::chrono::system_clock::to_time_t(now - std::chrono::hours(1));
  const time_t not_after = std::chrono::system_clock::to_time_t(now + validity);
  const std::string& cn = names.front();

  if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
      (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
      (rc = gnutls_x509_crt_set_activation_time(crt, not_before)) < 0 ||
      (rc = gnutls_x509_crt_set_expiration_time(crt, not_after)) < 0 ||
      (rc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn.data(),
                                          static_cast<unsigned>(cn.size()))) < 0 ||
      (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
      (rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
      (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
      (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0) {
    return rc;
  }
  for (const auto& name : names) {
    if ((rc = add_san(crt, name)) < 0) return rc;
  }
  return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

}  // namespace

Certificate make_self_signed_certificate(const std::vector<std::string>& names, std::error_code& ec,
                                         std::chrono::hours validity) {
  if (names.empty() || validity <= std::chrono::hours(0) || validity > kMaxValidity) {
    ec = errc::invalid_argument;
    return {};
  }
  for (const auto& name : names) {
    if (name.empty() || name.size() > UINT_MAX) {
      ec = errc::invalid_argument;
      return {};
    }
  }

  ec = errc::internal;
  gnutls_x509_privkey_t raw_key;
  if (gnutls_x509_privkey_init(&raw_key) < 0) return {};
  GnutlsPtr<gnutls_x509_privkey_t> key(raw_key);
  if (gnutls_x509_privkey_generate2(raw_key, GNUTLS_PK_ECDSA,
                                    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, nullptr,
                                    0) < 0) {
    return {};
  }

  gnutls_x509_crt_t raw_crt;
  if (gnutls_x509_crt_init(&raw_crt) < 0) return {};
  GnutlsPtr<gnutls_x509_crt_t> crt(raw_crt);
  if (build_certificate(raw_crt, raw_key, names, validity) < 0) return {};

  GnutlsDatum cert_pem;
  GnutlsDatum key_pem;
  if (gnutls_x509_crt_export2(raw_crt, GNUTLS_X509_FMT_PEM, cert_pem.get()) < 0 ||
      gnutls_x509_privkey_export2_pkcs8(raw_key, GNUTLS_X509_FMT_PEM, nullptr, GNUTLS_PKCS_PLAIN,
                                        key_pem.get()) < 0) {
    return {};
  }
  ec.clear();
  return {std::string(cert_pem.view()), std::string(key_pem.view())};
}

std::string spki_pin_sha256(std::string_view cert_pem, std::error_code& ec) {
  ec = errc::tls_credentials;
  if (cert_pem.size() > UINT_MAX) return {};
  gnutls_datum_t in{reinterpret_cast<unsigned char*>(const_cast<char*>(cert_pem.data())),
                    static_cast<unsigned>(cert_pem.size())};

  gnutls_x509_crt_t raw_crt;
  if (gnutls_x509_crt_init(&raw_crt) < 0) {
    ec = errc::internal;
    return {};
  }
  GnutlsPtr<gnutls_x509_crt_t> crt(raw_crt);
  // Imports the first certificate of a PEM bundle.
  if (gnutls_x509_crt_import(raw_crt, &in, GNUTLS_X509_FMT_PEM) < 0) return {};

  gnutls_pubkey_t raw_pub;
  if (gnutls_pubkey_init(&raw_pub) < 0) {
    ec = errc::internal;
    return {};
  }
  GnutlsPtr<gnutls_pubkey_t> pub(raw_pub);
  GnutlsDatum spki;
  if (gnutls_pubkey_import_x509(raw_pub, raw_crt, 0) < 0 ||
      gnutls_pubkey_export2(raw_pub, GNUTLS_X509_FMT_DER, spki.get()) < 0) {
    return {};
  }

  unsigned char digest[32];
  gnutls_datum_t digest_d{digest, sizeof digest};
  GnutlsDatum b64;
  if (gnutls_hash_fast(GNUTLS_DIG_SHA256, spki.get()->data, spki.get()->size, digest) < 0 ||
      gnutls_base64_encode2(&digest_d, b64.get()) < 0) {
    ec = errc::internal;
    return {};
  }
  ec.clear();
  return std::string(b64.view());
}

}  // namespace asioquic
