// H3Driver: HTTP/3 as an ApplicationOverQuic, over nghttp3. Its two faces are ServerH3Driver
// (server.hpp) and ClientH3Driver (client.hpp); user code holds their controllers
// (ServerH3Controller, ClientH3Controller) rather than the driver itself.
//
// The driver hands stream bytes to nghttp3 as they arrive (on_stream_data, no copy) and is the
// packetizer's SendSource, so nghttp3's frames and the application's body Buffers go straight
// into packets. All its callbacks run on the connection's executor.
#pragma once

#include <memory>
#include <span>
#include <system_error>

#include "asioquic/application.hpp"

namespace asioquic::h3 {

namespace detail {
class Driver;
}

class H3Driver : public ApplicationOverQuic {
 public:
  /// A driver that ends without on_conn_close (its connection failed during the handshake)
  /// fails what its controller still waits for.
  ~H3Driver() override;

  std::error_code on_conn_established(Connection& conn, const HandshakeInfo& info) override;
  /// The requests sent as early data go again, in their order, on a new HTTP/3 session.
  std::error_code on_early_data_rejected(Connection& conn) override;
  std::error_code process_reads(Connection& conn) override;
  std::error_code process_writes(Connection& conn) override;
  void on_conn_close(Connection& conn, const ConnectionStats& stats,
                     std::error_code result) override;
  void on_stream_data(Connection& conn, int64_t id, std::span<const uint8_t> data,
                      bool fin) override;
  void on_stream_reset(Connection& conn, int64_t id, uint64_t code) override;
  void on_stop_sending(Connection& conn, int64_t id, uint64_t code) override;
  void on_stream_closed(Connection& conn, int64_t id, uint64_t code) override;
  SendSource* send_source() override;

 protected:
  explicit H3Driver(std::shared_ptr<detail::Driver> d) : d_(std::move(d)) {}
  std::shared_ptr<detail::Driver> d_;
};

}  // namespace asioquic::h3
