#include "server/banner.hpp"

#include <string>

#include "common/version.hpp"

namespace asioquic::tools {
namespace {

// "host:port" as it appears in a URL and in Chromium's --origin-to-force-quic-on.
std::string origin(const asio::ip::udp::endpoint& ep) {
  auto addr = ep.address();
  if (addr.is_unspecified()) {
    addr = addr.is_v6() ? asio::ip::address(asio::ip::address_v6::loopback())
                        : asio::ip::address(asio::ip::address_v4::loopback());
  }
  // Appended piecewise: g++ 12 -O3 reports a false -Wrestrict for "literal" + std::string.
  std::string text = addr.is_v6() ? "[" : "";
  text += addr.to_string();
  if (addr.is_v6()) text += ']';
  text += ':';
  text += std::to_string(ep.port());
  return text;
}

}  // namespace

void print_banner(std::ostream& out, const ServerOptions& options, const Credentials& credentials,
                  const std::vector<asio::ip::udp::endpoint>& bound) {
  out << "asioquic-server " << kVersion << ": serving "
      << (options.root.empty() ? "the demo page" : "files under " + options.root)
      << " over HTTP/3\n";
  for (const auto& ep : bound)
    out << "  https://" << origin(ep) << "/   (UDP " << ep << ")\n";
  if (options.threads > 1) {
    out << "threads: " << options.threads
        << " (a socket each per address, datagrams steered by connection ID)\n";
  }
  if (credentials.names.empty()) {
    out << "certificate: " << options.cert_file << "\n";
  } else {
    out << "certificate: self-signed for";
    for (const auto& n : credentials.names)
      out << " " << n;
    out << "\n";
  }
  out << "SPKI pin (sha256, base64): " << credentials.spki_pin << "\n";

  const std::string first = origin(bound.front());
  const std::string url = "https://" + first + "/";
  const std::string flags =
      "--no-sandbox --user-data-dir=$(mktemp -d) --enable-quic "
      "--origin-to-force-quic-on=" +
      first + " --ignore-certificate-errors-spki-list=" + credentials.spki_pin;
  out << "\nOpen it in Chromium:\n  chromium " << flags << " " << url << "\n";
  out << "Headless, printing the page after its script ran:\n  chromium --headless=new " << flags
      << " --dump-dom " << url << "\n";
  out << "Fetch it with asioquic-client:\n  asioquic-client "
      << (options.cert_file.empty() ? std::string("--insecure") : "--cacert " + options.cert_file)
      << " " << url << "\n"
      << std::endl;
}

}  // namespace asioquic::tools
