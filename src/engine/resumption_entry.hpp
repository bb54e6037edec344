// ResumptionEntry: what a client keeps about a server in its SessionStore, as one opaque value.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace asioquic::engine {

/// The server's transport parameters that bound 0-RTT (RFC 9000 §7.4.1: a client remembers
/// them with the ticket, and the server must not lower them when it accepts early data).
struct EarlyTransportParams {
  uint64_t initial_max_streams_bidi = 0;
  uint64_t initial_max_streams_uni = 0;
  uint64_t initial_max_stream_data_bidi_local = 0;
  uint64_t initial_max_stream_data_bidi_remote = 0;
  uint64_t initial_max_stream_data_uni = 0;
  uint64_t initial_max_data = 0;
  uint64_t active_connection_id_limit = 0;
  uint64_t max_datagram_frame_size = 0;
};

/// One server's entry: the TLS session ticket (GnuTLS's packed session), and for 0-RTT the
/// protocol negotiated with it and the parameters above.
struct ResumptionEntry {
  std::string alpn;
  bool early_data = false;       // the ticket allows 0-RTT (its max_early_data_size is 0xffffffff)
  uint16_t key_share_group = 0;  // gnutls_group_t the server chose; the next key share's
  EarlyTransportParams params;
  std::vector<uint8_t> ticket;
};

/// Serializes `e`: a format tag, then the fields, the ticket last.
std::vector<uint8_t> encode_resumption_entry(const ResumptionEntry& e);

/// Parses what encode() made. Returns nullopt for anything else (another format, e.g. a
/// session file written by an older version, or truncated or trailing bytes): the
/// connection then makes a full handshake.
std::optional<ResumptionEntry> decode_resumption_entry(std::span<const uint8_t> bytes);

}  // namespace asioquic::engine
