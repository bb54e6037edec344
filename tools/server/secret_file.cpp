#include "server/secret_file.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

namespace asioquic::tools {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::array<uint8_t, 32>> read_secret_file(const std::string& path,
                                                        std::string& error) {
  std::ifstream in(path);
  if (!in) {
    error = "--secret-file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    error = "--secret-file " + path + ": " + std::strerror(errno);
    return std::nullopt;
  }
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  const std::string_view hex = first == std::string::npos
                                   ? std::string_view()
                                   : std::string_view(text).substr(first, last - first + 1);
  std::array<uint8_t, 32> secret{};
  bool ok = hex.size() == 2 * secret.size();
  for (size_t i = 0; ok && i < secret.size(); ++i) {
    const int hi = hex_digit(hex[2 * i]);
    const int lo = hex_digit(hex[2 * i + 1]);
    ok = hi >= 0 && lo >= 0;
    secret[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  if (!ok) {
    error = "--secret-file " + path + ": expected 64 hex digits (openssl rand -hex 32)";
    return std::nullopt;
  }
  return secret;
}

}  // namespace asioquic::tools
