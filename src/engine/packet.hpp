// Stateless packet work of the router and acceptor: header parsing, Version Negotiation, Retry
// and its tokens, stateless resets, and refusing a connection — all without connection state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "engine/reset_token_key.hpp"
#include "net/udp_socket.hpp"
#include "quic/cid.hpp"

namespace asioquic::engine {

/// Nanoseconds on the steady clock: the engine's time base.
uint64_t now_ns() noexcept;

constexpr uint32_t kQuicV1 = 0x00000001;

/// What the router needs from a datagram's first packet.
struct HeaderInfo {
  enum class Form { short_header, initial, zero_rtt, handshake, retry, version_negotiation };
  Form form = Form::short_header;
  uint32_t version = 0;
  std::span<const uint8_t> dcid;
  std::span<const uint8_t> scid;  // long header only
};

enum class ParseResult {
  ok,
  unsupported_version,  // long header with a version we do not speak: answer with VN
  invalid,              // not a QUIC packet we can use: count and drop
};

/// Parses the invariant header fields (RFC 8999) of `pkt`. `short_dcid_len` is the length of the
/// CIDs this endpoint issues (short headers carry no length). No allocation; `out` points into
/// `pkt`. A CID over 20 bytes is invalid, unless the version is one we do not speak; so an ok
/// result's CIDs always fit a quic::Cid.
ParseResult parse_header(std::span<const uint8_t> pkt, size_t short_dcid_len, HeaderInfo& out);

/// Checks that a client Initial is acceptable to start a connection (minimum 1200-byte
/// datagram, DCID of at least 8 bytes, well-formed header) and returns its token.
/// Returns false for packets to drop.
bool check_initial(std::span<const uint8_t> pkt, std::span<const uint8_t>& token);

/// Writes a Version Negotiation packet answering a long header with `dcid`/`scid` (swapped, as
/// RFC 9000 §17.2.1 requires) and listing our versions plus a reserved one other than
/// `client_version`. Returns its length, 0 on error.
size_t write_version_negotiation(std::span<uint8_t> out, std::span<const uint8_t> dcid,
                                 std::span<const uint8_t> scid, uint32_t client_version = 0);

// ----- Retry (address validation)

// Tokens: engine/retry_token_key.hpp.

/// Writes a Retry packet. Returns its length, 0 on error.
size_t write_retry(std::span<uint8_t> out, uint32_t version, const quic::Cid& client_scid,
                   const quic::Cid& retry_scid, const quic::Cid& odcid,
                   std::span<const uint8_t> token);

// ----- stateless reset

/// Writes a stateless reset for a packet of `received_len` bytes whose DCID was `dcid`, with the
/// token `key` gives that CID; it is shorter than the packet that triggered it (RFC 9000
/// §10.3.3) so two endpoints cannot loop. Returns its length, 0 if the received packet was too
/// short to answer.
size_t write_stateless_reset(std::span<uint8_t> out, const ResetTokenKey& key,
                             std::span<const uint8_t> dcid, size_t received_len);

/// Writes an Initial packet carrying CONNECTION_CLOSE(`error_code`) for a client Initial with
/// `client_dcid`/`client_scid`, without connection state (used to refuse connections).
/// Returns its length, 0 on error.
size_t write_refusal(std::span<uint8_t> out, uint32_t version, std::span<const uint8_t> client_dcid,
                     std::span<const uint8_t> client_scid, uint64_t error_code);

}  // namespace asioquic::engine
