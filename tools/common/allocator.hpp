// Which malloc the tools run on, for their --version line.
#pragma once

#include <string>

namespace asioquic::tools {

/// "mimalloc 2.0.9" when the tools were linked with mimalloc (ASIOQUIC_TOOLS_MALLOC), else
/// "glibc malloc". Never fails.
std::string allocator_name();

}  // namespace asioquic::tools
