// impairment_relay_bench: measures what impairment_relay forwards without impairments, to
// check it never is the bottleneck of a test. A sender thread pushes datagrams of --size bytes
// (in UDP_SEGMENT batches, so the sender itself is cheap) to the relay; a sink, which is the
// relay's --server, counts what arrives.
//
//   impairment_relay --listen 127.0.0.1:5000 --server 127.0.0.1:5001 &
//   impairment_relay_bench --relay 127.0.0.1:5000 --sink 127.0.0.1:5001 --seconds 3
#include "relay_options.hpp"

#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using impairment::Address;

int udp_socket(const Address& a) {
  const int fd = socket(a.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const int bytes = 8 << 20;
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof bytes) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes, sizeof bytes) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  }
  return fd;
}

struct Sink {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> datagrams{0};

  void run(int fd) {
    const int one = 1;
    setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);
    const timeval tv{0, 100'000};  // wake up to see `stop`
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::vector<uint8_t> buf(65536);
    alignas(cmsghdr) uint8_t control[64];
    while (!stop.load(std::memory_order_relaxed)) {
      iovec iov{buf.data(), buf.size()};
      msghdr h{};
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      h.msg_control = control;
      h.msg_controllen = sizeof control;
      const ssize_t n = recvmsg(fd, &h, 0);
      if (n <= 0) continue;
      size_t seg = static_cast<size_t>(n);
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
          int s;
          std::memcpy(&s, CMSG_DATA(c), sizeof s);
          seg = static_cast<size_t>(s);
        }
      }
      bytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
      datagrams.fetch_add((static_cast<size_t>(n) + seg - 1) / seg, std::memory_order_relaxed);
    }
  }
};

int usage() {
  std::fputs(
      "usage: impairment_relay_bench --relay ADDR:PORT --sink ADDR:PORT [--seconds S]\n"
      "                              [--size BYTES] [--offered MB_PER_S]\n"
      "  --seconds S        how long to send (default 3)\n"
      "  --size BYTES       datagram size (default 1452)\n"
      "  --offered MB/S     pace the sender at this rate (default 0: as fast as it goes)\n",
      stderr);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::optional<Address> relay, sink;
  double seconds = 3;
  size_t size = 1452;
  double offered = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string opt = argv[i];
    const char* v = argv[i + 1];
    if (opt == "--relay") {
      relay = impairment::parse_address(v);
    } else if (opt == "--sink") {
      sink = impairment::parse_address(v);
    } else if (opt == "--seconds") {
      seconds = std::atof(v);
    } else if (opt == "--size") {
      size = static_cast<size_t>(std::atol(v));
    } else if (opt == "--offered") {
      offered = std::atof(v);
    } else {
      return usage();
    }
  }
  if (argc % 2 == 0 || !relay || !sink || seconds <= 0 || size < 1 || size > 65000) {
    return usage();
  }

  const int sink_fd = udp_socket(*sink);
  if (bind(sink_fd, sink->sa(), sink->len) != 0) {
    std::perror("bind sink");
    return 1;
  }
  Sink counter;
  std::thread sink_thread([&] { counter.run(sink_fd); });

  const int fd = udp_socket(*relay);
  if (connect(fd, relay->sa(), relay->len) != 0) {
    std::perror("connect relay");
    return 1;
  }
  const size_t per_send = std::min<size_t>(64, 65000 / size);
  std::vector<uint8_t> payload(per_send * size, 0x5a);
  payload[0] = 0x40;  // a short-header-looking first byte, as QUIC traffic mostly is
  alignas(cmsghdr) uint8_t control[CMSG_SPACE(sizeof(uint16_t))] = {};
  uint64_t sent = 0;
  uint64_t send_errors = 0;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  for (auto now = start; now < end; now = Clock::now()) {
    const double elapsed = std::chrono::duration<double>(now - start).count();
    if (offered > 0 && static_cast<double>(sent) > offered * 1e6 * elapsed) {
      std::this_thread::sleep_for(std::chrono::microseconds(20));
      continue;
    }
    iovec iov{payload.data(), payload.size()};
    msghdr h{};
    h.msg_iov = &iov;
    h.msg_iovlen = 1;
    h.msg_control = control;
    h.msg_controllen = sizeof control;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    const auto seg = static_cast<uint16_t>(size);
    std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
    if (sendmsg(fd, &h, 0) == static_cast<ssize_t>(payload.size())) {
      sent += payload.size();
    } else {
      ++send_errors;
    }
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the relay drain
  counter.stop = true;
  sink_thread.join();
  close(fd);
  close(sink_fd);

  const uint64_t got = counter.bytes.load();
  std::printf("sent      %.1f MB/s (%llu datagrams of %zu bytes, %llu send errors)\n",
              static_cast<double>(sent) / took / 1e6, static_cast<unsigned long long>(sent / size),
              size, static_cast<unsigned long long>(send_errors));
  std::printf("delivered %.1f MB/s (%llu datagrams, %.2f%% of sent)\n",
              static_cast<double>(got) / took / 1e6,
              static_cast<unsigned long long>(counter.datagrams.load()),
              sent ? 100.0 * static_cast<double>(got) / static_cast<double>(sent) : 0.0);
  return 0;
}
