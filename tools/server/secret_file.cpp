#include "server/secret_file.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>

#include "common/hex.hpp"

namespace asioquic::tools {

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
  const auto bytes = decode_hex(hex);
  if (!bytes || bytes->size() != secret.size()) {
    error = "--secret-file " + path + ": expected 64 hex digits (openssl rand -hex 32)";
    return std::nullopt;
  }
  std::copy(bytes->begin(), bytes->end(), secret.begin());
  return secret;
}

}  // namespace asioquic::tools
