// HTTP fields (headers and trailers) and RFC 9218 priorities.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic::h3 {

/// One field line. Names are lower-case on the wire (HTTP/3 requires it); pseudo-header fields
/// (":method", ":path", ":status", ...) come first.
struct Field {
  std::string name;
  std::string value;
};
using Fields = std::vector<Field>;

/// Appends the field `name: value` to `fields`, built in place (cheaper than push_back of a
/// Field, whose strings would be moved once more); returns it.
inline Field& add(Fields& fields, std::string_view name, std::string_view value) {
  Field& f = fields.emplace_back();
  f.name.append(name);
  f.value.append(value);
  return f;
}

/// The value of the first field named `name` (exact, lower-case), or nullopt.
inline std::optional<std::string_view> find(const Fields& fields, std::string_view name) {
  for (const auto& f : fields) {
    if (f.name == name) return std::string_view(f.value);
  }
  return std::nullopt;
}

/// RFC 9218 priority: urgency 0 (highest) to 7, default 3; incremental delivery flag.
struct Priority {
  uint8_t urgency = 3;
  bool incremental = false;
  bool operator==(const Priority&) const = default;
};

/// Parses a `priority` field value ("u=1, i"); nullopt if malformed.
std::optional<Priority> parse_priority(std::string_view value);

}  // namespace asioquic::h3
