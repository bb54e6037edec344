#include "client/session_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/hex.hpp"

namespace asioquic::tools {

bool SessionFile::load(const std::string& path, std::string& error) {
  path_ = path;
  std::ifstream in(path);
  if (!in) {
    if (errno == ENOENT) return true;
    error = "cannot read --session-file " + path + ": " + std::strerror(errno);
    return false;
  }
  std::lock_guard lock(mutex_);
  std::string line;
  while (std::getline(in, line)) {
    const auto tab = line.rfind('\t');
    if (tab == std::string::npos || tab == 0) continue;
    auto ticket = decode_hex(std::string_view(line).substr(tab + 1));
    if (ticket && !ticket->empty()) tickets_[line.substr(0, tab)] = std::move(*ticket);
  }
  // Reading stops at the end, or at an error (a directory opens, then fails to read).
  if (!in.eof()) {
    error = "cannot read --session-file " + path + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

bool SessionFile::save(std::string& error) const {
  std::string text;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [key, ticket] : tickets_) {
      text += key;
      text += '\t';
      text += encode_hex(ticket);
      text += '\n';
    }
  }
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  for (size_t done = 0; ok && done < text.size();) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) done += static_cast<size_t>(n);
  }
  if (!ok) error = "cannot write --session-file " + path_ + ": " + std::strerror(errno);
  if (fd >= 0 && ::close(fd) != 0 && ok) {
    ok = false;
    error = "cannot write --session-file " + path_ + ": " + std::strerror(errno);
  }
  return ok;
}

void SessionFile::put(const std::string& key, std::vector<uint8_t> ticket) {
  std::lock_guard lock(mutex_);
  tickets_[key] = std::move(ticket);
}

std::optional<std::vector<uint8_t>> SessionFile::take(const std::string& key) {
  std::lock_guard lock(mutex_);
  auto it = tickets_.find(key);
  if (it == tickets_.end()) return std::nullopt;
  std::vector<uint8_t> ticket = std::move(it->second);
  tickets_.erase(it);
  return ticket;
}

}  // namespace asioquic::tools
