// The client's exit codes, as curl's, and which one an error maps to.
#pragma once

#include <system_error>

namespace asioquic::tools {

enum ExitCode : int {
  kExitOk = 0,
  kExitUnsupportedProtocol = 1,
  kExitUsage = 2,
  kExitUrlMalformed = 3,
  kExitCouldNotResolve = 6,
  kExitCouldNotConnect = 7,
  kExitHttpError = 22,
  kExitWriteError = 23,
  kExitReadError = 26,
  kExitTimeout = 28,
  kExitTlsError = 35,
  kExitSendError = 55,
  kExitRecvError = 56,
  kExitCaCertError = 77,
};

/// The exit code for a connection that could not be set up: resolver errors → 6, TLS failures
/// (certificate, ALPN, handshake) → 35, a bad CA file → 77, the handshake timing out → 28 if
/// the user set --connect-timeout else 7, anything else → 7.
ExitCode connect_failure_code(const std::error_code& ec, bool connect_timeout_given);

}  // namespace asioquic::tools
