#include "asioquic/settings.hpp"

#include "asioquic/error.hpp"

namespace asioquic {
namespace {

std::error_code fail(std::string* what, const char* field) {
  if (what) *what = field;
  return make_error_code(errc::invalid_argument);
}

}  // namespace

std::error_code validate(const Settings& s, std::string* what) {
  using std::chrono::milliseconds;
  if (s.tls.alpn.empty()) return fail(what, "tls.alpn: at least one protocol is required");
  // GnuTLS 3.7 limits (see engine/tls_context.cpp), tighter than RFC 7301's 255 bytes.
  if (s.tls.alpn.size() > 8) return fail(what, "tls.alpn: at most 8 protocols");
  for (const auto& p : s.tls.alpn) {
    if (p.empty() || p.size() > 31) return fail(what, "tls.alpn: each protocol is 1-31 bytes");
  }
  if (s.tls.key_shares < 1 || s.tls.key_shares > 3) {
    return fail(what, "tls.key_shares: must be 1, 2 or 3");
  }
  if (s.idle_timeout < milliseconds(0)) return fail(what, "idle_timeout: negative");
  if (s.handshake_timeout <= milliseconds(0)) return fail(what, "handshake_timeout: must be > 0");
  if (s.initial_rtt <= milliseconds(0) || s.initial_rtt > milliseconds(60'000)) {
    return fail(what, "initial_rtt: must be in (0, 60 s]");
  }
  if (s.keep_alive < milliseconds(0)) return fail(what, "keep_alive: negative");
  if (s.initial_max_data == 0) return fail(what, "initial_max_data: must be > 0");
  // RFC 9000 §18: transport parameters are varints; ngtcp2 aborts on values of 2^62 or more.
  constexpr uint64_t kMaxVarint = (uint64_t{1} << 62) - 1;
  if (s.initial_max_data > kMaxVarint) return fail(what, "initial_max_data: at most 2^62 - 1");
  if (s.max_data_window < s.initial_max_data) {
    return fail(what, "max_data_window: must be >= initial_max_data");
  }
  if (s.initial_max_stream_data == 0) return fail(what, "initial_max_stream_data: must be > 0");
  if (s.initial_max_stream_data > kMaxVarint) {
    return fail(what, "initial_max_stream_data: at most 2^62 - 1");
  }
  if (s.max_stream_data_window < s.initial_max_stream_data) {
    return fail(what, "max_stream_data_window: must be >= initial_max_stream_data");
  }
  // RFC 9000 §4.6: stream counts above 2^60 cannot be encoded.
  constexpr uint64_t kMaxStreams = uint64_t{1} << 60;
  if (s.max_streams_bidi > kMaxStreams || s.max_streams_uni > kMaxStreams) {
    return fail(what, "max_streams_*: at most 2^60");
  }
  if (s.stream_send_buffer == 0) return fail(what, "stream_send_buffer: must be > 0");
  // RFC 9000 §18.2: max_udp_payload_size is at least 1200; the kernel caps a datagram at 65527.
  if (s.max_udp_payload < 1200 || s.max_udp_payload > 65527) {
    return fail(what, "max_udp_payload: must be in [1200, 65527]");
  }
  if (s.max_datagram_frame_size > 65535)
    return fail(what, "max_datagram_frame_size: at most 65535");
  if (s.socket_buffer < 0) return fail(what, "socket_buffer: negative");
  return {};
}

std::error_code validate(const ServerSettings& s, std::string* what) {
  if (auto ec = validate(static_cast<const Settings&>(s), what)) return ec;
  if (s.accept_backlog == 0) return fail(what, "accept_backlog: must be > 0");
  if (s.retry_token_lifetime <= std::chrono::milliseconds(0)) {
    return fail(what, "retry_token_lifetime: must be > 0");
  }
  const bool has_cert = !s.tls.cert_file.empty() || !s.tls.cert_pem.empty();
  const bool has_key = !s.tls.key_file.empty() || !s.tls.key_pem.empty();
  if (!has_cert || !has_key) {
    return fail(what, "tls: a server needs cert_file/key_file or cert_pem/key_pem");
  }
  return {};
}

std::error_code validate(const ClientSettings& s, std::string* what) {
  if (auto ec = validate(static_cast<const Settings&>(s), what)) return ec;
  if (s.early_data && !s.session_store) {
    return fail(what, "early_data: needs a session_store (0-RTT resumes a session)");
  }
  return {};
}

}  // namespace asioquic
