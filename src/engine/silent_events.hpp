// SilentEvents: a connection's events with nobody to hear them, and no datagrams to send. For
// code that drives an engine connection by hand with nothing above it: the fuzz seed maker, and
// tests that craft real packets.
#pragma once

#include "engine/quic_conn.hpp"
#include "quic/cid.hpp"

namespace asioquic::engine {

class SilentEvents : public ConnEvents, public DatagramSource {
 public:
  void on_handshake_completed() override {}
  void on_early_data_rejected() override {}
  bool on_stream_data(int64_t, std::span<const uint8_t>, bool) override { return true; }
  void on_stream_opened(int64_t) override {}
  void on_stream_acked(int64_t, uint64_t, uint64_t) override {}
  void on_stream_closed(int64_t, uint64_t) override {}
  void on_stream_reset(int64_t, uint64_t) override {}
  void on_stop_sending(int64_t, uint64_t) override {}
  void on_stream_unblocked(int64_t) override {}
  void on_streams_available() override {}
  void on_datagram(std::span<const uint8_t>) override {}
  /// Issues random CIDs of our usual length.
  bool on_new_cid(quic::Cid& cid) override {
    cid = quic::random_cid(quic::CidGenerator::kLength);
    return true;
  }
  void on_retire_cid(const quic::Cid&) override {}
  void on_path_validated(bool) override {}
  std::optional<std::span<const uint8_t>> front() override { return std::nullopt; }
  void pop() override {}
};

}  // namespace asioquic::engine
