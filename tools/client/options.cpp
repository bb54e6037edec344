#include "client/options.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include "common/command_line.hpp"
#include "common/numbers.hpp"

namespace asioquic::tools {
namespace {

constexpr std::array<OptionSpec, 20> kSpecs{{
    {'o', "output", true},      {'O', "remote-name", false},
    {'X', "request", true},     {'H', "header", true},
    {'d', "data", true},        {'\0', "data-binary", true},
    {'I', "head", false},       {'v', "verbose", false},
    {'f', "fail", false},       {'s', "silent", false},
    {'S', "show-error", false}, {'k', "insecure", false},
    {'\0', "cacert", true},     {'\0', "session-file", true},
    {'n', "parallel", true},    {'\0', "connect-timeout", true},
    {'m', "max-time", true},    {'h', "help", false},
    {'V', "version", false},    {'\0', "early-data", false},
}};

constexpr std::string_view kUsage =
    R"(Usage: asioquic-client [OPTIONS] URL...

Fetches https:// URLs over HTTP/3, like curl. URLs with the same host and port share one
connection and their requests run concurrently (see -n). Bodies go to stdout, in URL order,
unless -o or -O names a file; files are written as the data arrives.

Options:
  -o, --output FILE        write the body to FILE ('-' for stdout); one -o or -O per URL,
                           matched to the URLs in order
  -O, --remote-name        write the body to a file named after the URL's last path segment
  -X, --request METHOD     request method (default GET; POST with -d; HEAD with -I)
  -H, --header 'NAME: VALUE'
                           add a request header; 'NAME:' removes a default one, 'NAME;'
                           sends it empty, 'Host: h' sets :authority
  -d, --data DATA          send DATA as the request body (content-type defaults to
                           application/x-www-form-urlencoded); -d @FILE sends FILE unchanged,
                           streamed from disk
      --data-binary DATA   the same as -d
  -I, --head               send HEAD and print the response headers
  -v, --verbose            print connection steps and request/response headers on stderr
  -f, --fail               exit 22, writing no body, when the status is 400 or above
  -s, --silent             no progress bar and no error messages
  -S, --show-error         with -s, still print error messages
  -k, --insecure           do not verify the server's certificate
      --cacert FILE        verify the server against the CA certificates in FILE (PEM)
                           instead of the system trust store
      --session-file FILE  resume TLS with a session ticket kept in FILE from an earlier
                           run, and keep the servers' new tickets there (written at exit,
                           mode 0600)
      --early-data         with --session-file: send GET, HEAD and OPTIONS requests as
                           0-RTT early data when the kept ticket allows it (replayable
                           by an attacker, so not for requests with effects)
  -n, --parallel N         at most N requests at once on a connection (default: all)
      --connect-timeout SECONDS
                           give up a connection whose handshake takes longer
  -m, --max-time SECONDS   give up the whole run after SECONDS
  -h, --help               print this help and exit
  -V, --version            print the version and exit

A progress bar is drawn on stderr while downloading when stderr is a terminal (not with -s
or -v, nor when a body goes to a terminal).

Exit status, as curl's: 0 success, 1 unsupported scheme, 2 usage error, 3 malformed URL,
6 could not resolve the host, 7 could not connect (no answer, refused, version negotiation),
22 HTTP status >= 400 with -f, 23 cannot write the output (or the --session-file),
26 cannot read the -d @FILE (or the --session-file), 28 timeout (--max-time, --connect-timeout), 35 TLS handshake failure (certificate not
trusted, no common ALPN), 55 failure sending the request, 56 failure receiving the response
(stream reset, connection lost), 77 cannot use the --cacert FILE. With several URLs: the
status of the first URL, in command-line order, that failed.
)";

// A -H argument; false if it has neither ':' nor ';' after a name.
bool parse_header(std::string_view text, HeaderSpec& h) {
  const auto sep = text.find_first_of(":;");
  if (sep == std::string_view::npos || sep == 0) return false;
  h.name = std::string(text.substr(0, sep));
  std::transform(h.name.begin(), h.name.end(), h.name.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view value = text.substr(sep + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
    value.remove_prefix(1);
  if (text[sep] == ';') {
    if (!value.empty()) return false;
    h.value.clear();
    return true;
  }
  h.remove = value.empty();
  h.value = std::string(value);
  return true;
}

}  // namespace

std::string_view client_usage() {
  return kUsage;
}

std::optional<ClientOptions> parse_client_options(int argc, char** argv, std::string& error) {
  auto args = parse_command_line(argc, argv, kSpecs, error);
  if (!error.empty()) return std::nullopt;
  ClientOptions o;
  auto bad = [&](std::string_view option, const std::string& value, std::string_view want) {
    error = "invalid value '" + value + "' for --" + std::string(option) + ": " + std::string(want);
    return std::nullopt;
  };
  for (const auto& a : args) {
    if (!a.spec) {
      o.urls.push_back(a.value);
      continue;
    }
    const std::string_view name = a.spec->long_name;
    if (name == "output") {
      o.outputs.push_back({false, a.value});
    } else if (name == "remote-name") {
      o.outputs.push_back({true, {}});
    } else if (name == "request") {
      if (a.value.empty() || a.value.find_first_of(" \t\r\n") != std::string::npos)
        return bad(name, a.value, "expected a method name such as PUT");
      o.method = a.value;
    } else if (name == "header") {
      HeaderSpec h;
      if (!parse_header(a.value, h)) return bad(name, a.value, "expected 'NAME: VALUE'");
      if (h.name.starts_with(':'))
        return bad(name, a.value, "pseudo-header fields are set by the client");
      o.headers.push_back(std::move(h));
    } else if (name == "data" || name == "data-binary") {
      if (o.data || !o.data_file.empty()) {
        error = "only one -d/--data is supported";
        return std::nullopt;
      }
      if (a.value.starts_with('@')) {
        o.data_file = a.value.substr(1);
        if (o.data_file.empty() || o.data_file == "-")
          return bad(name, a.value, "expected @FILE with a file name (stdin is not supported)");
      } else {
        o.data = a.value;
      }
    } else if (name == "head") {
      o.head = true;
    } else if (name == "verbose") {
      o.verbose = true;
    } else if (name == "fail") {
      o.fail = true;
    } else if (name == "silent") {
      o.silent = true;
    } else if (name == "show-error") {
      o.show_error = true;
    } else if (name == "insecure") {
      o.insecure = true;
    } else if (name == "cacert") {
      o.cacert = a.value;
    } else if (name == "session-file") {
      if (a.value.empty()) return bad(name, a.value, "expected a file name");
      o.session_file = a.value;
    } else if (name == "early-data") {
      o.early_data = true;
    } else if (name == "parallel") {
      auto n = parse_count(a.value);
      if (!n || *n == 0 || *n > 1'000'000) return bad(name, a.value, "expected a count above 0");
      o.parallel = static_cast<size_t>(*n);
    } else if (name == "connect-timeout" || name == "max-time") {
      auto t = parse_seconds(a.value);
      if (!t || t->count() == 0) return bad(name, a.value, "expected seconds above 0, e.g. 2.5");
      if (name == "max-time") {
        o.max_time = *t;
      } else {
        o.connect_timeout = *t;
      }
    } else if (name == "help") {
      o.help = true;
    } else if (name == "version") {
      o.version = true;
    }
  }
  if (o.help || o.version) return o;
  if (o.urls.empty()) {
    error = "no URL given";
    return std::nullopt;
  }
  if (o.outputs.size() > o.urls.size()) {
    error = "more -o/-O options than URLs";
    return std::nullopt;
  }
  if (o.insecure && !o.cacert.empty()) {
    error = "--insecure and --cacert contradict each other";
    return std::nullopt;
  }
  if (o.early_data && o.session_file.empty()) {
    error = "--early-data needs --session-file (0-RTT resumes a kept session)";
    return std::nullopt;
  }
  return o;
}

}  // namespace asioquic::tools
