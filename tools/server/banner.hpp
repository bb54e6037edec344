// What the server prints when it starts: where it listens and how to open it.
#pragma once

#include <ostream>
#include <vector>

#include <asio/ip/udp.hpp>

#include "server/credentials.hpp"
#include "server/options.hpp"

namespace asioquic::tools {

/// Prints the URLs of the bound addresses (an unspecified address as its loopback), the
/// certificate's SPKI pin, the Chromium command lines (interactive and headless) that open
/// the first URL over HTTP/3, and the asioquic-client command that fetches it.
void print_banner(std::ostream& out, const ServerOptions& options, const Credentials& credentials,
                  const std::vector<asio::ip::udp::endpoint>& bound);

}  // namespace asioquic::tools
