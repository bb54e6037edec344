#include "client/request_headers.hpp"

#include <algorithm>

#include <asioquic/h3/client.hpp>

#include "common/version.hpp"

namespace asioquic::tools {

std::string request_method(const ClientOptions& options) {
  if (!options.method.empty()) return options.method;
  if (options.head) return "HEAD";
  if (options.data || !options.data_file.empty()) return "POST";
  return "GET";
}

h3::Fields request_headers(const ClientOptions& options, const Url& url,
                           std::optional<uint64_t> body_size) {
  std::string authority = url.authority;
  h3::Fields defaults{{"user-agent", "asioquic-client/" + std::string(kVersion)},
                      {"accept", "*/*"}};
  if (body_size) {
    defaults.push_back({"content-type", "application/x-www-form-urlencoded"});
    defaults.push_back({"content-length", std::to_string(*body_size)});
  }
  h3::Fields added;
  for (const auto& h : options.headers) {
    if (h.name == "host") {
      if (!h.remove) authority = h.value;
      continue;
    }
    const auto same = [&](const h3::Field& f) { return f.name == h.name; };
    const auto it = std::find_if(defaults.begin(), defaults.end(), same);
    if (h.remove) {
      std::erase_if(defaults, same);
    } else if (it != defaults.end()) {
      it->value = h.value;
    } else {
      added.push_back({h.name, h.value});
    }
  }
  defaults.insert(defaults.end(), added.begin(), added.end());
  return h3::request_fields(request_method(options), authority, url.path, std::move(defaults));
}

}  // namespace asioquic::tools
