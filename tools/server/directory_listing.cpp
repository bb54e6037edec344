#include "server/directory_listing.hpp"

#include <algorithm>
#include <vector>

#include "server/url_path.hpp"

namespace asioquic::tools {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string directory_listing(const std::filesystem::path& dir, std::string_view url_path,
                              std::error_code& ec) {
  struct Entry {
    std::string name;
    bool is_dir;
    uintmax_t size;
  };
  std::vector<Entry> entries;
  std::filesystem::directory_iterator it(dir, ec);
  for (; !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.starts_with('.')) continue;
    std::error_code sec;
    const bool is_dir = it->is_directory(sec);
    const uintmax_t size = is_dir ? 0 : it->file_size(sec);
    entries.push_back({std::move(name), is_dir, sec ? 0 : size});
  }
  if (ec) return {};
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.is_dir != b.is_dir ? a.is_dir : a.name < b.name;
  });

  const std::string title = "Index of " + html_escape(url_path);
  std::string html = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title +
                     "</title></head>\n<body><h1>" + title + "</h1>\n<ul>\n";
  if (url_path != "/") html += "<li><a href=\"../\">../</a></li>\n";
  for (const auto& e : entries) {
    const std::string shown = e.name + (e.is_dir ? "/" : "");
    html += "<li><a href=\"" + html_escape(percent_encode_path(e.name)) + (e.is_dir ? "/" : "") +
            "\">" + html_escape(shown) + "</a>";
    if (!e.is_dir) html += " (" + std::to_string(e.size) + " bytes)";
    html += "</li>\n";
  }
  html += "</ul></body></html>\n";
  return html;
}

}  // namespace asioquic::tools
