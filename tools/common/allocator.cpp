#include "allocator.hpp"

#ifdef ASIOQUIC_TOOLS_MIMALLOC
#include <mimalloc.h>
#endif

namespace asioquic::tools {

std::string allocator_name() {
#ifdef ASIOQUIC_TOOLS_MIMALLOC
  // mi_version() is 209 for 2.0.9. Calling it also keeps the link to libmimalloc under
  // --as-needed, which would otherwise drop a library the program names no symbol of.
  const int v = mi_version();
  return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." +
         std::to_string(v % 10);
#else
  return "glibc malloc";
#endif
}

}  // namespace asioquic::tools
