// asioquic-bench's command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace asioquic::bench {

/// What the load generator does with its connections.
enum class Mode {
  requests,    // -c connections, -m requests in flight on each, until -n or -D
  handshakes,  // -c slots, each: connect, one request, close, again; until -n or -D
  idle,        // -c connections, one request each, then held open for -D seconds
};

struct LoadOptions {
  Mode mode = Mode::requests;
  std::string url;
  std::string host;       // from the URL, without brackets
  uint16_t port = 443;    // from the URL
  std::string authority;  // host[:port] as written in the URL
  std::string path = "/";
  size_t connections = 1;
  size_t streams = 1;                                 // requests in flight per connection (-m)
  std::optional<uint64_t> requests;                   // -n
  std::optional<std::chrono::milliseconds> duration;  // -D
  std::chrono::milliseconds warm_up{0};               // with -D: run this long first, uncounted
  size_t body_size = 0;                               // -d: POST a body of this many bytes
  size_t threads = 1;
  size_t connect_parallel = 64;                    // --idle: handshakes in flight while ramping up
  std::chrono::milliseconds timeout{10'000};       // handshake and per-request limit
  std::chrono::milliseconds idle_timeout{30'000};  // QUIC max_idle_timeout we offer
  std::chrono::milliseconds max_time{300'000};     // the whole run, a backstop
  std::string cacert;       // verify the server against this PEM; empty: no verification
  std::string qlog_dir;     // empty: no qlog
  bool resume = false;      // --handshakes: each slot resumes TLS with its last ticket
  bool early_data = false;  // --resume: requests go as 0-RTT early data
  bool quiet = false;       // only the result line
  bool help = false;
  bool version = false;
};

/// Parses the arguments. On a usage error returns nullopt and sets `error`.
std::optional<LoadOptions> parse_load_options(int argc, char** argv, std::string& error);

/// The --help text.
std::string_view load_usage();

}  // namespace asioquic::bench
