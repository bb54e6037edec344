// RunContext: what every session and transfer of one client run shares. Owned by main.
#pragma once

#include <chrono>
#include <optional>
#include <ostream>
#include <string>

#include <asioquic/h3/settings.hpp>
#include <asioquic/settings.hpp>

#include "client/exit_codes.hpp"
#include "client/options.hpp"
#include "client/progress_bar.hpp"
#include "client/request_body.hpp"
#include "client/stdout_order.hpp"
#include "client/verbose_log.hpp"

namespace asioquic::tools {

struct RunContext {
  const ClientOptions& options;
  ClientSettings quic;
  h3::Settings h3;
  std::optional<RequestBody> body;
  ProgressBar& progress;
  StdoutOrder& stdout_order;
  VerboseLog& verbose;
  std::ostream& err;
  const std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  bool timed_out = false;  // --max-time expired: every failure from now on is a timeout

  /// Reports a failed transfer: prints "asioquic-client: (CODE) MESSAGE" on `err` unless -s
  /// without -S. Once --max-time has expired the failure is a timeout instead (reported once).
  /// Returns the code the transfer ends with.
  ExitCode fail(ExitCode code, const std::string& message);

  bool timeout_reported = false;
};

}  // namespace asioquic::tools
