// Content types of static files, by file name extension.
#pragma once

#include <string_view>

namespace asioquic::tools {

/// The content type for a file name, from its extension (case-insensitive);
/// "application/octet-stream" for an unknown or missing extension.
std::string_view content_type_for(std::string_view file_name);

}  // namespace asioquic::tools
