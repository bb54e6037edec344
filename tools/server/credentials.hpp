// The server's certificate: loaded from --cert/--key or made on the spot.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/options.hpp"

namespace asioquic::tools {

struct Credentials {
  std::string cert_pem;
  std::string key_pem;
  std::string spki_pin;            // base64 SHA-256 of the certificate's public key
  std::vector<std::string> names;  // a self-signed certificate's names; empty for --cert
};

/// Reads --cert and --key, or (without them) makes a self-signed certificate whose names are
/// localhost, 127.0.0.1, ::1 and the specific listen addresses. On failure returns nullopt and
/// sets `error` to a message naming the file or step and the cause.
std::optional<Credentials> load_credentials(const ServerOptions& options, std::string& error);

}  // namespace asioquic::tools
