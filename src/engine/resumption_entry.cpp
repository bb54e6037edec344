#include "engine/resumption_entry.hpp"

#include <algorithm>
#include <array>

namespace asioquic::engine {
namespace {

// "AQR" and a format version, so a value of another shape is never taken for a ticket.
constexpr std::array<uint8_t, 4> kTag{'A', 'Q', 'R', 1};
constexpr size_t kParamCount = 8;
constexpr size_t kMaxAlpn = 255;

std::array<uint64_t*, kParamCount> fields(EarlyTransportParams& p) {
  return {&p.initial_max_streams_bidi,           &p.initial_max_streams_uni,
          &p.initial_max_stream_data_bidi_local, &p.initial_max_stream_data_bidi_remote,
          &p.initial_max_stream_data_uni,        &p.initial_max_data,
          &p.active_connection_id_limit,         &p.max_datagram_frame_size};
}

uint8_t* put_u64(uint8_t* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    *out++ = static_cast<uint8_t>(v >> shift);
  return out;
}

}  // namespace

std::vector<uint8_t> encode_resumption_entry(const ResumptionEntry& e) {
  const size_t alpn = std::min(e.alpn.size(), kMaxAlpn);
  std::vector<uint8_t> out(kTag.size() + 4 + alpn + kParamCount * 8 + e.ticket.size());
  uint8_t* p = std::copy(kTag.begin(), kTag.end(), out.data());
  *p++ = e.early_data ? 1 : 0;
  *p++ = static_cast<uint8_t>(e.key_share_group >> 8);
  *p++ = static_cast<uint8_t>(e.key_share_group);
  *p++ = static_cast<uint8_t>(alpn);
  p = std::copy_n(e.alpn.data(), alpn, p);
  EarlyTransportParams params = e.params;
  for (const uint64_t* f : fields(params))
    p = put_u64(p, *f);
  std::copy(e.ticket.begin(), e.ticket.end(), p);
  return out;
}

std::optional<ResumptionEntry> decode_resumption_entry(std::span<const uint8_t> in) {
  if (in.size() < kTag.size() + 4 || !std::equal(kTag.begin(), kTag.end(), in.begin())) {
    return std::nullopt;
  }
  in = in.subspan(kTag.size());
  ResumptionEntry e;
  if (in[0] > 1) return std::nullopt;
  e.early_data = in[0] == 1;
  e.key_share_group = static_cast<uint16_t>(in[1] << 8 | in[2]);
  const size_t alpn = in[3];
  in = in.subspan(4);
  if (in.size() < alpn + kParamCount * 8) return std::nullopt;
  e.alpn.assign(in.begin(), in.begin() + static_cast<ptrdiff_t>(alpn));
  in = in.subspan(alpn);
  for (uint64_t* f : fields(e.params)) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i)
      v = (v << 8) | in[i];
    *f = v;
    in = in.subspan(8);
  }
  if (in.empty()) return std::nullopt;  // a ticket is never empty
  e.ticket.assign(in.begin(), in.end());
  return e;
}

}  // namespace asioquic::engine
