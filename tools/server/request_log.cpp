#include "server/request_log.hpp"

#include <cstdio>
#include <string>

namespace asioquic::tools {
namespace {

// `s` with control bytes and spaces replaced by '?', so one request stays one log line.
std::string printable(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == ' ') c = '?';
  }
  return out;
}

}  // namespace

void RequestLog::write(const h3::ServerRequest& req, const Reply& reply,
                       std::chrono::steady_clock::duration elapsed) {
  if (!enabled_) return;
  const double ms = std::chrono::duration<double, std::milli>(elapsed).count();
  char time[32];
  std::snprintf(time, sizeof time, "%.2f", ms);
  std::string line = printable(req.method()) + " " + printable(req.path()) + " " +
                     (reply.status() ? std::to_string(reply.status()) : std::string("-")) +
                     " bytes=" + std::to_string(reply.body_bytes()) + " time=" + time +
                     "ms conn=" + req.connection_trace_id() +
                     " stream=" + std::to_string(req.stream_id());
  if (req.early_data()) line += " early";
  if (reply.error()) line += " error=\"" + reply.error().message() + "\"";
  line += '\n';
  std::lock_guard lock(mutex_);
  out_.write(line.data(), static_cast<std::streamsize>(line.size())).flush();
}

}  // namespace asioquic::tools
