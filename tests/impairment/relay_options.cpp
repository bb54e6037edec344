#include "relay_options.hpp"

#include <arpa/inet.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <functional>

namespace impairment {

std::string Address::to_string() const {
  char buf[INET6_ADDRSTRLEN] = "?";
  std::string out;
  if (family() == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    out.append(buf).append(":").append(std::to_string(ntohs(a->sin_port)));
  } else {
    // (Appending, not "[" + std::string: g++ 12 -O3 warns falsely on the latter.)
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    out.append("[").append(buf).append("]:").append(std::to_string(ntohs(a->sin6_port)));
  }
  return out;
}

std::optional<Address> parse_address(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  const std::string port_text(text.substr(colon + 1));
  char* end = nullptr;
  errno = 0;
  const long port = std::strtol(port_text.c_str(), &end, 10);
  if (port_text.empty() || *end != '\0' || errno != 0 || port < 0 || port > 65535) {
    return std::nullopt;
  }
  Address a;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&a.ss);
    if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), &s6->sin6_addr) != 1) {
      return std::nullopt;
    }
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(static_cast<uint16_t>(port));
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&a.ss);
  if (inet_pton(AF_INET, host.c_str(), &s4->sin_addr) != 1) return std::nullopt;
  s4->sin_family = AF_INET;
  s4->sin_port = htons(static_cast<uint16_t>(port));
  a.len = sizeof(sockaddr_in);
  return a;
}

const char* usage() {
  return R"(usage: impairment_relay --listen ADDR:PORT --server ADDR:PORT [options]

A UDP relay for QUIC tests: clients send to --listen, the relay forwards to --server through one
upstream socket per client (source address:port) and relays the replies back, impairing both
directions with seeded, reproducible decisions. Addresses: A.B.C.D:PORT or [V6]:PORT.

  --listen ADDR:PORT     where clients send (port 0 picks one; the ready line prints it)
  --server ADDR:PORT     where the relay forwards to
  --seed N               seed of every random decision (default 1)

Impairments. The plain option sets both directions; a -c2s or -s2c suffix sets one
(--loss-s2c 2, --delay-c2s 10, ...). Times are seconds after the relay's first datagram.
  --loss PCT             drop PCT % of datagrams
  --delay MS             one-way delay
  --jitter MS            add a uniform [-MS, +MS] to the delay (keeps order)
  --reorder PCT          hold PCT % of datagrams --reorder-extra ms longer, so later ones overtake
  --reorder-extra MS     (default 10)
  --dup PCT              send PCT % of datagrams twice
  --corrupt PCT          flip one byte (after the first 8) of PCT % of datagrams
  --rate MBIT            bandwidth cap: token bucket at MBIT Mbit/s feeding a FIFO
  --queue PKTS           FIFO length of the cap; a packet that finds it full is dropped (default 1000)
  --burst BYTES          token bucket depth (default 15000)
  --blackhole T1:T2      drop everything from T1 to T2 seconds (repeatable)
Client events:
  --drop-initials N      drop each client's first N datagrams that start with an Initial packet
  --rebind-port-at T     at T seconds, give every client a new upstream socket, i.e. a new
                         source port toward the server (repeatable; SIGUSR1: now)
  --rebind-addr-at T     the same, also moving to the next source address 127.0.0.2,
                         127.0.0.3, ... (IPv4 only; repeatable; SIGUSR2: now)
Running:
  --stats                print counters every --stats-interval seconds (they are always printed
                         on exit: SIGINT, SIGTERM or --duration)
  --stats-interval S     (default 1)
  --duration S           exit after S seconds (default: run until SIGINT/SIGTERM)
  --idle-timeout S       forget a client after S seconds of silence (default 30)
  --max-payload BYTES    drop larger datagrams, like a link MTU (default 1472)
  --max-clients N        (default 1024)
  --pool PKTS            datagrams held inside the relay at once, delayed or queued (default 65536)
  --no-gso               send one datagram per message (no UDP_SEGMENT)
  --no-gro               receive one datagram per message (no UDP_GRO)
  --help
)";
}

namespace {

bool to_double(const std::string& s, double& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && *end == '\0' && errno == 0 && std::isfinite(out);
}

bool to_uint(const std::string& s, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(s.c_str(), &end, 10);
  return !s.empty() && s[0] != '-' && *end == '\0' && errno == 0;
}

}  // namespace

ParseResult parse_options(int argc, const char* const* argv) {
  RelayOptions o;
  bool have_listen = false;
  bool have_server = false;
  std::string value;

  // A setter gets the option's value and the directions it applies to.
  using Setter = std::function<std::string(const std::string&, DirectionProfile* [2])>;
  auto pct = [](double DirectionProfile::*field) -> Setter {
    return [field](const std::string& v, DirectionProfile* d[2]) -> std::string {
      double x;
      if (!to_double(v, x) || x < 0 || x > 100) return "a percentage in [0, 100]";
      for (int i = 0; i < 2; ++i)
        if (d[i]) d[i]->*field = x;
      return {};
    };
  };
  auto non_negative = [](double DirectionProfile::*field) -> Setter {
    return [field](const std::string& v, DirectionProfile* d[2]) -> std::string {
      double x;
      if (!to_double(v, x) || x < 0) return "a number >= 0";
      for (int i = 0; i < 2; ++i)
        if (d[i]) d[i]->*field = x;
      return {};
    };
  };
  auto positive_count = [](size_t DirectionProfile::*field) -> Setter {
    return [field](const std::string& v, DirectionProfile* d[2]) -> std::string {
      uint64_t x;
      if (!to_uint(v, x) || x == 0 || x > (1u << 24)) return "a count in [1, 16777216]";
      for (int i = 0; i < 2; ++i)
        if (d[i]) d[i]->*field = x;
      return {};
    };
  };
  const std::pair<const char*, Setter> per_direction[] = {
      {"loss", pct(&DirectionProfile::loss_pct)},
      {"delay", non_negative(&DirectionProfile::delay_ms)},
      {"jitter", non_negative(&DirectionProfile::jitter_ms)},
      {"reorder", pct(&DirectionProfile::reorder_pct)},
      {"reorder-extra", non_negative(&DirectionProfile::reorder_extra_ms)},
      {"dup", pct(&DirectionProfile::dup_pct)},
      {"corrupt", pct(&DirectionProfile::corrupt_pct)},
      {"rate", non_negative(&DirectionProfile::rate_mbit)},
      {"queue", positive_count(&DirectionProfile::queue_pkts)},
      {"burst", positive_count(&DirectionProfile::burst_bytes)},
      {"blackhole",
       [](const std::string& v, DirectionProfile* d[2]) -> std::string {
         const size_t colon = v.find(':');
         Window w;
         if (colon == std::string::npos || !to_double(v.substr(0, colon), w.from_s) ||
             !to_double(v.substr(colon + 1), w.to_s) || w.from_s < 0 || w.to_s <= w.from_s) {
           return "T1:T2 with 0 <= T1 < T2";
         }
         for (int i = 0; i < 2; ++i)
           if (d[i]) d[i]->blackholes.push_back(w);
         return {};
       }},
  };

  auto fail = [](std::string msg) { return ParseResult{std::nullopt, std::move(msg)}; };
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return {};
    if (arg.rfind("--", 0) != 0) return fail("unexpected argument: " + arg);
    std::string name = arg.substr(2);
    std::optional<std::string> inline_value;
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    const bool is_flag = name == "stats" || name == "no-gso" || name == "no-gro";
    if (is_flag) {
      if (inline_value) return fail("--" + name + " takes no value");
      if (name == "stats") o.stats = true;
      if (name == "no-gso") o.gso = false;
      if (name == "no-gro") o.gro = false;
      continue;
    }
    if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return fail("--" + name + " needs a value");
    }
    auto bad = [&](const std::string& what) { return fail("--" + name + ": expected " + what); };

    DirectionProfile* dirs[2] = {&o.dir[kC2S], &o.dir[kS2C]};
    std::string base = name;
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "-c2s") == 0) {
      dirs[kS2C] = nullptr;
      base.resize(name.size() - 4);
    } else if (name.size() > 4 && name.compare(name.size() - 4, 4, "-s2c") == 0) {
      dirs[kC2S] = nullptr;
      base.resize(name.size() - 4);
    }
    bool handled = false;
    for (const auto& [option, set] : per_direction) {
      if (base != option) continue;
      if (std::string err = set(value, dirs); !err.empty()) return bad(err);
      handled = true;
    }
    if (handled) continue;

    double x = 0;
    uint64_t n = 0;
    if (name == "listen" || name == "server") {
      auto a = parse_address(value);
      if (!a) return bad("ADDR:PORT");
      (name == "listen" ? o.listen : o.server) = *a;
      (name == "listen" ? have_listen : have_server) = true;
    } else if (name == "seed") {
      if (!to_uint(value, o.seed)) return bad("an unsigned integer");
    } else if (name == "drop-initials") {
      if (!to_uint(value, n) || n > 1000000) return bad("a count");
      o.drop_initials = static_cast<unsigned>(n);
    } else if (name == "rebind-port-at" || name == "rebind-addr-at") {
      if (!to_double(value, x) || x < 0) return bad("seconds >= 0");
      (name == "rebind-port-at" ? o.rebind_port_at : o.rebind_addr_at).push_back(x);
    } else if (name == "stats-interval" || name == "duration" || name == "idle-timeout") {
      if (!to_double(value, x) || x <= 0) return bad("seconds > 0");
      (name == "stats-interval" ? o.stats_interval_s
       : name == "duration"     ? o.duration_s
                                : o.idle_timeout_s) = x;
    } else if (name == "max-payload") {
      if (!to_uint(value, n) || n < 1 || n > 65527) return bad("bytes in [1, 65527]");
      o.max_payload = n;
    } else if (name == "max-clients" || name == "pool") {
      if (!to_uint(value, n) || n < 1 || n > (1u << 22)) return bad("a count in [1, 4194304]");
      (name == "pool" ? o.pool : o.max_clients) = n;
    } else {
      return fail("unknown option --" + name);
    }
  }
  if (!have_listen || !have_server) return fail("--listen and --server are required");
  if (!o.rebind_addr_at.empty() && o.server.family() != AF_INET) {
    return fail("--rebind-addr-at needs an IPv4 server (it uses 127.0.0.2, ...)");
  }
  return {o, {}};
}

}  // namespace impairment
