// impairment_relay's command line: what it means and how it is parsed.
#pragma once

#include "impairment.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace impairment {

struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;

  int family() const { return ss.ss_family; }
  const sockaddr* sa() const { return reinterpret_cast<const sockaddr*>(&ss); }
  std::string to_string() const;
};

// "A.B.C.D:PORT" or "[V6]:PORT".
std::optional<Address> parse_address(std::string_view text);

struct RelayOptions {
  Address listen;
  Address server;
  uint64_t seed = 1;
  DirectionProfile dir[2];
  unsigned drop_initials = 0;
  std::vector<double> rebind_port_at;  // seconds after the first datagram
  std::vector<double> rebind_addr_at;
  bool stats = false;
  double stats_interval_s = 1;
  double duration_s = 0;  // 0: until a signal
  double idle_timeout_s = 30;
  size_t max_payload = 1472;
  size_t max_clients = 1024;
  size_t pool = 65536;
  bool gso = true;
  bool gro = true;
};

struct ParseResult {
  std::optional<RelayOptions> options;  // empty: error (or --help, with error empty)
  std::string error;
};

ParseResult parse_options(int argc, const char* const* argv);
const char* usage();

}  // namespace impairment
