#include "common/numbers.hpp"

#include <charconv>

namespace asioquic::tools {

std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || p != end) return std::nullopt;
  return v;
}

std::optional<std::chrono::milliseconds> parse_seconds(std::string_view text) {
  const auto dot = text.find('.');
  const auto whole = parse_count(text.substr(0, dot));
  if (!whole || *whole > 366ull * 24 * 3600) return std::nullopt;
  uint64_t ms = *whole * 1000;
  if (dot != std::string_view::npos) {
    const std::string_view frac = text.substr(dot + 1);
    if (frac.empty() || !parse_count(frac)) return std::nullopt;
    uint64_t scale = 100;
    for (size_t i = 0; i < frac.size() && scale > 0; ++i, scale /= 10)
      ms += static_cast<uint64_t>(frac[i] - '0') * scale;
  }
  return std::chrono::milliseconds(ms);
}

}  // namespace asioquic::tools
