// asioquic-client: a curl-like HTTP/3 client. See client_usage() in options.cpp.
#include <sys/ioctl.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <csignal>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>

#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include "client/exit_codes.hpp"
#include "client/options.hpp"
#include "client/progress_bar.hpp"
#include "client/request_body.hpp"
#include "client/run_context.hpp"
#include "client/session.hpp"
#include "client/session_file.hpp"
#include "client/stdout_order.hpp"
#include "client/transfer.hpp"
#include "client/url.hpp"
#include "client/verbose_log.hpp"
#include "common/allocator.hpp"
#include "common/version.hpp"

namespace {

using namespace asioquic;
using namespace asioquic::tools;

// Prints a failure that ends the run before any transfer, unless silenced; returns `code`.
int early_failure(const ClientOptions& o, ExitCode code, const std::string& message) {
  if (!o.silent || o.show_error)
    std::cerr << "asioquic-client: (" << static_cast<int>(code) << ") " << message << "\n";
  return code;
}

// The terminal's width for the progress bar (80 if unknown).
int terminal_columns() {
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

// The transfers for the URLs, with their sinks. On a bad URL or -O without a file name
// returns an empty vector and sets `code` and `message`.
std::vector<Transfer> make_transfers(const ClientOptions& o, ExitCode& code, std::string& message) {
  std::vector<Transfer> transfers;
  transfers.reserve(o.urls.size());
  size_t stdout_tickets = 0;
  for (size_t i = 0; i < o.urls.size(); ++i) {
    UrlError error;
    auto url = parse_url(o.urls[i], error, message);
    if (!url) {
      code = error == UrlError::unsupported_scheme ? kExitUnsupportedProtocol : kExitUrlMalformed;
      message = "bad URL '" + o.urls[i] + "': " + message;
      return {};
    }
    std::string path;
    if (i < o.outputs.size()) {
      path = o.outputs[i].remote_name ? remote_file_name(*url) : o.outputs[i].path;
      if (path.empty()) {
        code = kExitWriteError;
        message = "-O: the URL '" + o.urls[i] + "' has no file name at the end of its path";
        return {};
      }
    }
    OutputSink sink = path.empty() || path == "-" ? OutputSink() : OutputSink(path);
    std::optional<size_t> ticket;
    if (sink.is_stdout()) ticket = stdout_tickets++;
    std::string prefix;  // built piecewise: g++ 12 -O3 misreports "literal" + std::string&&
    if (o.urls.size() > 1) prefix.append("[").append(std::to_string(i + 1)).append("] ");
    transfers.push_back({o.urls[i], std::move(*url), prefix, std::move(sink), ticket});
  }
  return transfers;
}

// Transport settings from the options.
ClientSettings make_settings(const ClientOptions& o) {
  ClientSettings s;
  s.tls.alpn = {"h3"};
  s.tls.insecure_skip_verify = o.insecure;
  if (!o.cacert.empty()) {
    s.tls.ca_file = o.cacert;
    s.tls.use_system_trust = false;  // as curl's --cacert: this file instead of the store
  }
  // The process exits once its transfers are done: no closing period to wait out (curl and
  // gtlsclient do not wait either).
  s.linger_after_close = false;
  if (o.connect_timeout) s.handshake_timeout = *o.connect_timeout;
  if (o.max_time) s.handshake_timeout = std::min(s.handshake_timeout, *o.max_time);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  // A closed pipe on stdout must be a write error (23), not a silent death.
  std::signal(SIGPIPE, SIG_IGN);
  std::string error;
  const auto options = parse_client_options(argc, argv, error);
  if (!options) {
    std::cerr << "asioquic-client: " << error << "\nTry 'asioquic-client --help'.\n";
    return kExitUsage;
  }
  const ClientOptions& o = *options;
  if (o.help) {
    std::cout << client_usage();
    return kExitOk;
  }
  if (o.version) {
    std::cout << "asioquic-client " << kVersion << " (HTTP/3: ngtcp2, nghttp3, GnuTLS; "
              << allocator_name() << ")\n";
    return kExitOk;
  }

  ExitCode code = kExitOk;
  std::vector<Transfer> transfers = make_transfers(o, code, error);
  if (transfers.empty()) return early_failure(o, code, error);
  std::optional<RequestBody> body;
  if (o.data) body.emplace(*o.data);
  if (!o.data_file.empty()) {
    std::error_code ec;
    body = RequestBody::open_file(o.data_file, ec);
    if (!body)
      return early_failure(o, kExitReadError, "cannot read " + o.data_file + ": " + ec.message());
  }
  if (!o.cacert.empty() && !std::ifstream(o.cacert)) {
    return early_failure(o, kExitCaCertError, "cannot read --cacert " + o.cacert);
  }

  std::shared_ptr<SessionFile> session_file;
  if (!o.session_file.empty()) {
    session_file = std::make_shared<SessionFile>();
    if (!session_file->load(o.session_file, error)) return early_failure(o, kExitReadError, error);
  }

  bool body_to_terminal = false;
  for (const auto& t : transfers)
    body_to_terminal |= t.sink.is_stdout() && ::isatty(STDOUT_FILENO);
  const bool progress_on =
      ::isatty(STDERR_FILENO) && !o.silent && !o.verbose && !o.head && !body_to_terminal;

  // Run by this thread alone: with this hint, connections need no strand (listener.hpp).
  asio::io_context io(ASIO_CONCURRENCY_HINT_UNSAFE_IO);
  StdoutOrder order(io.get_executor());
  VerboseLog verbose(std::cerr, o.verbose);
  ProgressBar progress(std::cerr, progress_on, terminal_columns());
  RunContext ctx{o, make_settings(o), {}, std::move(body), progress, order, verbose, std::cerr};
  ctx.quic.session_store = session_file;
  ctx.quic.early_data = o.early_data;

  // One session per origin, in order of first appearance.
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<std::vector<Transfer*>> groups;
  std::map<std::pair<std::string, uint16_t>, size_t> by_origin;
  for (auto& t : transfers) {
    auto [it, added] = by_origin.try_emplace({t.url.host, t.url.port}, sessions.size());
    if (added) {
      sessions.push_back(std::make_unique<Session>(ctx, io.get_executor(), t.url.host, t.url.port));
      groups.emplace_back();
    }
    groups[it->second].push_back(&t);
  }

  asio::steady_timer deadline(io);
  size_t running = sessions.size();
  for (size_t i = 0; i < sessions.size(); ++i) {
    asio::co_spawn(io, sessions[i]->run(std::move(groups[i])), [&](std::exception_ptr e) {
      if (--running == 0) deadline.cancel();
      if (e) std::rethrow_exception(e);
    });
  }
  if (o.max_time) {
    deadline.expires_after(*o.max_time);
    deadline.async_wait([&](std::error_code ec) {
      if (ec || running == 0) return;  // cancelled, or finished as it expired
      ctx.timed_out = true;
      for (auto& s : sessions)
        s->abort();
      // Closing makes every operation fail at once; should one still hang, stop regardless.
      deadline.expires_after(std::chrono::seconds(1));
      deadline.async_wait([&](std::error_code ec2) {
        if (!ec2) io.stop();
      });
    });
  }
  io.run();
  progress.finish();
  // Reported even when a transfer failed; that failure's status still comes first.
  ExitCode save_status = kExitOk;
  if (session_file && !session_file->save(error)) save_status = ctx.fail(kExitWriteError, error);

  for (const auto& t : transfers) {
    if (t.result != kExitOk) return t.result;
  }
  if (save_status != kExitOk) return save_status;
  // Only after the fallback stop can a timed-out run have no failed transfer.
  if (ctx.timed_out) return ctx.fail(kExitTimeout, "");
  return kExitOk;
}
