// impairment_relay: a user-space UDP relay that impairs QUIC traffic between clients and one
// server, because the kernels here have no netem. Usage in README.md and `--help`.
//
// One thread, one epoll loop. Datagrams are read in recvmmsg batches (UDP_GRO coalesced where
// the sender used GSO), judged by the seeded rules of impairment.hpp, copied into a fixed
// pool and queued: in order in a FIFO per direction, or in a heap when reordered. Due packets
// leave in sendmmsg batches, runs of equal-size datagrams to one destination coalesced with
// UDP_SEGMENT, so the relay costs a few syscalls per 64 KB and never is the bottleneck.
#include "impairment.hpp"
#include "packet_pool.hpp"
#include "relay_options.hpp"

#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using namespace impairment;

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

constexpr int64_t ms_to_ns(double ms) {
  return static_cast<int64_t>(ms * 1e6);
}
constexpr int64_t s_to_ns(double s) {
  return static_cast<int64_t>(s * 1e9);
}
constexpr int64_t kNever = INT64_MAX;

struct DirStats {
  uint64_t rx_pkts = 0, rx_bytes = 0, fwd_pkts = 0, fwd_bytes = 0;
  uint64_t lost = 0, blackholed = 0, initials_dropped = 0, queue_drops = 0, pool_drops = 0;
  uint64_t oversize = 0, stale = 0, send_errors = 0, client_limit = 0;
  uint64_t duplicated = 0, corrupted = 0, reordered = 0;
};

bool same_address(const Address& a, const Address& b) {
  return a.len == b.len && std::memcmp(&a.ss, &b.ss, a.len) == 0;
}

// Hash key of a client's source address.
struct AddrKey {
  uint64_t hi = 0, lo = 0;
  uint32_t port_family = 0;
  bool operator==(const AddrKey&) const = default;
};
struct AddrKeyHash {
  size_t operator()(const AddrKey& k) const {
    return std::hash<uint64_t>()(k.hi * 0x9e3779b97f4a7c15ULL ^ k.lo ^
                                 (uint64_t{k.port_family} << 40));
  }
};
AddrKey key_of(const sockaddr_storage& ss) {
  AddrKey k;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    k.lo = a->sin_addr.s_addr;
    k.port_family = (uint32_t{a->sin_port} << 16) | AF_INET;
  } else {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    std::memcpy(&k.hi, &a->sin6_addr, 8);
    std::memcpy(&k.lo, reinterpret_cast<const uint8_t*>(&a->sin6_addr) + 8, 8);
    k.port_family = (uint32_t{a->sin6_port} << 16) | AF_INET6;
  }
  return k;
}

void set_buffers(int fd) {
  constexpr int kBytes = 8 << 20;  // absorbs bursts while the relay is descheduled
  for (auto [force, plain] : {std::pair{SO_RCVBUFFORCE, SO_RCVBUF}, {SO_SNDBUFFORCE, SO_SNDBUF}}) {
    if (setsockopt(fd, SOL_SOCKET, force, &kBytes, sizeof kBytes) != 0) {
      setsockopt(fd, SOL_SOCKET, plain, &kBytes, sizeof kBytes);
    }
  }
}

// A non-blocking UDP socket bound to `local`, connected to `peer` when given.
int open_udp(const Address& local, const Address* peer, bool gro, std::string& error) {
  const int fd = socket(local.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  set_buffers(fd);
  const int one = 1;
  if (gro) setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof one);  // optional: plain reads work
  // ECN codepoints pass through the relay, so the endpoints' ECN validation still succeeds.
  if (local.family() == AF_INET) {
    setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &one, sizeof one);
  } else {
    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
  }
  if (bind(fd, local.sa(), local.len) != 0) {
    error = "bind " + local.to_string() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (peer && connect(fd, peer->sa(), peer->len) != 0) {
    error = "connect " + peer->to_string() + ": " + std::strerror(errno);
    close(fd);
    return -1;
  }
  return fd;
}

Address local_address(int fd) {
  Address a;
  a.len = sizeof a.ss;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a.ss), &a.len);
  return a;
}

// Collects due datagrams for one socket and sends them with sendmmsg; consecutive datagrams to
// the same destination with the same size and ECN become one UDP_SEGMENT message.
class Sender {
 public:
  Sender(PacketPool& pool, DirStats* stats, int family, bool gso)
      : pool_(pool), stats_(stats), family_(family), gso_(gso) {}

  // dest == nullptr: the socket is connected.
  void add(int fd, const Address* dest, uint32_t slot) {
    if (fd != fd_) {
      flush();
      fd_ = fd;
    }
    const PacketMeta& m = pool_.meta(slot);
    if (n_msgs_ > 0) {
      Msg& cur = msgs_[n_msgs_ - 1];
      const bool same_dest = dest ? cur.has_dest && same_address(cur.dest, *dest) : !cur.has_dest;
      if (gso_ && same_dest && !cur.closed && cur.ecn == m.ecn && cur.dir == m.dir &&
          m.len <= cur.seg && cur.n_iov < kMaxSegments && cur.bytes + m.len <= kMaxGsoBytes &&
          n_iov_ < kMaxIov) {
        push_iov(slot);
        ++cur.n_iov;
        cur.bytes += m.len;
        cur.closed = m.len < cur.seg;  // only the last segment may be shorter
        return;
      }
    }
    if (n_msgs_ == kMaxMsgs || n_iov_ == kMaxIov) flush();
    Msg& msg = msgs_[n_msgs_++];
    msg.has_dest = dest != nullptr;
    if (dest) msg.dest = *dest;
    msg.first_iov = n_iov_;
    msg.n_iov = 1;
    msg.seg = msg.bytes = m.len;
    msg.closed = false;
    msg.ecn = m.ecn;
    msg.dir = m.dir;
    push_iov(slot);
  }

  void flush() {
    if (n_msgs_ == 0) return;
    for (size_t i = 0; i < n_msgs_; ++i)
      fill_header(i);
    size_t done = 0;
    while (done < n_msgs_) {
      const int r = sendmmsg(fd_, &hdrs_[done], static_cast<unsigned>(n_msgs_ - done), 0);
      if (r > 0) {
        for (size_t i = done; i < done + static_cast<size_t>(r); ++i) {
          stats_[msgs_[i].dir].fwd_pkts += msgs_[i].n_iov;
          stats_[msgs_[i].dir].fwd_bytes += msgs_[i].bytes;
        }
        done += static_cast<size_t>(r);
      } else if (errno != EINTR) {
        // A full socket buffer or an ICMP error from an earlier send: that message is lost,
        // as on a congested link; the rest still goes.
        stats_[msgs_[done].dir].send_errors += msgs_[done].n_iov;
        ++done;
      }
    }
    for (size_t i = 0; i < n_iov_; ++i)
      pool_.release(slots_[i]);
    n_msgs_ = n_iov_ = 0;
  }

 private:
  static constexpr size_t kMaxMsgs = 64;
  static constexpr size_t kMaxIov = 1024;
  static constexpr size_t kMaxSegments = 64;     // the kernel's UDP_MAX_SEGMENTS
  static constexpr size_t kMaxGsoBytes = 65000;  // under the 65 507-byte UDP limit
  static constexpr size_t kControl = CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(int));

  struct Msg {
    Address dest;
    bool has_dest = false;
    bool closed = false;
    uint8_t ecn = 0;
    uint8_t dir = 0;
    size_t first_iov = 0, n_iov = 0, seg = 0, bytes = 0;
  };

  void push_iov(uint32_t slot) {
    iov_[n_iov_] = {pool_.data(slot), pool_.meta(slot).len};
    slots_[n_iov_++] = slot;
  }

  void fill_header(size_t i) {
    const Msg& msg = msgs_[i];
    msghdr& h = hdrs_[i].msg_hdr;
    h = {};
    if (msg.has_dest) {
      h.msg_name = const_cast<sockaddr_storage*>(&msg.dest.ss);
      h.msg_namelen = msg.dest.len;
    }
    h.msg_iov = &iov_[msg.first_iov];
    h.msg_iovlen = msg.n_iov;
    uint8_t* buf = control_[i].data();
    std::memset(buf, 0, kControl);
    h.msg_control = buf;
    h.msg_controllen = kControl;
    size_t used = 0;
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    if (msg.n_iov > 1) {
      c->cmsg_level = SOL_UDP;
      c->cmsg_type = UDP_SEGMENT;
      c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      const auto seg = static_cast<uint16_t>(msg.seg);
      std::memcpy(CMSG_DATA(c), &seg, sizeof seg);
      used += CMSG_SPACE(sizeof(uint16_t));
      c = CMSG_NXTHDR(&h, c);
    }
    if (msg.ecn) {
      const int tos = msg.ecn;
      c->cmsg_level = family_ == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
      c->cmsg_type = family_ == AF_INET ? IP_TOS : IPV6_TCLASS;
      c->cmsg_len = CMSG_LEN(sizeof(int));
      std::memcpy(CMSG_DATA(c), &tos, sizeof tos);
      used += CMSG_SPACE(sizeof(int));
    }
    h.msg_controllen = used;
    if (used == 0) h.msg_control = nullptr;
  }

  PacketPool& pool_;
  DirStats* stats_;
  int family_;
  bool gso_;
  int fd_ = -1;
  std::array<Msg, kMaxMsgs> msgs_;
  size_t n_msgs_ = 0;
  std::array<iovec, kMaxIov> iov_{};
  std::array<uint32_t, kMaxIov> slots_{};
  size_t n_iov_ = 0;
  std::array<mmsghdr, kMaxMsgs> hdrs_{};
  alignas(cmsghdr) std::array<std::array<uint8_t, kControl>, kMaxMsgs> control_{};
};

// Receive buffers for one recvmmsg batch; a GRO message holds up to 64 KB of segments.
struct RecvArea {
  static constexpr size_t kBatch = 64;
  static constexpr size_t kBufBytes = 65536;
  static constexpr size_t kControl = 64;

  std::unique_ptr<uint8_t[]> data = std::make_unique_for_overwrite<uint8_t[]>(kBatch * kBufBytes);
  std::array<mmsghdr, kBatch> hdrs{};
  std::array<iovec, kBatch> iov{};
  std::array<sockaddr_storage, kBatch> names{};
  alignas(cmsghdr) std::array<std::array<uint8_t, kControl>, kBatch> control{};

  void reset() {
    for (size_t i = 0; i < kBatch; ++i) {
      iov[i] = {data.get() + i * kBufBytes, kBufBytes};
      msghdr& h = hdrs[i].msg_hdr;
      h.msg_name = &names[i];
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_iov = &iov[i];
      h.msg_iovlen = 1;
      h.msg_control = control[i].data();
      h.msg_controllen = kControl;
      h.msg_flags = 0;
    }
  }
};

class Relay {
 public:
  explicit Relay(RelayOptions o)
      : o_(std::move(o)),
        pool_(o_.pool, o_.max_payload),
        fifo_{SlotRing(o_.pool), SlotRing(o_.pool)},
        reordered_(o_.pool),
        to_server_(pool_, stats_, o_.server.family(), o_.gso),
        to_clients_(pool_, stats_, o_.listen.family(), o_.gso),
        recv_(std::make_unique<RecvArea>()) {
    for (int d = 0; d < 2; ++d) {
      const DirectionProfile& p = o_.dir[d];
      shaper_[d].configure(p.rate_mbit, p.burst_bytes, p.queue_pkts);
    }
    sessions_.reserve(o_.max_clients);
    for (double t : o_.rebind_port_at)
      events_.push_back({t, false});
    for (double t : o_.rebind_addr_at)
      events_.push_back({t, true});
    std::sort(events_.begin(), events_.end(),
              [](const Event& a, const Event& b) { return a.at_s < b.at_s; });
  }

  ~Relay() {
    for (Session& s : sessions_)
      if (s.live) close(s.fd);
    if (listen_fd_ >= 0) close(listen_fd_);
    if (signal_fd_ >= 0) close(signal_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }

  bool start() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2})
      sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    std::string error;
    listen_fd_ = open_udp(o_.listen, nullptr, o_.gro, error);
    if (signal_fd_ < 0 || epoll_fd_ < 0 || listen_fd_ < 0) {
      std::fprintf(stderr, "impairment_relay: %s\n",
                   error.empty() ? std::strerror(errno) : error.c_str());
      return false;
    }
    watch(signal_fd_, kSignalRole);
    watch(listen_fd_, kListenRole);
    // Delays and the shaper's spacing are sub-millisecond: wake up when asked, not 50 us late.
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
    start_ns_ = now_ns();
    std::printf("impairment_relay: listening on %s, forwarding to %s, seed %llu\n",
                local_address(listen_fd_).to_string().c_str(), o_.server.to_string().c_str(),
                static_cast<unsigned long long>(o_.seed));
    for (int d = 0; d < 2; ++d)
      print_profile(d);
    std::fflush(stdout);
    return true;
  }

  void run() {
    const int64_t end_ns = o_.duration_s > 0 ? start_ns_ + s_to_ns(o_.duration_s) : kNever;
    next_stats_ns_ = o_.stats ? start_ns_ + s_to_ns(o_.stats_interval_s) : kNever;
    next_gc_ns_ = start_ns_ + s_to_ns(1);
    std::array<epoll_event, 16> events;
    while (!stop_) {
      int64_t now = now_ns();
      if (now >= end_ns) break;
      run_timers(now);
      flush(now);
      const int64_t wake =
          std::min({next_due(), end_ns, next_stats_ns_, next_gc_ns_, next_event_ns()});
      const int64_t wait = std::max<int64_t>(0, wake - now_ns());
      const timespec ts{static_cast<time_t>(wait / 1'000'000'000),
                        static_cast<long>(wait % 1'000'000'000)};
      const int n = epoll_pwait2(epoll_fd_, events.data(), events.size(), &ts, nullptr);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        const int role = fd < static_cast<int>(fd_role_.size()) ? fd_role_[fd] : kNoRole;
        if (role == kSignalRole) {
          handle_signals();
        } else if (role == kListenRole) {
          read_socket(fd, kC2S, 0);
        } else if (role >= 0) {
          read_socket(fd, kS2C, static_cast<uint32_t>(role));
        }
      }
    }
    print_stats("final");
  }

 private:
  static constexpr int kNoRole = -3;
  static constexpr int kSignalRole = -2;
  static constexpr int kListenRole = -1;

  struct Session {
    Address client;
    int fd = -1;
    uint32_t gen = 0;
    bool live = false;
    unsigned initials_dropped = 0;
    int64_t last_seen_ns = 0;
  };
  struct Event {
    double at_s;
    bool new_address;
  };

  void watch(int fd, int role) {
    if (fd >= static_cast<int>(fd_role_.size())) fd_role_.resize(fd + 1, kNoRole);
    fd_role_[fd] = role;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  void unwatch(int fd) {
    fd_role_[fd] = kNoRole;
    close(fd);  // also leaves the epoll set
  }

  double since_first_s(int64_t now) const {
    return first_ns_ ? static_cast<double>(now - first_ns_) / 1e9 : 0.0;
  }

  // ---------------------------------------------------------------- receiving

  void read_socket(int fd, int dir, uint32_t session) {
    RecvArea& r = *recv_;
    // A few batches per wake-up, so one busy direction cannot starve the other.
    for (int round = 0; round < 4; ++round) {
      r.reset();
      const int n = recvmmsg(fd, r.hdrs.data(), RecvArea::kBatch, MSG_DONTWAIT, nullptr);
      if (n <= 0) return;  // EAGAIN, or an ICMP error left by an earlier send
      const int64_t now = now_ns();
      for (int i = 0; i < n; ++i) {
        const msghdr& h = r.hdrs[i].msg_hdr;
        const size_t len = r.hdrs[i].msg_len;
        size_t seg = len;
        uint8_t ecn = 0;
        for (cmsghdr* c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(const_cast<msghdr*>(&h), c)) {
          if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
            int gso_size;
            std::memcpy(&gso_size, CMSG_DATA(c), sizeof gso_size);
            if (gso_size > 0) seg = static_cast<size_t>(gso_size);
          } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
            ecn = *CMSG_DATA(c) & 3;
          } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
            int tclass;
            std::memcpy(&tclass, CMSG_DATA(c), sizeof tclass);
            ecn = static_cast<uint8_t>(tclass & 3);
          }
        }
        uint32_t s = session;
        if (dir == kC2S) {
          s = session_for(r.names[i], h.msg_namelen, now);
          if (s == kNoSlot) {
            stats_[kC2S].client_limit += (len + seg - 1) / std::max<size_t>(seg, 1);
            continue;
          }
        }
        sessions_[s].last_seen_ns = now;
        const uint8_t* data = static_cast<const uint8_t*>(r.iov[i].iov_base);
        for (size_t off = 0; off < len; off += seg) {
          ingest(dir, s, data + off, std::min(seg, len - off), ecn, now);
        }
      }
      if (n < static_cast<int>(RecvArea::kBatch)) return;
    }
  }

  uint32_t session_for(const sockaddr_storage& from, socklen_t from_len, int64_t now) {
    const AddrKey key = key_of(from);
    if (auto it = by_client_.find(key); it != by_client_.end()) return it->second;
    uint32_t idx;
    if (!free_sessions_.empty()) {
      idx = free_sessions_.back();
      free_sessions_.pop_back();
    } else if (sessions_.size() < o_.max_clients) {
      idx = static_cast<uint32_t>(sessions_.size());
      sessions_.emplace_back();
    } else {
      return kNoSlot;
    }
    std::string error;
    const int fd = open_udp(upstream_local(), &o_.server, o_.gro, error);
    if (fd < 0) {
      std::fprintf(stderr, "impairment_relay: new client: %s\n", error.c_str());
      free_sessions_.push_back(idx);
      return kNoSlot;
    }
    Session& s = sessions_[idx];
    s.client = {};
    std::memcpy(&s.client.ss, &from, from_len);
    s.client.len = from_len;
    s.fd = fd;
    s.live = true;
    s.initials_dropped = 0;
    s.last_seen_ns = now;
    watch(fd, static_cast<int>(idx));
    by_client_.emplace(key, idx);
    std::printf("impairment_relay: t=%.3f new client %s -> upstream %s\n", since_first_s(now),
                s.client.to_string().c_str(), local_address(fd).to_string().c_str());
    std::fflush(stdout);
    return idx;
  }

  void ingest(int dir, uint32_t session, const uint8_t* data, size_t len, uint8_t ecn,
              int64_t now) {
    DirStats& st = stats_[dir];
    const DirectionProfile& p = o_.dir[dir];
    ++st.rx_pkts;
    st.rx_bytes += len;
    if (!first_ns_) first_ns_ = now;
    const Fate fate = decide(p, o_.seed, dir, packet_index_[dir]++, len);
    if (len > o_.max_payload) {
      ++st.oversize;
      return;
    }
    if (!p.blackholes.empty() && p.blackholed(since_first_s(now))) {
      ++st.blackholed;
      return;
    }
    Session& s = sessions_[session];
    if (dir == kC2S && s.initials_dropped < o_.drop_initials && is_initial(data, len)) {
      ++s.initials_dropped;
      ++st.initials_dropped;
      return;
    }
    if (fate.lose) {
      ++st.lost;
      return;
    }
    if (fate.duplicate) {
      // The copy leaves first and unharmed; the original may still be corrupted or reordered.
      if (enqueue(dir, session, data, len, ecn, now, fate.jitter_ns[1], false)) ++st.duplicated;
    }
    const uint32_t slot =
        enqueue(dir, session, data, len, ecn, now, fate.jitter_ns[0], fate.reorder);
    if (slot != kNoSlot && fate.corrupt) {
      pool_.data(slot)[fate.corrupt_pos] ^= fate.corrupt_xor;
      ++st.corrupted;
    }
  }

  // Queues a copy of the datagram; returns its slot, or kNoSlot when it was dropped.
  uint32_t enqueue(int dir, uint32_t session, const uint8_t* data, size_t len, uint8_t ecn,
                   int64_t now, int64_t jitter_ns, bool reorder) {
    DirStats& st = stats_[dir];
    const DirectionProfile& p = o_.dir[dir];
    const uint32_t slot = pool_.acquire();
    if (slot == kNoSlot) {
      ++st.pool_drops;
      return kNoSlot;
    }
    const int64_t depart = shaper_[dir].admit(now, len);
    if (depart < 0) {
      pool_.release(slot);
      ++st.queue_drops;
      return kNoSlot;
    }
    std::memcpy(pool_.data(slot), data, len);
    PacketMeta& m = pool_.meta(slot);
    m.session = session;
    m.session_gen = sessions_[session].gen;
    m.len = static_cast<uint16_t>(len);
    m.dir = static_cast<uint8_t>(dir);
    m.ecn = ecn;
    const int64_t due = depart + std::max<int64_t>(0, ms_to_ns(p.delay_ms) + jitter_ns);
    if (reorder) {
      m.due_ns = due + ms_to_ns(p.reorder_extra_ms);
      reordered_.push(m.due_ns, slot);
      ++st.reordered;
    } else {
      // Jitter never reorders: a packet leaves no earlier than the one before it.
      m.due_ns = std::max(due, last_due_ns_[dir]);
      last_due_ns_[dir] = m.due_ns;
      fifo_[dir].push(slot);
    }
    return slot;
  }

  // ---------------------------------------------------------------- sending

  int64_t next_due() const {
    int64_t t = kNever;
    for (const SlotRing& f : fifo_)
      if (!f.empty()) t = std::min(t, pool_.meta(f.front()).due_ns);
    if (!reordered_.empty()) t = std::min(t, reordered_.top_due());
    return t;
  }

  void flush(int64_t now) {
    // Everything due leaves now; the pool bounds how much that can be.
    for (;;) {
      uint32_t slot = kNoSlot;
      int64_t best = now + 1;
      int from = -1;
      for (int d = 0; d < 2; ++d) {
        if (!fifo_[d].empty() && pool_.meta(fifo_[d].front()).due_ns < best) {
          best = pool_.meta(fifo_[d].front()).due_ns;
          from = d;
        }
      }
      if (!reordered_.empty() && reordered_.top_due() < best) from = 2;
      if (from < 0) break;
      if (from == 2) {
        slot = reordered_.top();
        reordered_.pop();
      } else {
        slot = fifo_[from].front();
        fifo_[from].pop();
      }
      send(slot);
    }
    to_server_.flush();
    to_clients_.flush();
  }

  void send(uint32_t slot) {
    const PacketMeta& m = pool_.meta(slot);
    const Session& s = sessions_[m.session];
    if (!s.live || s.gen != m.session_gen) {
      ++stats_[m.dir].stale;
      pool_.release(slot);
      return;
    }
    if (m.dir == kC2S) {
      to_server_.add(s.fd, nullptr, slot);  // the session's current socket: rebinding applies
    } else {
      to_clients_.add(listen_fd_, &s.client, slot);
    }
  }

  // ---------------------------------------------------------------- timers and signals

  int64_t next_event_ns() const {
    if (!first_ns_ || next_event_ >= events_.size()) return kNever;
    return first_ns_ + s_to_ns(events_[next_event_].at_s);
  }

  void run_timers(int64_t now) {
    while (next_event_ns() <= now)
      rebind(events_[next_event_++].new_address, "scheduled");
    if (now >= next_stats_ns_) {
      print_stats("periodic");
      next_stats_ns_ += s_to_ns(o_.stats_interval_s);
    }
    if (now >= next_gc_ns_) {
      forget_idle_clients(now);
      next_gc_ns_ = now + s_to_ns(1);
    }
  }

  void handle_signals() {
    signalfd_siginfo si;
    while (read(signal_fd_, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
      if (si.ssi_signo == SIGUSR1) {
        rebind(false, "SIGUSR1");
      } else if (si.ssi_signo == SIGUSR2) {
        rebind(true, "SIGUSR2");
      } else {
        stop_ = true;
      }
    }
  }

  Address upstream_local() const {
    Address a;
    if (o_.server.family() == AF_INET) {
      auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
      s4->sin_family = AF_INET;
      // 127.0.0.2, 127.0.0.3, ... after address rebinds; the kernel's choice before.
      if (addr_step_ > 0) s4->sin_addr.s_addr = htonl(0x7f000001u + addr_step_);
      a.len = sizeof(sockaddr_in);
    } else {
      reinterpret_cast<sockaddr_in6*>(&a.ss)->sin6_family = AF_INET6;
      a.len = sizeof(sockaddr_in6);
    }
    return a;
  }

  // Every client gets a fresh upstream socket: a new source port, and with new_address a new
  // source address, as a NAT that lost its mapping would do. The old socket closes at once.
  void rebind(bool new_address, const char* why) {
    if (new_address) {
      if (o_.server.family() != AF_INET) {
        std::fprintf(stderr, "impairment_relay: address rebinding needs IPv4\n");
        return;
      }
      ++addr_step_;
    }
    ++rebinds_;
    const double t = since_first_s(now_ns());
    for (size_t i = 0; i < sessions_.size(); ++i) {
      Session& s = sessions_[i];
      if (!s.live) continue;
      std::string error;
      const int fd = open_udp(upstream_local(), &o_.server, o_.gro, error);
      if (fd < 0) {
        std::fprintf(stderr, "impairment_relay: rebind: %s\n", error.c_str());
        continue;
      }
      const std::string old_local = local_address(s.fd).to_string();
      unwatch(s.fd);
      s.fd = fd;
      watch(fd, static_cast<int>(i));
      std::printf("impairment_relay: t=%.3f rebind %s (%s): client %s upstream %s -> %s\n", t,
                  new_address ? "address" : "port", why, s.client.to_string().c_str(),
                  old_local.c_str(), local_address(fd).to_string().c_str());
    }
    std::fflush(stdout);
  }

  void forget_idle_clients(int64_t now) {
    for (size_t i = 0; i < sessions_.size(); ++i) {
      Session& s = sessions_[i];
      if (!s.live || now - s.last_seen_ns < s_to_ns(o_.idle_timeout_s)) continue;
      std::printf("impairment_relay: t=%.3f client %s idle, forgotten\n", since_first_s(now),
                  s.client.to_string().c_str());
      by_client_.erase(key_of(s.client.ss));
      unwatch(s.fd);
      s.live = false;
      ++s.gen;  // its queued packets become stale
      free_sessions_.push_back(static_cast<uint32_t>(i));
    }
    std::fflush(stdout);
  }

  // ---------------------------------------------------------------- reporting

  void print_profile(int d) const {
    const DirectionProfile& p = o_.dir[d];
    std::printf(
        "impairment_relay: %s loss=%g%% delay=%gms jitter=%gms reorder=%g%% (+%gms) "
        "dup=%g%% corrupt=%g%%",
        dir_name(d), p.loss_pct, p.delay_ms, p.jitter_ms, p.reorder_pct, p.reorder_extra_ms,
        p.dup_pct, p.corrupt_pct);
    if (p.rate_mbit > 0) {
      std::printf(" rate=%gMbit/s queue=%zu burst=%zu", p.rate_mbit, p.queue_pkts, p.burst_bytes);
    }
    for (const Window& w : p.blackholes)
      std::printf(" blackhole=%g:%g", w.from_s, w.to_s);
    if (d == kC2S && o_.drop_initials) std::printf(" drop-initials=%u", o_.drop_initials);
    std::printf("\n");
  }

  void print_stats(const char* label) const {
    size_t clients = 0;
    for (const Session& s : sessions_)
      clients += s.live;
    const double t = since_first_s(now_ns());
    std::printf("[stats %s t=%.3f] clients=%zu rebinds=%u in_flight=%zu\n", label, t, clients,
                rebinds_, pool_.in_use());
    for (int d = 0; d < 2; ++d) {
      const DirStats& s = stats_[d];
      std::printf(
          "[stats %s t=%.3f] %s rx=%llu rx_bytes=%llu fwd=%llu fwd_bytes=%llu lost=%llu "
          "blackholed=%llu initials_dropped=%llu queue_drops=%llu pool_drops=%llu oversize=%llu "
          "stale=%llu send_errors=%llu client_limit=%llu duplicated=%llu corrupted=%llu "
          "reordered=%llu\n",
          label, t, dir_name(d), ull(s.rx_pkts), ull(s.rx_bytes), ull(s.fwd_pkts), ull(s.fwd_bytes),
          ull(s.lost), ull(s.blackholed), ull(s.initials_dropped), ull(s.queue_drops),
          ull(s.pool_drops), ull(s.oversize), ull(s.stale), ull(s.send_errors), ull(s.client_limit),
          ull(s.duplicated), ull(s.corrupted), ull(s.reordered));
    }
    std::fflush(stdout);
  }
  static unsigned long long ull(uint64_t v) { return v; }

  RelayOptions o_;
  PacketPool pool_;
  SlotRing fifo_[2];
  DueHeap reordered_;
  Shaper shaper_[2];
  DirStats stats_[2];
  Sender to_server_;
  Sender to_clients_;
  std::unique_ptr<RecvArea> recv_;

  std::vector<Session> sessions_;  // reserved up front: never reallocates
  std::vector<uint32_t> free_sessions_;
  std::unordered_map<AddrKey, uint32_t, AddrKeyHash> by_client_;
  std::vector<int> fd_role_;  // by fd: a session index or one of the k*Role values

  std::vector<Event> events_;
  size_t next_event_ = 0;
  uint64_t packet_index_[2] = {0, 0};
  int64_t last_due_ns_[2] = {0, 0};
  int64_t start_ns_ = 0;
  int64_t first_ns_ = 0;  // the first datagram: times in options count from here
  int64_t next_stats_ns_ = kNever;
  int64_t next_gc_ns_ = kNever;
  uint32_t addr_step_ = 0;
  unsigned rebinds_ = 0;
  bool stop_ = false;
  int listen_fd_ = -1;
  int signal_fd_ = -1;
  int epoll_fd_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  ParseResult parsed = parse_options(argc, argv);
  if (!parsed.options) {
    if (parsed.error.empty()) {
      std::fputs(usage(), stdout);
      return 0;
    }
    std::fprintf(stderr, "impairment_relay: %s\n\n%s", parsed.error.c_str(), usage());
    return 2;
  }
  Relay relay(std::move(*parsed.options));
  if (!relay.start()) return 1;
  relay.run();
  return 0;
}
