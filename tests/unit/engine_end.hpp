// Helpers for unit tests that drive engine connections (engine::QuicConn) by hand, in memory.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include <asio/ip/address.hpp>

#include "engine/quic_conn.hpp"

namespace asioquic::engine::test {

/// An address from an IP literal and a port.
inline net::Address addr(const char* ip, uint16_t port) {
  return net::Address::from({asio::ip::make_address(ip), port});
}

/// Everything `conn` writes at `ts`, one element per datagram, through `buf`. Stops at the
/// first write that returns another status than ok, which is stored in `status`.
inline std::vector<std::vector<uint8_t>> write_datagrams(QuicConn& conn, SendSource& src,
                                                         DatagramSource& dgrams,
                                                         std::vector<uint8_t>& buf, uint64_t ts,
                                                         QuicConn::Status& status) {
  std::vector<std::vector<uint8_t>> out;
  TxBatch b;
  b.buf = buf.data();
  b.cap = buf.size();
  status = QuicConn::Status::ok;
  for (int i = 0; i < 16; ++i) {
    status = conn.write(b, src, dgrams, 64, ts);
    if (status != QuicConn::Status::ok) break;
    if (b.count == 0 && b.extra_len == 0) break;
    for (size_t off = 0; off < b.len; off += b.segment)
      out.emplace_back(b.buf + off, b.buf + std::min(off + b.segment, b.len));
    if (b.extra_len) out.emplace_back(b.buf + b.len, b.buf + b.len + b.extra_len);
  }
  return out;
}

}  // namespace asioquic::engine::test
