// The HTML page listing a directory that has no index.html.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace asioquic::tools {

/// An HTML page listing `dir` (sub-directories first, then files with their sizes, each sorted
/// by name), titled with `url_path`, the decoded request path ending in '/'. Entries whose
/// names start with '.' are left out. On failure to read the directory returns "" and sets `ec`.
std::string directory_listing(const std::filesystem::path& dir, std::string_view url_path,
                              std::error_code& ec);

/// `text` with &, <, >, " and ' escaped for HTML.
std::string html_escape(std::string_view text);

}  // namespace asioquic::tools
