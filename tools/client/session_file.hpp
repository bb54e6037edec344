// --session-file: TLS session tickets kept in a file between runs, so that the next run
// resumes TLS with the servers this one talked to (as gtlsclient's --session-file does).
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <asioquic/session_store.hpp>

namespace asioquic::tools {

/// A SessionStore backed by a text file: one line per server, its key, a tab, and its ticket
/// in hex. Tickets are secrets (they let whoever holds them resume as this client), so the
/// file is written with mode 0600.
class SessionFile final : public SessionStore {
 public:
  /// Reads `path`. A missing file is an empty store; lines that do not parse are skipped.
  /// Returns false with `error` set when the file exists but cannot be read.
  bool load(const std::string& path, std::string& error);
  /// Writes every ticket held now to the path given to load(), replacing the file. Returns
  /// false with `error` set when it cannot be written.
  bool save(std::string& error) const;

  void put(const std::string& key, std::vector<uint8_t> ticket) override;
  std::optional<std::vector<uint8_t>> take(const std::string& key) override;

 private:
  std::string path_;
  mutable std::mutex mutex_;
  std::map<std::string, std::vector<uint8_t>> tickets_;
};

}  // namespace asioquic::tools
