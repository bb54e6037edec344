// The client's command line.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::tools {

/// Where the body of one URL goes (-o FILE or -O), matched to URLs in order.
struct OutputSpec {
  bool remote_name = false;  // -O: name the file after the URL
  std::string path;          // -o FILE; "-" is stdout
};

/// A request header from -H. `remove` drops a default header of that name instead.
struct HeaderSpec {
  std::string name;  // lower-case
  std::string value;
  bool remove = false;
};

struct ClientOptions {
  std::vector<std::string> urls;
  std::vector<OutputSpec> outputs;
  std::string method;  // empty: GET, or POST with a body, or HEAD with -I
  std::vector<HeaderSpec> headers;
  std::optional<std::string> data;  // -d DATA
  std::string data_file;            // -d @FILE
  bool head = false;
  bool verbose = false;
  bool fail = false;
  bool silent = false;
  bool show_error = false;
  bool insecure = false;
  std::string cacert;
  std::string session_file;  // --session-file; empty: no resumption
  bool early_data = false;   // --early-data (needs session_file)
  size_t parallel = 0;       // 0: no limit
  std::optional<std::chrono::milliseconds> connect_timeout;
  std::optional<std::chrono::milliseconds> max_time;
  bool help = false;
  bool version = false;
};

/// Parses the client's arguments. On a usage error returns nullopt and sets `error` to a
/// message naming the offending option or value.
std::optional<ClientOptions> parse_client_options(int argc, char** argv, std::string& error);

/// The --help text.
std::string_view client_usage();

}  // namespace asioquic::tools
