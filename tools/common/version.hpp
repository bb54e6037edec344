// The version the tools report (the project's, set by CMake).
#pragma once

#include <string_view>

namespace asioquic::tools {

inline constexpr std::string_view kVersion = ASIOQUIC_TOOLS_VERSION;

}  // namespace asioquic::tools
