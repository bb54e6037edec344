// Fuzz target: the stateless packet code an attacker reaches first — header parsing, Initial
// checks, Retry token verification and stateless reset replies.
#include <array>
#include <cstdint>
#include <span>

#include "engine/packet.hpp"
#include "engine/retry_token_key.hpp"

using namespace asioquic;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::array<uint8_t, 32> secret{1, 2, 3};
  static const net::Address client = [] {
    std::error_code ec;
    return net::Address::from({asio::ip::make_address("127.0.0.1"), 4433});
  }();
  const std::span<const uint8_t> in(data, size);

  engine::HeaderInfo hdr;
  const auto parsed = engine::parse_header(in, quic::CidGenerator::kLength, hdr);
  std::array<uint8_t, 1500> out;
  if (parsed == engine::ParseResult::unsupported_version) {
    engine::write_version_negotiation(out, hdr.dcid, hdr.scid, hdr.version);
  }
  if (parsed != engine::ParseResult::ok) return 0;
  // An ok parse promises CIDs that fit a Cid.
  const quic::Cid dcid(hdr.dcid.data(), hdr.dcid.size());
  static const engine::RetryTokenKey retry_key(secret);
  std::span<const uint8_t> token;
  if (engine::check_initial(in, token) && engine::is_retry_token(token)) {
    quic::Cid odcid;
    retry_key.verify(token, client, dcid, 10'000'000'000, 1, odcid);
  }
  quic::Cid odcid;
  retry_key.verify(in, client, dcid, 10'000'000'000, 1, odcid);
  static const engine::ResetTokenKey reset_key(secret);
  engine::write_stateless_reset(out, reset_key, hdr.dcid, size);
  if (hdr.form == engine::HeaderInfo::Form::initial) {
    engine::write_refusal(out, hdr.version, hdr.dcid, hdr.scid, 0x2);
  }
  return 0;
}
