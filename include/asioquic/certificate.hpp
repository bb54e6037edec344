// Self-signed certificates and SPKI pins, for tools, tests and local servers.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace asioquic {

/// A certificate and its private key, both PEM ("CERTIFICATE" and PKCS#8 "PRIVATE KEY").
struct Certificate {
  std::string cert_pem;
  std::string key_pem;
};

/// Makes an ECDSA P-256 self-signed server certificate valid from one hour ago until `validity`
/// from now. The first name is the subject CN; every name becomes a subjectAltName (IPv4/IPv6
/// literals as iPAddress, others as dNSName). Key usage digitalSignature, extended key usage
/// serverAuth, CA:FALSE, random 128-bit serial, SHA-256 signature.
/// On failure returns an empty Certificate and sets `ec`: errc::invalid_argument when `names` is
/// empty, a name is empty, or `validity` is not positive or exceeds 100 years; errc::internal
/// when GnuTLS fails.
Certificate make_self_signed_certificate(const std::vector<std::string>& names, std::error_code& ec,
                                         std::chrono::hours validity = std::chrono::hours(24 * 14));

/// Returns the base64 SHA-256 of the DER SubjectPublicKeyInfo of the first certificate in
/// `cert_pem`: the value Chromium's --ignore-certificate-errors-spki-list expects.
/// On failure (no parsable PEM certificate) returns "" and sets `ec` to errc::tls_credentials.
std::string spki_pin_sha256(std::string_view cert_pem, std::error_code& ec);

}  // namespace asioquic
