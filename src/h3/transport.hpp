// Transport: what the HTTP/3 driver needs from its QUIC connection. In production it is the
// Connection (ConnectionTransport); tests and fuzzers drive the driver with their own, without
// sockets or an engine connection underneath.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>

#include <asio/any_io_executor.hpp>

#include "asioquic/connection.hpp"

namespace asioquic::h3::detail {

class Transport {
 public:
  virtual ~Transport() = default;
  /// Grants `n` bytes of flow-control credit on the stream and the connection.
  virtual void consume(int64_t id, size_t n) = 0;
  virtual void stream_reset(int64_t id, uint64_t code, std::error_code& ec) = 0;
  virtual void stream_stop_sending(int64_t id, uint64_t code, std::error_code& ec) = 0;
  virtual int64_t open_uni_stream(std::error_code& ec) = 0;
  virtual int64_t open_bidi_stream(std::error_code& ec) = 0;
  virtual void close(uint64_t code, std::string_view reason = {}) = 0;
  /// Schedules a turn of the connection (there is something to send).
  virtual void wake() = 0;
  virtual const std::string& trace_id() const = 0;
  virtual asio::any_io_executor executor() const = 0;
  /// False while a client runs on 0-RTT keys (its handshake not yet complete).
  virtual bool is_established() const = 0;
};

/// The Transport of a real connection; only valid inside the application's callbacks and on
/// the connection's executor, like the Connection it wraps.
class ConnectionTransport final : public Transport {
 public:
  void bind(Connection& c) noexcept { c_ = &c; }
  void consume(int64_t id, size_t n) override { c_->consume(id, n); }
  void stream_reset(int64_t id, uint64_t code, std::error_code& ec) override {
    c_->stream_reset(id, code, ec);
  }
  void stream_stop_sending(int64_t id, uint64_t code, std::error_code& ec) override {
    c_->stream_stop_sending(id, code, ec);
  }
  int64_t open_uni_stream(std::error_code& ec) override { return c_->open_uni_stream(ec); }
  int64_t open_bidi_stream(std::error_code& ec) override { return c_->open_bidi_stream(ec); }
  void close(uint64_t code, std::string_view reason) override { c_->close(code, reason); }
  void wake() override { c_->wake(); }
  const std::string& trace_id() const override { return c_->trace_id(); }
  asio::any_io_executor executor() const override { return c_->executor(); }
  bool is_established() const override { return c_->is_established(); }

 private:
  Connection* c_ = nullptr;
};

}  // namespace asioquic::h3::detail
