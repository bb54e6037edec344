#include "client/output_sink.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

namespace asioquic::tools {

OutputSink::OutputSink(OutputSink&& o) noexcept : path_(std::move(o.path_)), fd_(o.fd_) {
  o.fd_ = -1;
}

OutputSink::~OutputSink() {
  if (fd_ >= 0) ::close(fd_);
}

std::error_code OutputSink::open() {
  if (is_stdout() || fd_ >= 0) return {};
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd_ < 0) return {errno, std::generic_category()};
  return {};
}

std::error_code OutputSink::write(std::span<const uint8_t> bytes) {
  const int fd = is_stdout() ? STDOUT_FILENO : fd_;
  if (fd < 0) return std::make_error_code(std::errc::bad_file_descriptor);
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return {errno, std::generic_category()};
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return {};
}

std::error_code OutputSink::close() {
  if (fd_ < 0) return {};
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) return {errno, std::generic_category()};
  return {};
}

}  // namespace asioquic::tools
