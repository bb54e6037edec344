// H3Driver: the ApplicationOverQuic callbacks, forwarded to the connection's Driver.
#include "asioquic/h3/driver.hpp"

#include "h3/driver.hpp"

namespace asioquic::h3 {

H3Driver::~H3Driver() {
  d_->on_close(make_error_code(errc::connection_closed));
}

std::error_code H3Driver::on_conn_established(Connection& conn, const HandshakeInfo&) {
  return d_->on_established(d_->transport(conn));
}

std::error_code H3Driver::on_early_data_rejected(Connection& conn) {
  return d_->on_early_rejected(d_->transport(conn));
}

std::error_code H3Driver::process_reads(Connection&) {
  // Events drive the reads; what they gave waiting readers in part is handed over now.
  d_->complete_filled_reads();
  return {};
}

std::error_code H3Driver::process_writes(Connection& conn) {
  return d_->on_writes(d_->transport(conn));
}

void H3Driver::on_conn_close(Connection&, const ConnectionStats&, std::error_code result) {
  d_->on_close(result);
}

void H3Driver::on_stream_data(Connection& conn, int64_t id, std::span<const uint8_t> data,
                              bool fin) {
  d_->on_stream_data(d_->transport(conn), id, data, fin);
}

void H3Driver::on_stream_reset(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_reset(id, code);
}

void H3Driver::on_stop_sending(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_stop_sending(id, code);
}

void H3Driver::on_stream_closed(Connection&, int64_t id, uint64_t code) {
  d_->on_quic_closed(id, code);
}

SendSource* H3Driver::send_source() {
  return d_.get();
}

}  // namespace asioquic::h3
