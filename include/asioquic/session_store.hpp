// TLS session tickets kept by clients, so that the next connection to a server resumes TLS.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace asioquic {

/// Where a client keeps the session tickets servers send, one per server, so that its next
/// connection to that server resumes TLS (RFC 8446 §2.2): the server sends no certificate and
/// neither side signs or verifies, which makes the handshake cheaper for both. The ticket
/// stands for the first connection's authentication, so a resumed connection is as trusted as
/// that one was. Resumption goes without 0-RTT: requests still wait for the handshake.
///
/// A store is shared by any number of connections on any threads through
/// ClientSettings::session_store, so implementations must be thread-safe. Keys are opaque to
/// the store: the client names the server (host or IP, port) and how its certificate was
/// checked, so a ticket from an unverified connection (insecure_skip_verify) or one trusted
/// through another CA file is never used where verification would differ.
class SessionStore {
 public:
  virtual ~SessionStore() = default;

  /// Keeps `ticket` (GnuTLS session data, opaque) for `key`, replacing the one kept. Called on
  /// the connection's executor whenever the server sends a ticket, usually right after the
  /// handshake.
  virtual void put(const std::string& key, std::vector<uint8_t> ticket) = 0;

  /// Removes and returns the ticket kept for `key`, or nullopt. Called once per connection
  /// before its first packet. Each ticket is used once (RFC 8446 §C.4: a reused ticket lets an
  /// observer link connections); the resumed connection brings a fresh one.
  virtual std::optional<std::vector<uint8_t>> take(const std::string& key) = 0;
};

/// An in-memory SessionStore holding tickets for at most `capacity` servers (at least 1); past
/// that, the server whose ticket was stored longest ago is forgotten. Thread-safe. A ticket it
/// drops (replaced, forgotten, or left at its destruction) is wiped first.
std::shared_ptr<SessionStore> make_session_store(size_t capacity = 1024);

}  // namespace asioquic
