#include "server/credentials.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <asioquic/certificate.hpp>

namespace asioquic::tools {
namespace {

// The whole content of a small text file; nullopt (and `error` set) if it cannot be read.
std::optional<std::string> read_text_file(const std::string& path, std::string_view what,
                                          std::string& error) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  if (!in || in.bad()) {
    error = "cannot read " + std::string(what) + " " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  return text.str();
}

}  // namespace

std::optional<Credentials> load_credentials(const ServerOptions& options, std::string& error) {
  Credentials c;
  std::error_code ec;
  if (!options.cert_file.empty()) {
    auto cert = read_text_file(options.cert_file, "--cert", error);
    if (!cert) return std::nullopt;
    auto key = read_text_file(options.key_file, "--key", error);
    if (!key) return std::nullopt;
    c.cert_pem = std::move(*cert);
    c.key_pem = std::move(*key);
  } else {
    c.names = {"localhost", "127.0.0.1", "::1"};
    for (const auto& ep : options.listen) {
      const auto addr = ep.address();
      const std::string name = addr.to_string();
      if (!addr.is_unspecified() &&
          std::find(c.names.begin(), c.names.end(), name) == c.names.end())
        c.names.push_back(name);
    }
    Certificate made = make_self_signed_certificate(c.names, ec);
    if (ec) {
      error = "cannot make a self-signed certificate: " + ec.message();
      return std::nullopt;
    }
    c.cert_pem = std::move(made.cert_pem);
    c.key_pem = std::move(made.key_pem);
  }
  c.spki_pin = spki_pin_sha256(c.cert_pem, ec);
  if (ec) {
    error = "no usable certificate in " +
            (options.cert_file.empty() ? std::string("the generated PEM") : options.cert_file) +
            ": " + ec.message();
    return std::nullopt;
  }
  return c;
}

}  // namespace asioquic::tools
