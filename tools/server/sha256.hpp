// Sha256: an incremental SHA-256 (GnuTLS), for the /upload endpoint.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace asioquic::tools {

class Sha256 {
 public:
  /// Starts a digest. If GnuTLS cannot, update() does nothing and hex_digest() returns "".
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  ~Sha256();

  /// Adds bytes to the digest.
  void update(std::span<const uint8_t> bytes);
  /// The lower-case hex digest of everything added; ends the hash (call once). Returns "" if
  /// GnuTLS could not set up the hash.
  std::string hex_digest();

 private:
  void* state_ = nullptr;  // gnutls_hash_hd_t, kept out of this header
};

}  // namespace asioquic::tools
