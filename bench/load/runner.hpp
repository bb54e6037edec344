// The load generator proper: threads, connections and the figures they produce.
#pragma once

#include <iosfwd>

#include "load/options.hpp"

namespace asioquic::bench {

/// Runs the load described by `o`, writes the summary and the result line to `out`, and
/// returns the exit status (0 no errors, 1 errors, 3 cut short by --max-time).
int run_load(const LoadOptions& o, std::ostream& out);

}  // namespace asioquic::bench
