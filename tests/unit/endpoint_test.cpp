// Tests of asioquic::parse_endpoint().
#include "asioquic/endpoint.hpp"

#include <gtest/gtest.h>

#include "asioquic/error.hpp"

namespace asioquic {
namespace {

asio::ip::udp::endpoint ok(std::string_view text, uint16_t default_port = 0) {
  std::error_code ec;
  auto ep = parse_endpoint(text, ec, default_port);
  EXPECT_FALSE(ec) << text << ": " << ec.message();
  return ep;
}

asio::ip::udp::endpoint ep(const char* addr, uint16_t port) {
  return {asio::ip::make_address(addr), port};
}

TEST(ParseEndpoint, Ipv4WithPort) {
  EXPECT_EQ(ok("1.2.3.4:443"), ep("1.2.3.4", 443));
  EXPECT_EQ(ok("127.0.0.1:0"), ep("127.0.0.1", 0));
  EXPECT_EQ(ok("0.0.0.0:65535"), ep("0.0.0.0", 65535));
  EXPECT_EQ(ok("10.0.0.1:08"), ep("10.0.0.1", 8));  // leading zero: plain decimal
}

TEST(ParseEndpoint, Ipv6InBrackets) {
  EXPECT_EQ(ok("[::1]:443"), ep("::1", 443));
  EXPECT_EQ(ok("[2001:db8::7]:4433"), ep("2001:db8::7", 4433));
  EXPECT_EQ(ok("[::ffff:1.2.3.4]:80"), ep("::ffff:1.2.3.4", 80));
  EXPECT_TRUE(ok("[::]:1").address().is_v6());
}

TEST(ParseEndpoint, DefaultPort) {
  EXPECT_EQ(ok("1.2.3.4", 4434), ep("1.2.3.4", 4434));
  EXPECT_EQ(ok("::1", 4434), ep("::1", 4434));
  EXPECT_EQ(ok("[::1]", 4434), ep("::1", 4434));
  EXPECT_EQ(ok("1.2.3.4"), ep("1.2.3.4", 0));
  // An explicit port wins over the default.
  EXPECT_EQ(ok("1.2.3.4:9", 4434), ep("1.2.3.4", 9));
  EXPECT_EQ(ok("[::1]:9", 4434), ep("::1", 9));
  // Several colons without brackets: all address, so the default port applies.
  EXPECT_EQ(ok("::1:443", 7), ep("::1:443", 7));
  EXPECT_EQ(ok("2001:db8::1", 7), ep("2001:db8::1", 7));
}

TEST(ParseEndpoint, Errors) {
  for (const char* bad : {
           "",
           ":",
           ":443",           // no host
           "1.2.3.4:",       // a separator without a port
           "[::1]:",         // the same in brackets
           "1.2.3.4:65536",  // beyond 16 bits
           "1.2.3.4:99999999999999999999",
           "1.2.3.4:-1",
           "1.2.3.4:+1",
           "1.2.3.4:44x",
           "1.2.3.4: 443",
           "1.2.3.4:0x10",
           "1.2.3.256:1",
           "1.2.3:1",
           "localhost:443",  // names are not resolved here
           "example.org",
           "[::1",
           "[::1]x",
           "[::1]443",
           "[]:443",
           "[::1]:44:3",
           "::g",
       }) {
    std::error_code ec;
    const auto r = parse_endpoint(bad, ec, 1);
    EXPECT_EQ(ec, errc::invalid_argument) << '"' << bad << '"';
    EXPECT_EQ(r, asio::ip::udp::endpoint()) << bad;
  }
}

}  // namespace
}  // namespace asioquic
