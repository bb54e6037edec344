// asioquic-bench: an HTTP/3 load generator on asio-quic (requests, handshakes, idle
// connections). See load_usage() in options.cpp.
#include <csignal>
#include <iostream>

#include "common/allocator.hpp"
#include "common/version.hpp"
#include "load/options.hpp"
#include "load/runner.hpp"

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  const auto options = asioquic::bench::parse_load_options(argc, argv, error);
  if (!options) {
    std::cerr << "asioquic-bench: " << error << "\nTry 'asioquic-bench --help'.\n";
    return 2;
  }
  if (options->help) {
    std::cout << asioquic::bench::load_usage();
    return 0;
  }
  if (options->version) {
    std::cout << "asioquic-bench " << asioquic::tools::kVersion << " ("
              << asioquic::tools::allocator_name() << ")\n";
    return 0;
  }
  return asioquic::bench::run_load(*options, std::cout);
}
