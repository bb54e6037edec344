#include "client/run_context.hpp"

namespace asioquic::tools {

ExitCode RunContext::fail(ExitCode code, const std::string& message) {
  std::string text = message;
  if (timed_out) {
    code = kExitTimeout;
    if (timeout_reported) return code;
    timeout_reported = true;
    text =
        "Operation timed out after " + std::to_string(options.max_time->count()) + " milliseconds";
  }
  if (!options.silent || options.show_error) {
    progress.interrupt();
    err << "asioquic-client: (" << static_cast<int>(code) << ") " << text << std::endl;
  }
  return code;
}

}  // namespace asioquic::tools
