// asioquic-server: an HTTP/3 server for the demo page, static files and test endpoints.
// See server_usage() in options.cpp for what it does.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>

#include <csignal>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include "common/allocator.hpp"
#include "common/version.hpp"
#include "server/banner.hpp"
#include "server/credentials.hpp"
#include "server/options.hpp"
#include "server/request_log.hpp"
#include "server/router.hpp"
#include "server/secret_file.hpp"
#include "server/shutdown_signals.hpp"

namespace {

using namespace asioquic;
using namespace asioquic::tools;

// Transport settings from the options; on an invalid one returns nullopt and sets `error`.
std::optional<ServerSettings> make_settings(const ServerOptions& o, const Credentials& c,
                                            std::string& error) {
  ServerSettings s;
  s.tls.alpn = {"h3"};
  s.tls.cert_pem = c.cert_pem;
  s.tls.key_pem = c.key_pem;
  s.retry = o.retry;
  s.congestion_control = o.congestion_control;
  s.qlog_dir = o.qlog_dir;
  if (o.max_streams) s.max_streams_bidi = *o.max_streams;
  if (o.idle_timeout) s.idle_timeout = *o.idle_timeout;
  if (!o.secret_file.empty()) {
    auto secret = read_secret_file(o.secret_file, error);
    if (!secret) return std::nullopt;
    s.static_secret = *secret;
  }
  std::string what;
  if (auto ec = validate(s, &what)) {
    error = "invalid setting " + what + ": " + ec.message();
    return std::nullopt;
  }
  return s;
}

// Checks the served directory and creates the qlog directory; on failure returns false and
// sets `error`.
bool prepare_directories(const ServerOptions& o, std::string& error) {
  std::error_code ec;
  if (!o.root.empty() && !std::filesystem::is_directory(o.root, ec)) {
    error = "--root " + o.root + ": " + (ec ? ec.message() : std::string("not a directory"));
    return false;
  }
  if (!o.qlog_dir.empty()) {
    std::filesystem::create_directories(o.qlog_dir, ec);
    if (ec) {
      error = "--qlog-dir " + o.qlog_dir + ": " + ec.message();
      return false;
    }
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // A closed stdout (a log piped into `head`) must not kill the server.
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  const auto options = parse_server_options(argc, argv, error);
  if (!options) {
    std::cerr << "asioquic-server: " << error << "\nTry 'asioquic-server --help'.\n";
    return 2;
  }
  if (options->help) {
    std::cout << server_usage();
    return 0;
  }
  if (options->version) {
    std::cout << "asioquic-server " << kVersion << " (" << allocator_name() << ")\n";
    return 0;
  }
  const auto credentials = load_credentials(*options, error);
  std::optional<ServerSettings> settings;
  if (credentials) settings = make_settings(*options, *credentials, error);
  if (!settings || !prepare_directories(*options, error)) {
    std::cerr << "asioquic-server: " << error << "\n";
    return 1;
  }

  // A shard per thread, each an io_context run by its thread alone: with this hint, connections
  // need no strand (listener.hpp). This thread runs shards[0], with the signals and accepting.
  std::vector<std::unique_ptr<asio::io_context>> shards;
  std::vector<asio::any_io_executor> executors;
  for (size_t i = 0; i < options->threads; ++i) {
    shards.push_back(std::make_unique<asio::io_context>(ASIO_CONCURRENCY_HINT_UNSAFE_IO));
    executors.push_back(shards.back()->get_executor());
  }
  asio::io_context& io = *shards.front();
  std::error_code ec;
  Listener listener = options->threads == 1
                          ? listen(io.get_executor(), options->listen, *settings, ec)
                          : listen_sharded(executors, options->listen, *settings, ec);
  if (ec == errc::tls_credentials) {
    std::cerr << "asioquic-server: cannot use the certificate and key"
              << (options->cert_file.empty()
                      ? ""
                      : " from " + options->cert_file + " and " + options->key_file)
              << ": " << ec.message() << "\n";
    return 1;
  }
  if (ec) {
    std::cerr << "asioquic-server: cannot listen on";
    for (const auto& ep : options->listen)
      std::cerr << " " << ep;
    std::cerr << ": " << ec.message() << "\n";
    return 1;
  }
  print_banner(std::cout, *options, *credentials, listener.local_endpoints());

  RequestLog log(std::cout, !options->quiet);
  std::optional<std::filesystem::path> root;
  if (!options->root.empty()) root = options->root;
  auto router = std::make_shared<const Router>(std::move(root), log);
  h3::Settings h3_settings;
  h3_settings.max_requests_per_connection = options->max_requests_per_connection;
  h3::Server server(
      listener, h3_settings,
      [router](h3::ServerRequest req, h3::ServerResponse res) {
        return router->handle(std::move(req), std::move(res));
      },
      [router](const h3::ServerRequest& req, const h3::ServerResponse& res) {
        return router->answer_now(req, res);
      });

  // The other shards run until every connection has ended.
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;
  std::vector<std::thread> threads;
  for (size_t i = 1; i < shards.size(); ++i) {
    keep_running.push_back(asio::make_work_guard(*shards[i]));
    threads.emplace_back([&shard = *shards[i]] { shard.run(); });
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::co_spawn(io, stop_on_signals(signals, server, options->drain_timeout, std::cout),
                 asio::detached);
  asio::co_spawn(io, server.run(), [&](std::exception_ptr) {
    // Every connection has ended: nothing is left to wait for.
    signals.cancel();
    keep_running.clear();
    const ListenerStats st = listener.stats();
    std::cout << "asioquic-server: stopped after " << st.connections_accepted << " connection(s); "
              << st.retries_sent << " Retry, " << st.version_negotiations_sent
              << " version negotiation, " << st.stateless_resets_sent
              << " stateless reset packet(s) sent; " << st.packets_dropped << " packet(s) dropped"
              << std::endl;
  });
  io.run();
  for (auto& t : threads)
    t.join();
  return 0;
}
