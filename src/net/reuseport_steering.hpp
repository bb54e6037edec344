// Steering a SO_REUSEPORT group by QUIC connection ID: a sharded listener binds one socket per
// shard to the same address, and a classic BPF program on the group hands each datagram to the
// socket of the shard whose id its destination connection ID carries.
#pragma once

#include <cstddef>
#include <cstdint>
#include <system_error>

#include "net/udp_socket.hpp"

namespace asioquic::net {

/// Attaches to the SO_REUSEPORT group of `member` (bound with SocketOptions::reuse_port) a
/// program that sends each datagram to the group's socket number (b % shards), where b is byte
/// `dcid_index` of the QUIC packet's destination connection ID (short header: from byte 1;
/// long header: from byte 6). Group members are numbered in the order they were bound; a
/// number without a socket yet (while the group fills) falls back to the kernel's hash. A
/// datagram too short for the read goes to socket 0. Requires 1 <= shards <= 256.
/// Errors: errc::invalid_argument, or the system error of setsockopt(SO_ATTACH_REUSEPORT_CBPF).
void steer_by_dcid_byte(UdpSocket& member, size_t dcid_index, uint32_t shards, std::error_code& ec);

}  // namespace asioquic::net
