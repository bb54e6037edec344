// Tests of asioquic::validate(): every rule, at its boundary, names its field in `what`.
#include "asioquic/settings.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "asioquic/error.hpp"
#include "asioquic/session_store.hpp"

namespace asioquic {
namespace {

using std::chrono::milliseconds;

Settings valid_settings() {
  Settings s;
  s.tls.alpn = {"h3"};
  return s;
}

ServerSettings valid_server() {
  ServerSettings s;
  s.tls.alpn = {"h3"};
  s.tls.cert_pem = "-----BEGIN CERTIFICATE-----";  // validate() checks presence, not content
  s.tls.key_pem = "-----BEGIN PRIVATE KEY-----";
  return s;
}

// Expects `s` to fail with `what` starting with `field`; reports the case name on failure.
template <typename S>
void expect_invalid(const S& s, const std::string& field, const std::string& name) {
  std::string what;
  EXPECT_EQ(validate(s, &what), errc::invalid_argument) << name;
  EXPECT_EQ(what.rfind(field, 0), 0u) << name << ": what = \"" << what << "\"";
  EXPECT_EQ(validate(s), errc::invalid_argument) << name << " (without what)";
}

template <typename S>
void expect_valid(const S& s, const std::string& name) {
  std::string what = "untouched";
  EXPECT_FALSE(validate(s, &what)) << name << ": " << what;
  EXPECT_EQ(what, "untouched") << name;
}

struct Case {
  const char* name;
  const char* field;
  std::function<void(Settings&)> bad;
  std::function<void(Settings&)> good;  // the nearest valid value
};

const Case kCases[] = {
    {"no alpn", "tls.alpn", [](Settings& s) { s.tls.alpn.clear(); },
     [](Settings& s) { s.tls.alpn = {"x"}; }},
    {"empty alpn", "tls.alpn", [](Settings& s) { s.tls.alpn.push_back(""); },
     [](Settings& s) { s.tls.alpn.push_back("a"); }},
    // GnuTLS 3.7 takes protocol names of at most 31 bytes and at most 8 of them.
    {"alpn too long", "tls.alpn", [](Settings& s) { s.tls.alpn = {std::string(32, 'a')}; },
     [](Settings& s) { s.tls.alpn = {std::string(31, 'a')}; }},
    {"alpn too long for RFC 7301", "tls.alpn",
     [](Settings& s) { s.tls.alpn = {std::string(256, 'a')}; },
     [](Settings& s) { s.tls.alpn = {"h3"}; }},
    {"too many alpn", "tls.alpn",
     [](Settings& s) { s.tls.alpn = {"a", "b", "c", "d", "e", "f", "g", "h", "i"}; },
     [](Settings& s) { s.tls.alpn = {"a", "b", "c", "d", "e", "f", "g", "h"}; }},
    {"no key share", "tls.key_shares", [](Settings& s) { s.tls.key_shares = 0; },
     [](Settings& s) { s.tls.key_shares = 1; }},
    {"more key shares than groups", "tls.key_shares", [](Settings& s) { s.tls.key_shares = 4; },
     [](Settings& s) { s.tls.key_shares = 3; }},
    {"negative idle_timeout", "idle_timeout",
     [](Settings& s) { s.idle_timeout = milliseconds(-1); },
     [](Settings& s) { s.idle_timeout = milliseconds(0); }},
    {"zero handshake_timeout", "handshake_timeout",
     [](Settings& s) { s.handshake_timeout = milliseconds(0); },
     [](Settings& s) { s.handshake_timeout = milliseconds(1); }},
    {"negative handshake_timeout", "handshake_timeout",
     [](Settings& s) { s.handshake_timeout = milliseconds(-5); },
     [](Settings& s) { s.handshake_timeout = milliseconds(1); }},
    {"zero initial_rtt", "initial_rtt", [](Settings& s) { s.initial_rtt = milliseconds(0); },
     [](Settings& s) { s.initial_rtt = milliseconds(1); }},
    {"huge initial_rtt", "initial_rtt", [](Settings& s) { s.initial_rtt = milliseconds(60'001); },
     [](Settings& s) { s.initial_rtt = milliseconds(60'000); }},
    {"negative keep_alive", "keep_alive", [](Settings& s) { s.keep_alive = milliseconds(-1); },
     [](Settings& s) { s.keep_alive = milliseconds(0); }},
    {"zero initial_max_data", "initial_max_data", [](Settings& s) { s.initial_max_data = 0; },
     [](Settings& s) { s.initial_max_data = 1; }},
    // Transport parameters are varints: ngtcp2 aborts on 2^62 and more.
    {"huge initial_max_data", "initial_max_data",
     [](Settings& s) { s.initial_max_data = s.max_data_window = uint64_t{1} << 62; },
     [](Settings& s) { s.initial_max_data = s.max_data_window = (uint64_t{1} << 62) - 1; }},
    {"max_data_window below initial", "max_data_window",
     [](Settings& s) { s.max_data_window = s.initial_max_data - 1; },
     [](Settings& s) { s.max_data_window = s.initial_max_data; }},
    {"zero initial_max_stream_data", "initial_max_stream_data",
     [](Settings& s) { s.initial_max_stream_data = 0; },
     [](Settings& s) { s.initial_max_stream_data = 1; }},
    {"huge initial_max_stream_data", "initial_max_stream_data",
     [](Settings& s) { s.initial_max_stream_data = s.max_stream_data_window = uint64_t{1} << 62; },
     [](Settings& s) {
       s.initial_max_stream_data = s.max_stream_data_window = (uint64_t{1} << 62) - 1;
     }},
    {"max_stream_data_window below initial", "max_stream_data_window",
     [](Settings& s) { s.max_stream_data_window = s.initial_max_stream_data - 1; },
     [](Settings& s) { s.max_stream_data_window = s.initial_max_stream_data; }},
    {"too many bidi streams", "max_streams_",
     [](Settings& s) { s.max_streams_bidi = (uint64_t{1} << 60) + 1; },
     [](Settings& s) { s.max_streams_bidi = uint64_t{1} << 60; }},
    {"too many uni streams", "max_streams_",
     [](Settings& s) { s.max_streams_uni = (uint64_t{1} << 60) + 1; },
     [](Settings& s) { s.max_streams_uni = uint64_t{1} << 60; }},
    {"zero stream_send_buffer", "stream_send_buffer", [](Settings& s) { s.stream_send_buffer = 0; },
     [](Settings& s) { s.stream_send_buffer = 1; }},
    {"small max_udp_payload", "max_udp_payload", [](Settings& s) { s.max_udp_payload = 1199; },
     [](Settings& s) { s.max_udp_payload = 1200; }},
    {"large max_udp_payload", "max_udp_payload", [](Settings& s) { s.max_udp_payload = 65528; },
     [](Settings& s) { s.max_udp_payload = 65527; }},
    {"large max_datagram_frame_size", "max_datagram_frame_size",
     [](Settings& s) { s.max_datagram_frame_size = 65536; },
     [](Settings& s) { s.max_datagram_frame_size = 65535; }},
    {"negative socket_buffer", "socket_buffer", [](Settings& s) { s.socket_buffer = -1; },
     [](Settings& s) { s.socket_buffer = 0; }},
};

TEST(Validate, DefaultsWithAlpnAreValid) {
  expect_valid(valid_settings(), "client defaults");
  ClientSettings c;
  c.tls.alpn = {"h3"};
  expect_valid(c, "ClientSettings defaults");
  expect_valid(valid_server(), "server defaults");
}

// A client's windows start larger than a server's (it mostly receives) and still within the
// auto-tuning ceilings, which validate() requires.
TEST(Validate, ClientWindowsStartLarger) {
  const ClientSettings c;
  const ServerSettings srv;
  EXPECT_GT(c.initial_max_stream_data, srv.initial_max_stream_data);
  EXPECT_GT(c.initial_max_data, srv.initial_max_data);
  EXPECT_LE(c.initial_max_stream_data, c.max_stream_data_window);
  EXPECT_LE(c.initial_max_data, c.max_data_window);
}

TEST(Validate, DefaultsWithoutAlpnAreNot) {
  expect_invalid(Settings(), "tls.alpn", "Settings()");
}

TEST(Validate, EveryRuleAtItsBoundary) {
  for (const Case& c : kCases) {
    Settings bad = valid_settings();
    c.bad(bad);
    expect_invalid(bad, c.field, c.name);
    Settings good = valid_settings();
    c.good(good);
    expect_valid(good, std::string(c.name) + " (boundary)");
  }
}

// The server overload applies the shared rules too.
TEST(Validate, ServerAppliesSharedRules) {
  for (const Case& c : kCases) {
    ServerSettings bad = valid_server();
    c.bad(bad);
    expect_invalid(bad, c.field, std::string("server: ") + c.name);
  }
}

TEST(Validate, DisabledFeaturesAreValid) {
  Settings s = valid_settings();
  s.max_datagram_frame_size = 0;  // no datagrams
  s.keep_alive = milliseconds(0);
  s.idle_timeout = milliseconds(0);
  s.socket_buffer = 0;  // kernel default
  expect_valid(s, "disabled features");
}

TEST(Validate, ServerRules) {
  ServerSettings s = valid_server();
  s.accept_backlog = 0;
  expect_invalid(s, "accept_backlog", "zero backlog");
  s.accept_backlog = 1;
  expect_valid(s, "backlog 1");

  s = valid_server();
  s.retry_token_lifetime = milliseconds(0);
  expect_invalid(s, "retry_token_lifetime", "zero token lifetime");
  s.retry_token_lifetime = milliseconds(-1);
  expect_invalid(s, "retry_token_lifetime", "negative token lifetime");
  s.retry_token_lifetime = milliseconds(1);
  expect_valid(s, "token lifetime 1 ms");
}

TEST(Validate, ServerNeedsCertificateAndKey) {
  ServerSettings s = valid_server();
  s.tls.key_pem.clear();
  expect_invalid(s, "tls", "no key");
  s = valid_server();
  s.tls.cert_pem.clear();
  expect_invalid(s, "tls", "no cert");
  s = valid_server();
  s.tls.cert_pem.clear();
  s.tls.key_pem.clear();
  expect_invalid(s, "tls", "neither");
  // Files instead of memory, or mixed.
  s.tls.cert_file = "/some/cert.pem";
  s.tls.key_file = "/some/key.pem";
  expect_valid(s, "files");
  s.tls.key_file.clear();
  s.tls.key_pem = "-----BEGIN PRIVATE KEY-----";
  expect_valid(s, "cert file + key pem");
  // The shared rules come first: a missing ALPN is reported before the certificate.
  ServerSettings none;
  std::string what;
  EXPECT_EQ(validate(none, &what), errc::invalid_argument);
  EXPECT_EQ(what.rfind("tls.alpn", 0), 0u) << what;
}

// A client needs no certificate: the Settings overload does not ask for one.
TEST(Validate, ClientNeedsNoCertificate) {
  ClientSettings c;
  c.tls.alpn = {"echo"};
  EXPECT_FALSE(validate(static_cast<const Settings&>(c)));
  ServerSettings as_server;
  as_server.tls.alpn = {"echo"};
  EXPECT_EQ(validate(as_server), errc::invalid_argument);
}

// 0-RTT resumes a session, so it needs somewhere to keep tickets.
TEST(Validate, ClientEarlyDataNeedsASessionStore) {
  ClientSettings c;
  c.tls.alpn = {"h3"};
  expect_valid(c, "defaults");
  c.early_data = true;
  expect_invalid(c, "early_data", "early data without a store");
  c.session_store = make_session_store();
  expect_valid(c, "early data with a store");
  c.tls.alpn.clear();
  expect_invalid(c, "tls.alpn", "the shared rules still apply");
}

}  // namespace
}  // namespace asioquic
