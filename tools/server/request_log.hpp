// RequestLog: one line per finished request on an output stream.
#pragma once

#include <chrono>
#include <mutex>
#include <ostream>

#include <asioquic/h3/server.hpp>

#include "server/reply.hpp"

namespace asioquic::tools {

class RequestLog {
 public:
  /// Logs to `out` (which must outlive the log) unless `enabled` is false.
  RequestLog(std::ostream& out, bool enabled) : out_(out), enabled_(enabled) {}

  /// Writes and flushes one line (thread-safe: lines from several threads do not mix):
  ///   METHOD PATH STATUS bytes=N time=MSms conn=TRACE_ID stream=ID [error="..."]
  /// STATUS is "-" when no response was sent; control bytes in the path are shown as '?'.
  void write(const h3::ServerRequest& req, const Reply& reply,
             std::chrono::steady_clock::duration elapsed);

  /// Whether write() writes anything.
  bool enabled() const noexcept { return enabled_; }

 private:
  std::ostream& out_;
  bool enabled_;
  std::mutex mutex_;
};

}  // namespace asioquic::tools
