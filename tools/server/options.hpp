// The server's command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/ip/udp.hpp>

#include <asioquic/settings.hpp>

namespace asioquic::tools {

struct ServerOptions {
  std::vector<asio::ip::udp::endpoint> listen;  // at least one after parsing
  std::string root;                             // empty: the demo page
  std::string cert_file;
  std::string key_file;
  std::string qlog_dir;
  std::string secret_file;  // empty: a random static secret
  bool retry = false;
  CongestionControl congestion_control = CongestionControl::cubic;
  std::optional<uint64_t> max_streams;
  uint64_t max_requests_per_connection = 0;
  std::optional<std::chrono::milliseconds> idle_timeout;
  std::chrono::milliseconds drain_timeout{10'000};
  size_t threads = 1;  // shards of listen_sharded(); 1: listen()
  bool quiet = false;
  bool help = false;
  bool version = false;
};

/// Parses the server's arguments. On a usage error returns nullopt and sets `error` to a
/// message naming the offending option or value.
std::optional<ServerOptions> parse_server_options(int argc, char** argv, std::string& error);

/// The --help text.
std::string_view server_usage();

}  // namespace asioquic::tools
