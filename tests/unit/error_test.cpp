// Tests of asioquic's error categories and wire_error_code().
#include "asioquic/error.hpp"

#include <gtest/gtest.h>

#include <climits>
#include <set>
#include <string>

namespace asioquic {
namespace {

constexpr int kFirst = static_cast<int>(errc::invalid_argument);
constexpr int kLast = static_cast<int>(errc::internal);

TEST(ErrorCategory, NamesAreDistinct) {
  EXPECT_STREQ(error_category().name(), "asioquic");
  EXPECT_STREQ(transport_category().name(), "quic.transport");
  EXPECT_STREQ(application_category().name(), "quic.application");
  EXPECT_NE(error_category(), transport_category());
  EXPECT_NE(transport_category(), application_category());
  // Singletons.
  EXPECT_EQ(&error_category(), &error_category());
}

// Every errc has its own message, none of them the fallback.
TEST(ErrorCategory, EveryErrcHasItsOwnMessage) {
  std::set<std::string> seen;
  for (int v = kFirst; v <= kLast; ++v) {
    const std::string m = error_category().message(v);
    EXPECT_FALSE(m.empty()) << v;
    EXPECT_EQ(m.find("unknown"), std::string::npos) << v << ": " << m;
    EXPECT_TRUE(seen.insert(m).second) << "duplicate message for " << v << ": " << m;
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kLast - kFirst + 1));
}

TEST(ErrorCategory, UnknownValues) {
  for (int v : {0, kLast + 1, -1, INT_MAX}) {
    EXPECT_EQ(error_category().message(v), "unknown asioquic error " + std::to_string(v));
  }
}

TEST(ErrorCategory, MakeErrorCodeAndEnumComparison) {
  const std::error_code ec = errc::would_block;  // is_error_code_enum
  EXPECT_TRUE(ec);
  EXPECT_EQ(ec.category(), error_category());
  EXPECT_EQ(ec.value(), static_cast<int>(errc::would_block));
  EXPECT_EQ(ec, errc::would_block);
  EXPECT_NE(ec, errc::stream_reset);
  EXPECT_EQ(make_error_code(errc::internal), std::error_code(kLast, error_category()));
  EXPECT_EQ(ec.message(), "operation would exceed a buffer or flow-control limit");
  // Values start at 1: no errc is "success".
  EXPECT_TRUE(make_error_code(errc::invalid_argument));
  // Not equal to a system error of the same value.
  EXPECT_NE(ec, std::error_code(ec.value(), std::system_category()));
}

TEST(TransportCategory, Messages) {
  const auto& c = transport_category();
  EXPECT_EQ(c.message(0x0), "NO_ERROR");
  EXPECT_EQ(c.message(0x1), "INTERNAL_ERROR");
  EXPECT_EQ(c.message(0x2), "CONNECTION_REFUSED");
  EXPECT_EQ(c.message(0xa), "PROTOCOL_VIOLATION");
  EXPECT_EQ(c.message(0xb), "INVALID_TOKEN");
  EXPECT_EQ(c.message(0x10), "NO_VIABLE_PATH");
  EXPECT_EQ(c.message(0x100), "CRYPTO_ERROR (TLS alert 0)");
  EXPECT_EQ(c.message(0x178), "CRYPTO_ERROR (TLS alert 120)");
  EXPECT_EQ(c.message(0x1ff), "CRYPTO_ERROR (TLS alert 255)");
  EXPECT_EQ(c.message(0x11), "QUIC transport error 17");
  EXPECT_EQ(c.message(0x200), "QUIC transport error 512");
  // Every code RFC 9000 §20.1 names has a name.
  std::set<std::string> names;
  for (int v = 0; v <= 0x10; ++v) {
    const std::string m = c.message(v);
    EXPECT_EQ(m.find("QUIC transport error"), std::string::npos) << v;
    names.insert(m);
  }
  EXPECT_EQ(names.size(), 17u);
}

TEST(ApplicationCategory, Messages) {
  EXPECT_EQ(application_category().message(0), "application error code 0");
  EXPECT_EQ(application_category().message(0x10c), "application error code 268");
}

TEST(WireErrorCode, CategoriesAndValues) {
  const auto t = wire_error_code(false, 0xa);
  EXPECT_EQ(t.category(), transport_category());
  EXPECT_EQ(t.value(), 0xa);
  const auto a = wire_error_code(true, 0x10c);
  EXPECT_EQ(a.category(), application_category());
  EXPECT_EQ(a.value(), 0x10c);
  // The same number in the two categories is two different errors.
  EXPECT_NE(wire_error_code(false, 2), wire_error_code(true, 2));
  // A TLS alert keeps its transport code.
  EXPECT_EQ(wire_error_code(false, 0x178).message(), "CRYPTO_ERROR (TLS alert 120)");
}

TEST(WireErrorCode, OutOfRange) {
  const uint64_t max = static_cast<uint64_t>(INT_MAX);
  EXPECT_EQ(wire_error_code(true, max).value(), INT_MAX);
  EXPECT_EQ(wire_error_code(false, max).category(), transport_category());
  for (uint64_t code :
       {max + 1, uint64_t{0xffffffff}, uint64_t{1} << 32, (uint64_t{1} << 62) - 1, UINT64_MAX}) {
    EXPECT_EQ(wire_error_code(true, code), errc::code_out_of_range) << code;
    EXPECT_EQ(wire_error_code(false, code), errc::code_out_of_range) << code;
  }
}

}  // namespace
}  // namespace asioquic
