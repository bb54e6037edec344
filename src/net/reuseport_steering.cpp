#include "net/reuseport_steering.hpp"

#include <linux/filter.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "asioquic/error.hpp"

namespace asioquic::net {

void steer_by_dcid_byte(UdpSocket& member, size_t dcid_index, uint32_t shards,
                        std::error_code& ec) {
  // The program sees the UDP payload; a load past its end ends the program with 0.
  constexpr uint32_t kShortDcid = 1;  // after the first byte
  constexpr uint32_t kLongDcid = 6;   // after first byte, version (4) and DCID length (1)
  if (shards == 0 || shards > 256 || dcid_index >= 20) {
    ec = make_error_code(errc::invalid_argument);
    return;
  }
  const auto at = static_cast<uint32_t>(dcid_index);
  std::array<sock_filter, 7> code{{
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),                // A = first byte
      BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 0, 2),     // header form bit: long?
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kLongDcid + at),   // long: A = DCID[at]
      BPF_STMT(BPF_JMP | BPF_JA, 1),                        //
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kShortDcid + at),  // short: A = DCID[at]
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, shards),          // A %= shards
      BPF_STMT(BPF_RET | BPF_A, 0),                         // the group's socket number
  }};
  const sock_fprog prog{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(member.socket().native_handle(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
                   sizeof prog) != 0) {
    ec = std::error_code(errno, std::system_category());
  }
}

}  // namespace asioquic::net
