#include "server/range.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "common/numbers.hpp"

namespace asioquic::tools {
namespace {

// `s` without leading and trailing spaces and tabs.
std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

RangeRequest parse_range(std::optional<std::string_view> header, uint64_t size) {
  using Kind = RangeRequest::Kind;
  if (!header) return {};
  std::string_view v = trim(*header);
  constexpr std::string_view kUnit = "bytes=";  // range units are case-insensitive
  std::string unit(v.substr(0, kUnit.size()));
  std::transform(unit.begin(), unit.end(), unit.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (unit != kUnit) return {};
  v = trim(v.substr(kUnit.size()));
  if (v.find(',') != std::string_view::npos) return {};
  const auto dash = v.find('-');
  if (dash == std::string_view::npos) return {};
  const std::string_view first_text = trim(v.substr(0, dash));
  const std::string_view last_text = trim(v.substr(dash + 1));

  if (first_text.empty()) {  // suffix range: the last n bytes
    const auto n = parse_count(last_text);
    if (!n) return {};
    if (*n == 0 || size == 0) return {Kind::unsatisfiable, 0, 0};
    const uint64_t len = std::min(*n, size);
    return {Kind::partial, size - len, len};
  }
  const auto first = parse_count(first_text);
  if (!first) return {};
  uint64_t last = size == 0 ? 0 : size - 1;
  if (!last_text.empty()) {
    const auto l = parse_count(last_text);
    if (!l || *l < *first) return {};
    last = std::min(*l, last);
  }
  if (*first >= size) return {Kind::unsatisfiable, 0, 0};
  return {Kind::partial, *first, last - *first + 1};
}

}  // namespace asioquic::tools
