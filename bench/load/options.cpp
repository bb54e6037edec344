#include "load/options.hpp"

#include <array>

#include "common/command_line.hpp"
#include "common/numbers.hpp"

namespace asioquic::bench {
namespace {

using tools::OptionSpec;

constexpr std::array<OptionSpec, 21> kSpecs{{
    {'c', "clients", true},      {'m', "max-concurrent-streams", true},
    {'n', "requests", true},     {'D', "duration", true},
    {'\0', "warm-up", true},     {'d', "data", true},
    {'t', "threads", true},      {'\0', "handshakes", false},
    {'\0', "idle", false},       {'\0', "connect-parallel", true},
    {'\0', "timeout", true},     {'\0', "idle-timeout", true},
    {'\0', "max-time", true},    {'\0', "cacert", true},
    {'\0', "qlog-dir", true},    {'k', "insecure", false},
    {'q', "quiet", false},       {'h', "help", false},
    {'\0', "version", false},    {'\0', "resume", false},
    {'\0', "early-data", false},
}};

constexpr std::string_view kUsage =
    R"(Usage: asioquic-bench [OPTIONS] URL

An HTTP/3 load generator on asio-quic, in the manner of h2load. URL is https://HOST[:PORT]/PATH;
every request asks for PATH.

Modes:
  (default)                -c connections, each keeping -m requests in flight, until -n
                           requests are done or -D seconds have passed
      --handshakes         -c slots, each repeating: connect, one request, close; until -n
                           handshakes are done or -D seconds have passed; with --resume,
                           each slot's connections after its first resume TLS with the
                           session ticket the one before received, and with --early-data
                           also send their request as 0-RTT early data
      --idle               open -c connections (one request each, --connect-parallel
                           handshakes at a time), print "idle-ready ...", hold them open for
                           -D seconds, then close them

Options:
  -c, --clients N          connections, or handshake slots (default 1)
  -m, --max-concurrent-streams N
                           requests in flight per connection (default 1)
  -n, --requests N         requests (or handshakes) in total (default 1000 unless -D)
  -D, --duration SECONDS   run for SECONDS (fractions allowed) instead of -n
      --warm-up SECONDS    with -D: run this long first without counting
  -d, --data BYTES         POST a body of BYTES bytes with each request (default: GET)
  -t, --threads N          threads, each with its own io_context; connections are dealt out
                           round-robin (default 1)
      --connect-parallel N handshakes at once while --idle ramps up (default 64)
      --timeout SECONDS    handshake limit, and the longest one request may take (default 10)
      --idle-timeout SECONDS
                           the idle timeout we offer the server (default 30; the connection
                           uses the smaller of both sides')
      --max-time SECONDS   backstop for the whole run: connections still open then are closed
                           and the run fails (default 300)
      --cacert FILE        verify the server against the CA certificates in FILE
      --qlog-dir DIR       write a qlog file per client connection into DIR (slows the run)
  -k, --insecure           do not verify the server's certificate (the default without --cacert)
  -q, --quiet              print only the result line
  -h, --help               print this help and exit
      --version            print the version and exit

Output: a summary, then one line for scripts:
  result mode=M conns=C streams=S threads=T done=N all=N errors=E seconds=S rate=R
         p50_us=.. p90_us=.. p99_us=.. max_us=.. bytes=B client_cpu_s=.. client_rss_kib=..
         established=N [open=N] cut_short=0|1
done counts what completed inside the measured window, all everything that completed (divide
server CPU by it). rate is requests (or handshakes) per second; latency runs from sending the request (from
starting to connect, with --handshakes) to the end of the response body. With -D, only what
completes after the warm-up and before the end counts. Exit status: 0 if there were no errors,
1 if some requests failed, 2 for a usage error, 3 if --max-time cut the run short.
)";

bool parse_url(std::string_view url, LoadOptions& o, std::string& error) {
  constexpr std::string_view kScheme = "https://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    error = "the URL must start with https://";
    return false;
  }
  url.remove_prefix(kScheme.size());
  const size_t slash = url.find('/');
  const std::string_view authority = url.substr(0, slash);
  o.path = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  o.authority = std::string(authority);
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated [ in the URL's host";
      return false;
    }
    port = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!port.empty() && port.front() != ':') {
      error = "garbage after ] in the URL's host";
      return false;
    }
    if (!port.empty()) port.remove_prefix(1);
  } else if (const size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.empty()) {
    error = "the URL has no host";
    return false;
  }
  o.host = std::string(host);
  if (!port.empty()) {
    auto p = tools::parse_count(port);
    if (!p || *p == 0 || *p > 65535) {
      error = "bad port in the URL";
      return false;
    }
    o.port = static_cast<uint16_t>(*p);
  }
  return true;
}

}  // namespace

std::string_view load_usage() {
  return kUsage;
}

std::optional<LoadOptions> parse_load_options(int argc, char** argv, std::string& error) {
  auto args = tools::parse_command_line(argc, argv, kSpecs, error);
  if (!error.empty()) return std::nullopt;
  LoadOptions o;
  auto bad = [&](std::string_view option, const std::string& value, std::string_view want) {
    error = "invalid value '" + value + "' for --" + std::string(option) + ": " + std::string(want);
    return std::nullopt;
  };
  bool have_url = false;
  for (const auto& a : args) {
    if (!a.spec) {
      if (have_url) {
        error = "one URL only (got a second: '" + a.value + "')";
        return std::nullopt;
      }
      if (!parse_url(a.value, o, error)) return std::nullopt;
      o.url = a.value;
      have_url = true;
      continue;
    }
    const std::string_view name = a.spec->long_name;
    auto count = [&](uint64_t min, uint64_t max) -> std::optional<uint64_t> {
      auto n = tools::parse_count(a.value);
      if (!n || *n < min || *n > max) return std::nullopt;
      return n;
    };
    auto seconds = [&]() { return tools::parse_seconds(a.value); };
    if (name == "clients") {
      auto n = count(1, 1'000'000);
      if (!n) return bad(name, a.value, "expected 1 to 1000000");
      o.connections = *n;
    } else if (name == "max-concurrent-streams") {
      auto n = count(1, 100'000);
      if (!n) return bad(name, a.value, "expected 1 to 100000");
      o.streams = *n;
    } else if (name == "requests") {
      auto n = count(1, UINT64_MAX);
      if (!n) return bad(name, a.value, "expected a count above 0");
      o.requests = *n;
    } else if (name == "duration") {
      auto s = seconds();
      if (!s || s->count() == 0) return bad(name, a.value, "expected seconds above 0");
      o.duration = *s;
    } else if (name == "warm-up") {
      auto s = seconds();
      if (!s) return bad(name, a.value, "expected seconds");
      o.warm_up = *s;
    } else if (name == "data") {
      auto n = count(0, 1ull << 32);
      if (!n) return bad(name, a.value, "expected bytes, at most 4 GiB");
      o.body_size = *n;
    } else if (name == "threads") {
      auto n = count(1, 256);
      if (!n) return bad(name, a.value, "expected 1 to 256");
      o.threads = *n;
    } else if (name == "handshakes") {
      o.mode = Mode::handshakes;
    } else if (name == "idle") {
      o.mode = Mode::idle;
    } else if (name == "connect-parallel") {
      auto n = count(1, 1'000'000);
      if (!n) return bad(name, a.value, "expected a count above 0");
      o.connect_parallel = *n;
    } else if (name == "timeout" || name == "idle-timeout" || name == "max-time") {
      auto s = seconds();
      if (!s || s->count() == 0) return bad(name, a.value, "expected seconds above 0");
      if (name == "timeout") {
        o.timeout = *s;
      } else if (name == "idle-timeout") {
        o.idle_timeout = *s;
      } else {
        o.max_time = *s;
      }
    } else if (name == "cacert") {
      o.cacert = a.value;
    } else if (name == "qlog-dir") {
      o.qlog_dir = a.value;
    } else if (name == "insecure") {
      o.cacert.clear();
    } else if (name == "resume") {
      o.resume = true;
    } else if (name == "early-data") {
      o.early_data = true;
    } else if (name == "quiet") {
      o.quiet = true;
    } else if (name == "help") {
      o.help = true;
    } else if (name == "version") {
      o.version = true;
    }
  }
  if (o.help || o.version) return o;
  if (!have_url) {
    error = "a URL is required";
    return std::nullopt;
  }
  if (o.mode == Mode::idle) {
    if (!o.duration) {
      error = "--idle needs -D (how long to hold the connections open)";
      return std::nullopt;
    }
    if (o.requests) {
      error = "--idle takes -D, not -n";
      return std::nullopt;
    }
  } else {
    if (o.requests && o.duration) {
      error = "-n and -D exclude each other";
      return std::nullopt;
    }
    if (!o.requests && !o.duration) o.requests = 1000;
  }
  if (o.resume && o.mode != Mode::handshakes) {
    error = "--resume goes with --handshakes";
    return std::nullopt;
  }
  if (o.early_data && !o.resume) {
    error = "--early-data goes with --handshakes --resume";
    return std::nullopt;
  }
  if (o.warm_up.count() > 0 && !o.duration) {
    error = "--warm-up needs -D";
    return std::nullopt;
  }
  return o;
}

}  // namespace asioquic::bench
