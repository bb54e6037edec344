#include "engine/packet.hpp"

#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include <array>
#include <chrono>

#include "engine/random.hpp"

namespace asioquic::engine {
namespace {

ngtcp2_cid to_ngtcp2(const quic::Cid& c) {
  ngtcp2_cid n;
  ngtcp2_cid_init(&n, c.bytes.data(), c.len);
  return n;
}

ngtcp2_cid to_ngtcp2(std::span<const uint8_t> c) {
  ngtcp2_cid n;
  ngtcp2_cid_init(&n, c.data(), c.size());
  return n;
}

}  // namespace

uint64_t now_ns() noexcept {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

ParseResult parse_header(std::span<const uint8_t> pkt, size_t short_dcid_len, HeaderInfo& out) {
  if (pkt.empty()) return ParseResult::invalid;
  ngtcp2_version_cid vc;
  const int rv = ngtcp2_pkt_decode_version_cid(&vc, pkt.data(), pkt.size(), short_dcid_len);
  const bool long_form = (pkt[0] & 0x80) != 0;
  if (rv != 0 && rv != NGTCP2_ERR_VERSION_NEGOTIATION) return ParseResult::invalid;
  out.version = vc.version;
  out.dcid = {vc.dcid, vc.dcidlen};
  out.scid = vc.scid ? std::span<const uint8_t>{vc.scid, vc.scidlen} : std::span<const uint8_t>{};
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) return ParseResult::unsupported_version;
  if (!long_form) {
    out.form = HeaderInfo::Form::short_header;
    return ParseResult::ok;
  }
  // Before the VN case too: a VN to us echoes our CIDs, and callers copy an ok DCID into a Cid.
  if (vc.dcidlen > NGTCP2_MAX_CIDLEN || vc.scidlen > NGTCP2_MAX_CIDLEN) {
    return ParseResult::invalid;
  }
  if (vc.version == 0) {
    out.form = HeaderInfo::Form::version_negotiation;
    return ParseResult::ok;
  }
  unsigned type = (pkt[0] >> 4) & 0x3;
  // ngtcp2 0.12 also speaks the v2 draft, which rotates the long packet types by one.
  if (vc.version == NGTCP2_PROTO_VER_V2_DRAFT) type = (type + 3) & 0x3;
  switch (type) {
    case 0:
      out.form = HeaderInfo::Form::initial;
      break;
    case 1:
      out.form = HeaderInfo::Form::zero_rtt;
      break;
    case 2:
      out.form = HeaderInfo::Form::handshake;
      break;
    default:
      out.form = HeaderInfo::Form::retry;
      break;
  }
  return ParseResult::ok;
}

bool check_initial(std::span<const uint8_t> pkt, std::span<const uint8_t>& token) {
  ngtcp2_pkt_hd hd;
  // ngtcp2_accept checks the type, the 1200-byte minimum and the DCID length; RETRY means a
  // 0-RTT packet arrived first, which cannot start a connection either.
  if (ngtcp2_accept(&hd, pkt.data(), pkt.size()) != 0) return false;
  // ngtcp2 waives the 8-byte DCID minimum when a token is present; we don't: after our Retry
  // the DCID is our 16-byte CID, and a NEW_TOKEN client picks a fresh random one (§7.2).
  if (hd.dcid.datalen < NGTCP2_MIN_INITIAL_DCIDLEN) return false;
  token = {hd.token.base, hd.token.len};
  return true;
}

size_t write_version_negotiation(std::span<uint8_t> out, std::span<const uint8_t> dcid,
                                 std::span<const uint8_t> scid, uint32_t client_version) {
  std::array<uint8_t, 5> rnd;
  random_bytes(rnd);
  // Offer v1 plus a random reserved version (0x?a?a?a?a, RFC 9000 §15) so clients can't come to
  // rely on the list. It must differ from the client's: a client ignores a VN naming its own.
  uint32_t grease = 0;
  for (int i = 0; i < 4; ++i)
    grease = (grease << 8) | ((rnd[i] & 0xf0) | 0x0a);
  if (grease == client_version) grease ^= 0x10000000;
  const uint32_t versions[] = {kQuicV1, grease};
  const auto n =
      ngtcp2_pkt_write_version_negotiation(out.data(), out.size(), rnd[4] & 0x7f, scid.data(),
                                           scid.size(), dcid.data(), dcid.size(), versions, 2);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t write_retry(std::span<uint8_t> out, uint32_t version, const quic::Cid& client_scid,
                   const quic::Cid& retry_scid, const quic::Cid& odcid,
                   std::span<const uint8_t> token) {
  const auto d = to_ngtcp2(client_scid);
  const auto s = to_ngtcp2(retry_scid);
  const auto o = to_ngtcp2(odcid);
  const auto n = ngtcp2_crypto_write_retry(out.data(), out.size(), version, &d, &s, &o,
                                           token.data(), token.size());
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t write_stateless_reset(std::span<uint8_t> out, const ResetTokenKey& key,
                             std::span<const uint8_t> dcid, size_t received_len) {
  // The reset must be shorter than what triggered it, yet at least 5 random bytes (the first
  // byte among them) + token (RFC 9000 §10.3); answer nothing smaller than that.
  constexpr size_t kMin = NGTCP2_MIN_STATELESS_RESET_RANDLEN + kStatelessResetTokenLen;
  if (received_len <= kMin) return 0;
  const size_t len = std::min<size_t>(received_len - 1, 43);
  const ResetToken token = key.token(dcid);
  std::array<uint8_t, 64> rand;
  // ngtcp2 writes the random bytes (fixing up the first) and then the token: randlen + 16.
  const size_t randlen = len - kStatelessResetTokenLen;
  random_bytes({rand.data(), randlen});
  const auto n =
      ngtcp2_pkt_write_stateless_reset(out.data(), out.size(), token.data(), rand.data(), randlen);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

size_t write_refusal(std::span<uint8_t> out, uint32_t version, std::span<const uint8_t> client_dcid,
                     std::span<const uint8_t> client_scid, uint64_t error_code) {
  // Initial keys derive from the client's DCID, so the client can read this close; we answer
  // as if our SCID were the DCID it chose.
  const auto d = to_ngtcp2(client_scid);
  const auto s = to_ngtcp2(client_dcid);
  const auto n = ngtcp2_crypto_write_connection_close(out.data(), out.size(), version, &d, &s,
                                                      error_code, nullptr, 0);
  return n > 0 ? static_cast<size_t>(n) : 0;
}

}  // namespace asioquic::engine
