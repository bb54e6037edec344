// engine_ceiling: the speed limit of the bare QUIC engine on this machine.
//
// One ngtcp2 client connection and one server connection live in this process, with GnuTLS
// sessions from our TlsContext (ngtcp2_crypto_gnutls underneath). Packets travel through
// in-memory single-producer/single-consumer rings: no sockets, no event loop, no HTTP/3. The
// client sends an 8-byte request on a bidirectional stream; the server answers with N bytes on
// the same stream, written with NGTCP2_WRITE_STREAM_FLAG_MORE from one reused 4 MiB buffer, and
// the client extends the stream and connection windows as it consumes. Transport parameters,
// windows, packet size, congestion control and cipher are our stack's defaults (Settings{}), so
// the figure is what asio-quic could reach if sockets, Asio, HTTP/3 and our own code cost
// nothing. The bulk scenario of bench/run.sh is measured against it.
//
//   engine_ceiling [--threads 1|2] [--bytes N] [--cc cubic|reno|bbr|bbr2] [--payload BYTES]
//                  [--cipher AES-128-GCM|AES-256-GCM|CHACHA20-POLY1305] [--burst PACKETS]
//                  [--ring PACKETS] [--spin-us US] [--timeout SECONDS]
//
// Output: a human-readable block on stderr and one line on stdout for scripts:
//   engine_ceiling threads=2 bytes=N seconds=S MBps=X server_cpu_s=A client_cpu_s=B
//     server_pkts=P client_pkts=Q server_us_per_pkt=U client_us_per_pkt=V cipher=... cc=...
// (MB = 10^6 bytes of stream payload; CPU from CLOCK_THREAD_CPUTIME_ID, per side).
// This program calls ngtcp2 directly by design: it measures the engine, not our library.
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <asioquic/certificate.hpp>
#include <asioquic/settings.hpp>

#include "engine/random.hpp"
#include "engine/tls_context.hpp"

namespace {

using asioquic::engine::TlsContext;

// ------------------------------------------------------------------------------ clocks

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "engine_ceiling: %s\n", what.c_str());
  std::exit(1);
}

// ------------------------------------------------------------------------------ rings

// Largest datagram either side writes: ngtcp2 sizes PMTUD probes up to max_tx_udp_payload_size.
constexpr size_t kMaxPayloadLimit = 1500;

// A bounded single-producer/single-consumer queue of datagrams, standing in for the kernel's
// socket buffers. A full ring stops the writer the way EAGAIN would; nothing is ever dropped, so
// the run measures the engine without loss recovery. Each index lives on its own cache line and
// each side caches the other's index, so a packet costs one release store and, usually, no
// cache-line transfer besides the slot itself.
class PacketRing {
 public:
  explicit PacketRing(size_t slots) : mask_(slots - 1), slots_(slots) {
    if (slots == 0 || (slots & mask_) != 0) die("ring size must be a power of two");
  }

  // Producer: the next free slot, or nullptr when the ring is full.
  uint8_t* prepare() {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - cached_head_ > mask_) {
      cached_head_ = head_.load(std::memory_order_acquire);
      if (tail - cached_head_ > mask_) return nullptr;
    }
    return slots_[tail & mask_].data;
  }
  // Producer: publishes the slot returned by prepare(), holding `len` bytes.
  void commit(size_t len) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    slots_[tail & mask_].len = static_cast<uint32_t>(len);
    tail_.store(tail + 1, std::memory_order_release);
  }

  // Consumer: the oldest datagram, or an empty span.
  std::span<const uint8_t> front() {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == cached_tail_) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head == cached_tail_) return {};
    }
    const Slot& s = slots_[head & mask_];
    return {s.data, s.len};
  }
  void pop() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  bool empty() const {
    return head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_acquire);
  }

 private:
  struct Slot {
    uint32_t len = 0;
    alignas(16) uint8_t data[kMaxPayloadLimit];
  };
  const size_t mask_;
  std::vector<Slot> slots_;
  alignas(64) std::atomic<size_t> head_{0};  // consumer's position
  size_t cached_tail_ = 0;                   // consumer's copy of tail_
  alignas(64) std::atomic<size_t> tail_{0};  // producer's position
  size_t cached_head_ = 0;                   // producer's copy of head_
};

// Wakes a side that sleeps until its peer has done something (pushed packets or freed ring
// space) or its own engine timer is due. The producer pays a futex syscall only when the other
// side is actually asleep; a sleeper that raced with a ring sees a changed sequence number and
// returns at once.
class Doorbell {
 public:
  uint32_t sequence() const { return seq_.load(std::memory_order_seq_cst); }

  void ring() {
    seq_.fetch_add(1, std::memory_order_seq_cst);
    if (sleeping_.load(std::memory_order_seq_cst)) {
      syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    }
  }

  // Sleeps while the sequence is still `seen`, at most `timeout_ns`.
  void wait(uint32_t seen, uint64_t timeout_ns) {
    sleeping_.store(true, std::memory_order_seq_cst);
    if (seq_.load(std::memory_order_seq_cst) == seen) {
      timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000u),
                  static_cast<long>(timeout_ns % 1'000'000'000u)};
      syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, seen, &ts, nullptr, 0);
    }
    sleeping_.store(false, std::memory_order_seq_cst);
  }

 private:
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t) &&
                std::atomic<uint32_t>::is_always_lock_free);
  uint32_t* word() { return reinterpret_cast<uint32_t*>(&seq_); }

  alignas(64) std::atomic<uint32_t> seq_{0};
  std::atomic<bool> sleeping_{false};
};

// ------------------------------------------------------------------------------ options

struct Options {
  int threads = 2;
  uint64_t bytes = 1ull << 30;
  ngtcp2_cc_algo cc = NGTCP2_CC_ALGO_CUBIC;
  std::string cc_name = "cubic";
  size_t payload = asioquic::Settings{}.max_udp_payload;
  std::string cipher;  // empty: TlsContext's priority order (AES-128-GCM first)
  size_t burst = 64;
  size_t ring = 4096;
  uint64_t spin_ns = 20'000;
  uint64_t timeout_ns = 300ull * 1'000'000'000u;
};

constexpr std::string_view kUsage =
    R"(Usage: engine_ceiling [OPTIONS]

Moves N bytes from an ngtcp2 server connection to an ngtcp2 client connection in this process,
through in-memory rings (no sockets, no event loop), with our stack's transport settings.

  --threads 1|2      1: both sides in one loop; 2: a thread per side (default 2)
  --bytes N          stream payload to transfer (default 1073741824; suffixes k, M, G = 2^10..)
  --cc ALGO          cubic (default, as our stack), reno, bbr, bbr2
  --payload BYTES    max_tx_udp_payload_size (default: Settings{}.max_udp_payload = 1452)
  --cipher NAME      offer only this TLS cipher: AES-128-GCM, AES-256-GCM, CHACHA20-POLY1305
                     (default: our priority order, which negotiates AES-128-GCM)
  --burst PACKETS    packets a side writes per round at most (default 64)
  --ring PACKETS     capacity of each direction's ring, a power of two (default 4096)
  --spin-us US       two-thread mode: busy-poll this long before sleeping (default 20)
  --timeout SECONDS  give up after this long (default 300)
)";

std::optional<uint64_t> parse_size(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  std::string_view rest(p, s.data() + s.size() - p);
  if (rest.empty()) return v;
  if (rest == "k" || rest == "K") return v << 10;
  if (rest == "M") return v << 20;
  if (rest == "G") return v << 30;
  return std::nullopt;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage.data(), stdout);
      std::exit(0);
    }
    if (i + 1 >= argc) die("missing value for " + std::string(a));
    std::string_view v = argv[++i];
    auto number = [&]() {
      auto n = parse_size(v);
      if (!n) die("bad value '" + std::string(v) + "' for " + std::string(a));
      return *n;
    };
    if (a == "--threads") {
      o.threads = static_cast<int>(number());
      if (o.threads != 1 && o.threads != 2) die("--threads must be 1 or 2");
    } else if (a == "--bytes") {
      o.bytes = number();
      if (o.bytes == 0) die("--bytes must be above 0");
    } else if (a == "--cc") {
      o.cc_name = v;
      if (v == "cubic") {
        o.cc = NGTCP2_CC_ALGO_CUBIC;
      } else if (v == "reno") {
        o.cc = NGTCP2_CC_ALGO_RENO;
      } else if (v == "bbr") {
        o.cc = NGTCP2_CC_ALGO_BBR;
      } else if (v == "bbr2") {
        o.cc = NGTCP2_CC_ALGO_BBR2;
      } else {
        die("--cc must be cubic, reno, bbr or bbr2");
      }
    } else if (a == "--payload") {
      o.payload = number();
      if (o.payload < 1200 || o.payload > kMaxPayloadLimit) die("--payload must be 1200..1500");
    } else if (a == "--cipher") {
      o.cipher = v;
      if (v != "AES-128-GCM" && v != "AES-256-GCM" && v != "CHACHA20-POLY1305") {
        die("--cipher must be AES-128-GCM, AES-256-GCM or CHACHA20-POLY1305");
      }
    } else if (a == "--burst") {
      o.burst = number();
      if (o.burst == 0) die("--burst must be above 0");
    } else if (a == "--ring") {
      o.ring = number();
    } else if (a == "--spin-us") {
      o.spin_ns = number() * 1000;
    } else if (a == "--timeout") {
      o.timeout_ns = number() * 1'000'000'000u;
    } else {
      die("unknown option " + std::string(a) + " (try --help)");
    }
  }
  return o;
}

// ------------------------------------------------------------------------------ one side

constexpr size_t kCidLen = 16;            // our server CIDs are 16 bytes; client CIDs too
constexpr size_t kSendBuffer = 4u << 20;  // the server's reused body buffer
constexpr size_t kMaxReadsPerTurn = 4096;

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// One endpoint: its ngtcp2 connection, TLS session, rings and counters. The server's
// connection is created from the client's first Initial, as a real server does (ngtcp2_accept).
class Side {
 public:
  Side(bool server, const Options& o, std::shared_ptr<TlsContext> tls, PacketRing& in,
       PacketRing& out)
      : server_(server), opt_(o), tls_(std::move(tls)), in_(in), out_(out) {
    local_ = loopback(server ? 4433 : 50000);
    remote_ = loopback(server ? 50000 : 4433);
    path_.local = {reinterpret_cast<ngtcp2_sockaddr*>(&local_), sizeof local_};
    path_.remote = {reinterpret_cast<ngtcp2_sockaddr*>(&remote_), sizeof remote_};
    conn_ref_.ref.get_conn = [](ngtcp2_crypto_conn_ref* r) {
      return static_cast<Side*>(r->user_data)->conn_;
    };
    conn_ref_.ref.user_data = this;
    if (server) {
      body_.resize(kSendBuffer);
      // The engine never looks at the bytes, and AES-GCM costs the same for any content.
      asioquic::engine::random_bytes(body_);
    }
  }
  ~Side() {
    if (conn_) ngtcp2_conn_del(conn_);
    if (session_) gnutls_deinit(session_);
  }
  Side(const Side&) = delete;
  Side& operator=(const Side&) = delete;

  void start_client(uint64_t ts) {
    ngtcp2_cid dcid;
    ngtcp2_cid scid;
    random_cid(dcid);
    random_cid(scid);
    create(dcid, scid, nullptr, NGTCP2_PROTO_VER_V1, ts);
  }

  // Reads what the peer sent, runs due timers and writes up to one burst. Returns whether it
  // did anything (read or wrote a packet, or ran a timer).
  bool turn(uint64_t ts) {
    bool worked = false;
    for (size_t n = 0; n < kMaxReadsPerTurn; ++n) {
      auto pkt = in_.front();
      if (pkt.empty()) break;
      read(pkt, ts);
      in_.pop();
      worked = true;
    }
    if (!conn_) return worked;
    if (ngtcp2_conn_get_expiry(conn_) <= ts) {
      check(ngtcp2_conn_handle_expiry(conn_, ts), "ngtcp2_conn_handle_expiry");
      worked = true;
    }
    return write(ts) || worked;
  }

  uint64_t expiry() const { return conn_ ? ngtcp2_conn_get_expiry(conn_) : UINT64_MAX; }
  bool done() const { return done_; }
  bool has_input() const { return !in_.empty(); }
  uint64_t packets_sent() const { return packets_sent_; }
  // Why write() stopped short of a burst: the outgoing ring was full (the peer is behind), or
  // the engine wrote nothing although the body was not stream-blocked (congestion window,
  // pacing or connection-level flow control).
  uint64_t ring_full() const { return ring_full_; }
  uint64_t cc_limited() const { return cc_limited_; }
  uint64_t received() const { return received_; }
  uint64_t request_ts() const { return request_ts_; }
  uint64_t done_ts() const { return done_ts_; }

  std::string cipher() const {
    if (!session_) return "?";
    const char* n = gnutls_cipher_get_name(gnutls_cipher_get(session_));
    return n ? n : "?";
  }

 private:
  static Side& self(void* ud) { return *static_cast<Side*>(ud); }

  static void random_cid(ngtcp2_cid& cid) {
    uint8_t b[kCidLen];
    asioquic::engine::random_bytes(b);
    ngtcp2_cid_init(&cid, b, sizeof b);
  }

  void check(int rv, const char* what) const {
    if (rv != 0) {
      die(std::string(server_ ? "server " : "client ") + what + ": " + ngtcp2_strerror(rv));
    }
  }

  // ---- ngtcp2 callbacks (only what a bulk transfer needs, plus what our stack registers)
  static void rand_cb(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
    asioquic::engine::random_bytes({dest, len});
  }
  static int get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t len,
                                   void*) {
    uint8_t b[NGTCP2_MAX_CIDLEN];
    asioquic::engine::random_bytes({b, len});
    ngtcp2_cid_init(cid, b, len);
    asioquic::engine::random_bytes({token, NGTCP2_STATELESS_RESET_TOKENLEN});
    return 0;
  }
  static int handshake_completed(ngtcp2_conn*, void* ud) {
    self(ud).handshake_done_ = true;
    return 0;
  }
  static int recv_stream_data(ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t,
                              const uint8_t*, size_t len, void* ud, void*) {
    Side& s = self(ud);
    s.received_ += len;
    if (s.server_) {
      // The request: answer it on the same stream.
      if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) s.stream_ = id;
    } else {
      // Consumed at once: give the credit back, as our stack does when the application reads.
      ngtcp2_conn_extend_max_stream_offset(conn, id, len);
      ngtcp2_conn_extend_max_offset(conn, len);
      if (flags & NGTCP2_STREAM_DATA_FLAG_FIN) {
        s.done_ = true;
        s.done_ts_ = now_ns();
      }
    }
    return 0;
  }
  static int acked_stream_data_offset(ngtcp2_conn*, int64_t, uint64_t, uint64_t len, void* ud,
                                      void*) {
    self(ud).acked_ += len;
    return 0;
  }
  static int extend_max_stream_data(ngtcp2_conn*, int64_t, uint64_t, void* ud, void*) {
    self(ud).blocked_ = false;
    return 0;
  }

  ngtcp2_callbacks callbacks() const {
    ngtcp2_callbacks cb{};
    if (server_) {
      cb.recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
    } else {
      cb.client_initial = ngtcp2_crypto_client_initial_cb;
      cb.recv_retry = ngtcp2_crypto_recv_retry_cb;
    }
    cb.recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.update_key = ngtcp2_crypto_update_key_cb;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    cb.version_negotiation = ngtcp2_crypto_version_negotiation_cb;
    cb.rand = rand_cb;
    cb.get_new_connection_id = get_new_connection_id;
    cb.handshake_completed = handshake_completed;
    cb.recv_stream_data = recv_stream_data;
    cb.acked_stream_data_offset = acked_stream_data_offset;
    cb.extend_max_stream_data = extend_max_stream_data;
    return cb;
  }

  // Creates the connection with our stack's settings and transport parameters (see
  // src/engine/quic_conn.cpp, QuicConn::create): the same defaults, taken from Settings{}.
  void create(const ngtcp2_cid& dcid, const ngtcp2_cid& scid, const ngtcp2_cid* odcid,
              uint32_t version, uint64_t ts) {
    const asioquic::Settings defaults;
    ngtcp2_settings st;
    ngtcp2_settings_default(&st);
    st.initial_ts = ts;
    st.cc_algo = opt_.cc;
    st.initial_rtt = static_cast<uint64_t>(defaults.initial_rtt.count()) * NGTCP2_MILLISECONDS;
    st.max_tx_udp_payload_size = opt_.payload;
    st.max_window = defaults.max_data_window;
    st.max_stream_window = defaults.max_stream_data_window;
    st.handshake_timeout =
        static_cast<uint64_t>(defaults.handshake_timeout.count()) * NGTCP2_MILLISECONDS;

    ngtcp2_transport_params params;
    ngtcp2_transport_params_default(&params);
    params.initial_max_stream_data_bidi_local = defaults.initial_max_stream_data;
    params.initial_max_stream_data_bidi_remote = defaults.initial_max_stream_data;
    params.initial_max_stream_data_uni = defaults.initial_max_stream_data;
    params.initial_max_data = defaults.initial_max_data;
    params.initial_max_streams_bidi = defaults.max_streams_bidi;
    params.initial_max_streams_uni = defaults.max_streams_uni;
    params.max_idle_timeout =
        static_cast<uint64_t>(defaults.idle_timeout.count()) * NGTCP2_MILLISECONDS;
    params.active_connection_id_limit = 7;
    params.max_datagram_frame_size = defaults.max_datagram_frame_size;
    if (server_) {
      params.original_dcid = *odcid;
      asioquic::engine::random_bytes(params.stateless_reset_token);
      params.stateless_reset_token_present = 1;
    }

    const ngtcp2_callbacks cb = callbacks();
    const int rv = server_ ? ngtcp2_conn_server_new(&conn_, &dcid, &scid, &path_, version, &cb, &st,
                                                    &params, nullptr, this)
                           : ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path_, version, &cb, &st,
                                                    &params, nullptr, this);
    check(rv, "ngtcp2_conn_new");

    std::error_code ec;
    session_ = tls_->new_session(&conn_ref_, "localhost", ec);
    if (!session_) die("TlsContext::new_session: " + ec.message());
    if (!server_ && !opt_.cipher.empty()) {
      // The client's offer decides: restricting it selects the suite under test.
      const std::string prio = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:" +
                               std::string("-CIPHER-ALL:+") + opt_.cipher +
                               ":-GROUP-ALL:+GROUP-X25519";
      if (gnutls_priority_set_direct(session_, prio.c_str(), nullptr) < 0) {
        die("cannot set the cipher priority " + prio);
      }
    }
    ngtcp2_conn_set_tls_native_handle(conn_, session_);
  }

  void read(std::span<const uint8_t> pkt, uint64_t ts) {
    if (!conn_) {
      // The server's first packet: the client's Initial.
      ngtcp2_pkt_hd hd;
      check(ngtcp2_accept(&hd, pkt.data(), pkt.size()), "ngtcp2_accept");
      ngtcp2_cid scid;
      random_cid(scid);
      create(hd.scid, scid, &hd.dcid, hd.version, ts);
    }
    ngtcp2_pkt_info pi{};
    check(ngtcp2_conn_read_pkt(conn_, &path_, &pi, pkt.data(), pkt.size(), ts),
          "ngtcp2_conn_read_pkt");
  }

  // What the application offers the packetizer next: the server's body, the client's request.
  bool next_chunk(ngtcp2_vec& v, uint32_t& flags, int64_t& id) {
    if (server_) {
      if (stream_ < 0 || blocked_ || fin_sent_) return false;
      const size_t at = static_cast<size_t>(offset_ % kSendBuffer);
      const uint64_t left = opt_.bytes - offset_;
      v.base = body_.data() + at;
      v.len = static_cast<size_t>(std::min<uint64_t>(kSendBuffer - at, left));
      if (v.len == left) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      id = stream_;
      return true;
    }
    if (!handshake_done_ || request_sent_) return false;
    if (stream_ < 0) check(ngtcp2_conn_open_bidi_stream(conn_, &stream_, nullptr), "open stream");
    std::memcpy(request_, &opt_.bytes, sizeof request_);
    v.base = request_;
    v.len = sizeof request_;
    flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    id = stream_;
    return true;
  }

  // Writes packets into the outgoing ring: at most one burst, fewer when the congestion
  // controller, flow control or the ring says stop.
  bool write(uint64_t ts) {
    if (server_) blocked_ = false;  // re-offer the stream each turn; the engine knows its limits
    size_t packets = 0;
    ngtcp2_pkt_info pi{};
    while (packets < opt_.burst) {
      uint8_t* dest = out_.prepare();
      if (!dest) {
        ++ring_full_;  // the peer is behind: like EAGAIN
        break;
      }
      ngtcp2_vec v{};
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      int64_t id = -1;
      const bool have = next_chunk(v, flags, id);
      ngtcp2_ssize ndatalen = -1;
      const ngtcp2_ssize n =
          ngtcp2_conn_writev_stream(conn_, nullptr, &pi, dest, opt_.payload, &ndatalen, flags,
                                    have ? id : -1, &v, have ? 1 : 0, ts);
      if (have && ndatalen >= 0) consumed(static_cast<uint64_t>(ndatalen), v, flags);
      if (n == NGTCP2_ERR_WRITE_MORE) continue;
      if (n == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
        blocked_ = true;
        continue;
      }
      if (n < 0) check(static_cast<int>(n), "ngtcp2_conn_writev_stream");
      if (n == 0) {
        // Congestion or pacing limited, or nothing to send (flow control, or no data).
        if (server_ && !blocked_ && !fin_sent_ && stream_ >= 0) ++cc_limited_;
        break;
      }
      out_.commit(static_cast<size_t>(n));
      ++packets;
    }
    if (packets > 0) ngtcp2_conn_update_pkt_tx_time(conn_, ts);
    packets_sent_ += packets;
    return packets > 0;
  }

  void consumed(uint64_t n, const ngtcp2_vec& v, uint32_t flags) {
    if (server_) {
      offset_ += n;
      if ((flags & NGTCP2_WRITE_STREAM_FLAG_FIN) && n == v.len) fin_sent_ = true;
    } else if (n == v.len) {
      request_sent_ = true;
      request_ts_ = now_ns();
    }
  }

  const bool server_;
  const Options& opt_;
  std::shared_ptr<TlsContext> tls_;
  PacketRing& in_;
  PacketRing& out_;
  sockaddr_in local_;
  sockaddr_in remote_;
  ngtcp2_path path_{};
  asioquic::engine::TlsConnRef conn_ref_{};
  ngtcp2_conn* conn_ = nullptr;
  gnutls_session_t session_ = nullptr;

  bool handshake_done_ = false;
  int64_t stream_ = -1;
  // server
  std::vector<uint8_t> body_;
  uint64_t offset_ = 0;
  bool blocked_ = false;
  bool fin_sent_ = false;
  uint64_t acked_ = 0;
  // client
  uint8_t request_[8]{};
  bool request_sent_ = false;
  uint64_t request_ts_ = 0;
  uint64_t received_ = 0;
  bool done_ = false;
  uint64_t done_ts_ = 0;
  uint64_t packets_sent_ = 0;
  uint64_t ring_full_ = 0;
  uint64_t cc_limited_ = 0;
};

// ------------------------------------------------------------------------------ drivers

struct CpuTimes {
  uint64_t server_ns = 0;
  uint64_t client_ns = 0;
};

// How a side's thread waited (two-thread mode): CPU spent spinning is included in its CPU time,
// so it is reported to tell work from waiting.
struct WaitStats {
  uint64_t spin_ns = 0;
  uint64_t sleeps = 0;
};

// Both sides in one loop, each turn timed with the thread CPU clock (a few hundred ns per
// turn of ~64 packets, well under 1%).
CpuTimes run_one_thread(Side& server, Side& client, uint64_t deadline) {
  CpuTimes cpu;
  while (!client.done()) {
    const uint64_t t0 = thread_cpu_ns();
    const bool sw = server.turn(now_ns());
    const uint64_t t1 = thread_cpu_ns();
    const bool cw = client.turn(now_ns());
    const uint64_t t2 = thread_cpu_ns();
    cpu.server_ns += t1 - t0;
    cpu.client_ns += t2 - t1;
    if (sw || cw) continue;
    const uint64_t now = now_ns();
    if (now > deadline) die("timed out");
    // Nothing to do until an engine timer (ACK delay, pacing, loss detection) is due.
    const uint64_t next = std::min({server.expiry(), client.expiry(), deadline});
    if (next > now) {
      const uint64_t d = next - now;
      timespec ts{static_cast<time_t>(d / 1'000'000'000u), static_cast<long>(d % 1'000'000'000u)};
      nanosleep(&ts, nullptr);
    }
  }
  return cpu;
}

// One side's thread: turns until the transfer is done, ringing the peer after every turn that
// did something, and sleeping (after a short spin) when there is nothing to do. The client's
// thread ends the run when the last byte has arrived.
void side_loop(Side& side, bool ends_run, Doorbell& mine, Doorbell& peer, std::atomic<bool>& stop,
               const Options& o, uint64_t deadline, uint64_t& cpu_ns, WaitStats& waits) {
  const uint64_t cpu0 = thread_cpu_ns();
  while (!stop.load(std::memory_order_acquire)) {
    if (ends_run && side.done()) {
      stop.store(true, std::memory_order_release);
      peer.ring();
      break;
    }
    const uint32_t seen = mine.sequence();
    if (side.turn(now_ns())) {
      peer.ring();
      continue;
    }
    uint64_t now = now_ns();
    if (now > deadline) die("timed out");
    const uint64_t spin_from = now;
    const uint64_t spin_until = now + o.spin_ns;
    while (!side.has_input() && mine.sequence() == seen && now < spin_until &&
           side.expiry() > now) {
      __builtin_ia32_pause();
      now = now_ns();
    }
    waits.spin_ns += now - spin_from;
    if (side.has_input() || mine.sequence() != seen || side.expiry() <= now) continue;
    // Bounded so a lost wake-up (there should be none) costs at most 100 ms, not the run.
    const uint64_t next = std::min(side.expiry(), deadline);
    if (next > now) {
      ++waits.sleeps;
      mine.wait(seen, std::min<uint64_t>(next - now, 100'000'000u));
    }
  }
  cpu_ns = thread_cpu_ns() - cpu0;
}

CpuTimes run_two_threads(Side& server, Side& client, const Options& o, uint64_t deadline,
                         WaitStats& server_waits, WaitStats& client_waits) {
  Doorbell server_bell;
  Doorbell client_bell;
  std::atomic<bool> stop{false};
  CpuTimes cpu;
  std::thread st(side_loop, std::ref(server), false, std::ref(server_bell), std::ref(client_bell),
                 std::ref(stop), std::cref(o), deadline, std::ref(cpu.server_ns),
                 std::ref(server_waits));
  std::thread ct(side_loop, std::ref(client), true, std::ref(client_bell), std::ref(server_bell),
                 std::ref(stop), std::cref(o), deadline, std::ref(cpu.client_ns),
                 std::ref(client_waits));
  ct.join();
  st.join();
  return cpu;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);

  std::error_code ec;
  const auto cert = asioquic::make_self_signed_certificate({"localhost", "127.0.0.1"}, ec);
  if (ec) die("make_self_signed_certificate: " + ec.message());
  asioquic::TlsSettings server_tls;
  server_tls.cert_pem = cert.cert_pem;
  server_tls.key_pem = cert.key_pem;
  server_tls.alpn = {"h3"};
  std::string detail;
  auto server_ctx = TlsContext::create(TlsContext::Role::server, server_tls, ec, &detail);
  if (!server_ctx) die("server TlsContext: " + detail);
  asioquic::TlsSettings client_tls;
  client_tls.alpn = {"h3"};
  client_tls.use_system_trust = false;
  client_tls.insecure_skip_verify = true;
  auto client_ctx = TlsContext::create(TlsContext::Role::client, client_tls, ec, &detail);
  if (!client_ctx) die("client TlsContext: " + detail);

  PacketRing to_server(o.ring);
  PacketRing to_client(o.ring);
  Side server(true, o, server_ctx, to_server, to_client);
  Side client(false, o, client_ctx, to_client, to_server);

  const uint64_t start = now_ns();
  const uint64_t deadline = start + o.timeout_ns;
  client.start_client(start);
  WaitStats server_waits;
  WaitStats client_waits;
  const CpuTimes cpu =
      o.threads == 1 ? run_one_thread(server, client, deadline)
                     : run_two_threads(server, client, o, deadline, server_waits, client_waits);

  if (client.received() != o.bytes) {
    die("received " + std::to_string(client.received()) + " of " + std::to_string(o.bytes) +
        " bytes");
  }
  // From the request leaving the client to the last byte arriving: the handshake (a few
  // hundred microseconds in memory) is not part of the bulk rate.
  const double seconds = static_cast<double>(client.done_ts() - client.request_ts()) / 1e9;
  const double mbps = static_cast<double>(o.bytes) / seconds / 1e6;
  const double s_cpu = static_cast<double>(cpu.server_ns) / 1e9;
  const double c_cpu = static_cast<double>(cpu.client_ns) / 1e9;
  const double s_pkts = static_cast<double>(server.packets_sent());
  const double c_pkts = static_cast<double>(client.packets_sent());
  const double data_pkts = std::max(1.0, s_pkts);

  const double s_spin = static_cast<double>(server_waits.spin_ns) / 1e9;
  const double c_spin = static_cast<double>(client_waits.spin_ns) / 1e9;
  std::fprintf(stderr,
               "engine ceiling: %d thread(s), %llu bytes, cipher %s, cc %s, %zu-byte packets\n"
               "  %.3f s, %.1f MB/s\n"
               "  server: %.3f CPU s (%.3f of it spinning, %llu sleeps), %.0f packets sent, "
               "%.3f us CPU per server packet; writes stopped by a full ring %llu times, by "
               "congestion/pacing/connection credit %llu times\n"
               "  client: %.3f CPU s (%.3f of it spinning, %llu sleeps), %.0f packets sent, "
               "%.3f us CPU per server packet; writes stopped by a full ring %llu times\n",
               o.threads, static_cast<unsigned long long>(o.bytes), client.cipher().c_str(),
               o.cc_name.c_str(), o.payload, seconds, mbps, s_cpu, s_spin,
               static_cast<unsigned long long>(server_waits.sleeps), s_pkts,
               s_cpu * 1e6 / data_pkts, static_cast<unsigned long long>(server.ring_full()),
               static_cast<unsigned long long>(server.cc_limited()), c_cpu, c_spin,
               static_cast<unsigned long long>(client_waits.sleeps), c_pkts,
               c_cpu * 1e6 / data_pkts, static_cast<unsigned long long>(client.ring_full()));
  std::printf(
      "engine_ceiling threads=%d bytes=%llu seconds=%.4f MBps=%.1f server_cpu_s=%.4f "
      "client_cpu_s=%.4f server_spin_s=%.4f client_spin_s=%.4f server_pkts=%.0f "
      "client_pkts=%.0f server_us_per_pkt=%.3f client_us_per_pkt=%.3f ring_full=%llu "
      "cc_limited=%llu cipher=%s cc=%s payload=%zu\n",
      o.threads, static_cast<unsigned long long>(o.bytes), seconds, mbps, s_cpu, c_cpu, s_spin,
      c_spin, s_pkts, c_pkts, s_cpu * 1e6 / data_pkts, c_cpu * 1e6 / data_pkts,
      static_cast<unsigned long long>(server.ring_full()),
      static_cast<unsigned long long>(server.cc_limited()), client.cipher().c_str(),
      o.cc_name.c_str(), o.payload);
  return 0;
}
