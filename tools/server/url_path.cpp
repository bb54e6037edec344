#include "server/url_path.hpp"

#include "common/hex.hpp"

namespace asioquic::tools {

std::string_view target_path(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

std::optional<std::string> percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_value(text[i + 1]);
      const int lo = hex_value(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    }
    if (c == '\0') return std::nullopt;
    out.push_back(c);
  }
  return out;
}

std::string percent_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xf]);
    }
  }
  return out;
}

std::optional<std::vector<std::string>> safe_segments(std::string_view decoded_path) {
  if (decoded_path.empty() || decoded_path.front() != '/') return std::nullopt;
  std::vector<std::string> segments;
  size_t pos = 0;
  while (pos <= decoded_path.size()) {
    const auto end = decoded_path.find('/', pos);
    const std::string_view seg = decoded_path.substr(
        pos, end == std::string_view::npos ? std::string_view::npos : end - pos);
    if (seg == "..") return std::nullopt;
    if (!seg.empty() && seg != ".") segments.emplace_back(seg);
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return segments;
}

}  // namespace asioquic::tools
