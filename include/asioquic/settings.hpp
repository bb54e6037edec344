// Settings for listeners and client connections, with their documented defaults.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace asioquic {

class SessionStore;  // session_store.hpp

/// TLS configuration. A server needs a certificate and key (PEM, as files or in memory); when
/// none is given, listen() fails with errc::tls_credentials (tools make a self-signed one).
/// A client verifies the server's certificate against the system trust store by default.
struct TlsSettings {
  std::string cert_file;  // PEM certificate chain file
  std::string key_file;   // PEM private key file
  std::string cert_pem;   // PEM chain in memory (used when cert_file is empty)
  std::string key_pem;    // PEM key in memory (used when key_file is empty)

  /// Application protocols (ALPN), most preferred first. A server accepts only these; a client
  /// offers them. Required: QUIC has no default application protocol.
  std::vector<std::string> alpn;

  /// Client: the name checked against the server's certificate and sent as SNI. Empty: the host
  /// passed to connect() (an IP literal is checked against the certificate's IP addresses).
  std::string server_name;
  /// Client: trust the system store (/etc/ssl/certs). On by default.
  bool use_system_trust = true;
  /// Client: an extra PEM file of trusted CA certificates (for example a self-signed server's).
  std::string ca_file;
  /// Client: accept any server certificate (the system store is then not loaded). Off by
  /// default; for tests and local tools only.
  bool insecure_skip_verify = false;
  /// Client: key shares in the ClientHello, 1 to 3, for our groups in order of preference
  /// (X25519, P-256, P-384). With 1, only X25519's key is made: every common QUIC server
  /// (ngtcp2, quiche, quic-go, MsQuic, Chromium's, ours) takes it, and a server that does not
  /// asks for another group with a HelloRetryRequest, at the cost of one round trip. Each
  /// further share costs a key generation per handshake (P-256: ~9% of a client's handshake).
  unsigned key_shares = 1;

  /// Write TLS secrets in NSS key log format to this file (for Wireshark). Empty: use the
  /// SSLKEYLOGFILE environment variable if set, otherwise no key log.
  std::string keylog_file;
};

enum class CongestionControl { cubic, reno, bbr, bbr2 };

/// Transport settings shared by servers and clients. Every field has a working default.
struct Settings {
  TlsSettings tls;

  /// Close a connection after this long without receiving anything. 0 disables (not advised).
  std::chrono::milliseconds idle_timeout{30'000};
  /// Give up a handshake that has not finished after this long.
  std::chrono::milliseconds handshake_timeout{10'000};
  /// RTT assumed before the first sample.
  std::chrono::milliseconds initial_rtt{100};
  /// Send a PING after this long without traffic, to keep NAT bindings alive. 0: never.
  std::chrono::milliseconds keep_alive{0};
  /// After a connection closes, stay in the closing or draining period (three PTOs, RFC 9000
  /// §10.2) to answer packets still in flight with the CONNECTION_CLOSE again. A process about
  /// to exit (a command-line client) can turn it off: the connection then ends, and
  /// async_wait_closed completes, as soon as our CONNECTION_CLOSE is sent or the peer's arrives.
  bool linger_after_close = true;

  /// Connection-level receive window at start, and the ceiling its auto-tuning may reach
  /// (ClientSettings starts both receive windows larger).
  uint64_t initial_max_data = 16u << 20;
  uint64_t max_data_window = 64u << 20;
  /// Per-stream receive window at start, and its auto-tuning ceiling.
  uint64_t initial_max_stream_data = 4u << 20;
  uint64_t max_stream_data_window = 32u << 20;
  /// Streams the peer may have open at once.
  uint64_t max_streams_bidi = 128;
  uint64_t max_streams_uni = 16;
  /// Bytes a stream may hold queued for sending (sent-but-unacknowledged included) before
  /// Connection::stream_send reports errc::would_block.
  size_t stream_send_buffer = 4u << 20;

  CongestionControl congestion_control = CongestionControl::cubic;
  /// Largest UDP payload we send; path MTU discovery may raise it up to this value.
  size_t max_udp_payload = 1452;
  /// Largest QUIC DATAGRAM frame we accept (RFC 9221). 0 disables datagrams.
  size_t max_datagram_frame_size = 65535;
  /// Datagrams queued for sending before Connection::send_datagram reports would_block.
  size_t datagram_send_queue = 256;

  /// Directory for qlog files, one per connection (<odcid>.sqlog). Empty: no qlog.
  std::string qlog_dir;

  // Socket.
  /// SO_SNDBUF / SO_RCVBUF requested (as root the *FORCE variants lift the sysctl cap).
  int socket_buffer = 8 << 20;
  /// Use UDP_SEGMENT (GSO) and UDP_GRO when the kernel has them.
  bool enable_gso = true;
  bool enable_gro = true;
};

/// Server-only settings.
struct ServerSettings : Settings {
  /// Connections handshaking or waiting in async_accept's queue; beyond this new ones are
  /// refused with CONNECTION_CLOSE(CONNECTION_REFUSED) and counted.
  size_t accept_backlog = 1024;
  /// Validate every client address with a Retry round trip before creating state.
  bool retry = false;
  /// Retry switches on by itself under pressure: when more than `retry_above_handshakes`
  /// handshakes are in progress (each holds TLS and engine state: the memory an attacker with
  /// spoofed addresses could pin), when more than `retry_above_rate` new connections per
  /// second arrive, or when the process's resident memory is above `retry_above_memory` bytes
  /// (sampled at most every 100 ms; off by default, as only the deployment knows what the
  /// machine can spare). 0 disables a trigger.
  size_t retry_above_handshakes = 256;
  unsigned retry_above_rate = 2000;
  uint64_t retry_above_memory = 0;
  /// Connections at once, and handshakes in progress at once; beyond them new clients are
  /// refused with CONNECTION_CLOSE(CONNECTION_REFUSED) at once (never left to time out).
  /// 0: no limit.
  size_t max_connections = 100'000;
  size_t max_handshakes = 4096;
  /// How long a Retry token stays valid.
  std::chrono::milliseconds retry_token_lifetime{10'000};
  /// Secret for Retry tokens, stateless reset tokens and TLS session tickets. Unset: random per
  /// listener. Set it (and keep it) to make them survive a restart: every process with the
  /// same secret derives the same reset token for a connection ID, accepts the others' Retry
  /// tokens, and resumes TLS sessions from the others' tickets (GnuTLS rotates the ticket key
  /// derived from it over time; anyone holding the secret can decrypt tickets, so keep it as
  /// secret as the certificate's key). With it set, 0-RTT is refused (clients resend their
  /// early data after the handshake): each process's anti-replay cache sees only its own
  /// connections, so early data accepted by one could be replayed to another.
  std::optional<std::array<uint8_t, 32>> static_secret;
  /// Stateless resets sent per second at most (token bucket); 0 disables them.
  unsigned stateless_reset_rate = 100;
  /// Server id written into every connection ID this listener issues (QUIC-LB style), so a load
  /// balancer or a later multi-core router can steer packets without state.
  uint16_t server_id = 0;
};

/// Client-only settings.
struct ClientSettings : Settings {
  /// A client mostly receives, from a server it chose: its receive windows start larger
  /// (32 MiB for the connection, 16 MiB per stream) than a server's. With 4 MiB a download
  /// over 40 ms and 5% loss stalled on flow control: the window update goes out when half
  /// the window is read, and what loss holds back (not yet readable) eats the other half.
  ClientSettings() {
    initial_max_data = 32u << 20;
    initial_max_stream_data = 16u << 20;
  }

  /// Local address to bind; empty: the unspecified address of the server's family.
  std::string local_address;

  /// Tickets for resuming TLS with servers connected to before (make_session_store()). Null
  /// (the default): every connection makes a full handshake. See session_store.hpp.
  std::shared_ptr<SessionStore> session_store;

  /// 0-RTT (RFC 9001 §4.6): with a ticket from a server that allows it, the application
  /// starts before the handshake completes and its first stream data leaves with the
  /// ClientHello, one round trip sooner. Off by default: early data can be replayed by an
  /// attacker who captured it, so only what is safe to process twice belongs there (the
  /// HTTP/3 client sends GET, HEAD and OPTIONS requests early and holds the rest until the
  /// handshake completes). Needs session_store. The server may refuse the early data; then
  /// ApplicationOverQuic::on_early_data_rejected runs (the HTTP/3 client sends its requests
  /// again). Answers to early data can come before the server's new ticket, so a connection
  /// closed right after them waits (up to three probe timeouts) for that ticket before its
  /// CONNECTION_CLOSE: a loop that reconnects at once waits for the close
  /// (ConnectionHandle::async_wait_closed) to find the ticket.
  bool early_data = false;
};

/// Checks a Settings for values the engine would reject; returns errc::invalid_argument with
/// `what` naming the field, or an empty error_code.
std::error_code validate(const Settings& s, std::string* what = nullptr);
std::error_code validate(const ServerSettings& s, std::string* what = nullptr);
std::error_code validate(const ClientSettings& s, std::string* what = nullptr);

}  // namespace asioquic
