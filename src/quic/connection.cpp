// The Connection facade, ApplicationOverQuic's default hooks and ConnectionHandle: thin
// forwarding to the IoWorker that owns the connection.
#include "asioquic/connection.hpp"

#include "asioquic/application.hpp"
#include "asioquic/connection_handle.hpp"
#include "quic/io_worker.hpp"

namespace asioquic {

using quic::IoWorker;

namespace {

// Connections are only used inside application callbacks, where the engine exists; after the
// end (qc_ gone) every call reports connection_closed instead of touching freed state.
bool closed(IoWorker& w, std::error_code& ec) {
  if (w.engine()) return false;
  ec = make_error_code(errc::connection_closed);
  return true;
}

}  // namespace

bool Connection::is_server() const noexcept {
  return w_.engine() && w_.engine()->is_server();
}

bool Connection::is_established() const noexcept {
  return w_.established();
}

asio::ip::udp::endpoint Connection::remote_endpoint() const {
  return w_.engine() ? w_.engine()->remote_address().endpoint() : w_.initial_remote();
}

asio::ip::udp::endpoint Connection::local_endpoint() const {
  return w_.engine() ? w_.engine()->local_address().endpoint() : asio::ip::udp::endpoint();
}

std::string Connection::alpn() const {
  return w_.engine() ? w_.engine()->alpn() : std::string();
}

bool Connection::resumed() const noexcept {
  return w_.resumed();
}

bool Connection::early_data_accepted() const noexcept {
  return w_.early_data_accepted();
}

const std::string& Connection::trace_id() const noexcept {
  return w_.trace_id();
}

int64_t Connection::open_bidi_stream(std::error_code& ec) {
  if (closed(w_, ec)) return -1;
  const int64_t id = w_.engine()->open_stream(true, ec);
  if (id >= 0) w_.streams().open(id);
  return id;
}

int64_t Connection::open_uni_stream(std::error_code& ec) {
  if (closed(w_, ec)) return -1;
  const int64_t id = w_.engine()->open_stream(false, ec);
  if (id >= 0) w_.streams().open(id);
  return id;
}

uint64_t Connection::streams_bidi_left() const noexcept {
  return w_.engine() ? w_.engine()->streams_left(true) : 0;
}

uint64_t Connection::streams_uni_left() const noexcept {
  return w_.engine() ? w_.engine()->streams_left(false) : 0;
}

size_t Connection::stream_send(int64_t id, std::span<const uint8_t> data, bool fin,
                               std::error_code& ec) {
  if (closed(w_, ec)) return 0;
  return w_.streams().send(id, data, fin, ec);
}

void Connection::stream_send(int64_t id, Buffer buf, bool fin, std::error_code& ec) {
  if (closed(w_, ec)) return;
  w_.streams().send(id, std::move(buf), fin, ec);
}

size_t Connection::stream_send_capacity(int64_t id) const noexcept {
  return w_.engine() ? w_.streams().capacity(id) : 0;
}

size_t Connection::stream_recv(int64_t id, std::span<uint8_t> out, bool& fin, std::error_code& ec,
                               uint64_t* reset_code) {
  fin = false;
  if (closed(w_, ec)) return 0;
  const size_t n = w_.streams().recv(id, out, fin, ec, reset_code);
  w_.engine()->extend_stream_offset(id, n);
  return n;
}

std::optional<int64_t> Connection::next_readable() {
  return w_.streams().next_readable();
}

void Connection::consume(int64_t id, size_t n) {
  if (w_.engine()) w_.engine()->extend_stream_offset(id, n);
}

void Connection::stream_reset(int64_t id, uint64_t code, std::error_code& ec) {
  if (closed(w_, ec)) return;
  w_.engine()->shutdown_write(id, code, ec);
  w_.streams().abandon_send(id, false);
}

void Connection::stream_stop_sending(int64_t id, uint64_t code, std::error_code& ec) {
  if (closed(w_, ec)) return;
  w_.engine()->shutdown_read(id, code, ec);
  // Unread bytes are dropped; credit them so the connection window does not shrink for good.
  w_.engine()->extend_stream_offset(id, w_.streams().stop_reading(id));
}

void Connection::send_datagram(std::span<const uint8_t> data, std::error_code& ec) {
  if (closed(w_, ec)) return;
  w_.queue_datagram(data, ec);
}

size_t Connection::max_datagram_size() const noexcept {
  return w_.engine() ? w_.engine()->max_datagram_size() : 0;
}

bool Connection::recv_datagram(std::string& out) {
  return w_.pop_received_datagram(out);
}

void Connection::close(uint64_t app_error_code, std::string_view reason) {
  w_.request_close(app_error_code, reason);
}

const CloseInfo& Connection::close_info() const noexcept {
  return w_.close_info();
}

ConnectionStats Connection::stats() const {
  return w_.stats();
}

Waker Connection::waker() const {
  return Waker(w_.weak_from_this());
}

void Connection::wake() {
  w_.wake();
}

asio::any_io_executor Connection::executor() const {
  return w_.executor();
}

ngtcp2_conn* Connection::native_handle() noexcept {
  return w_.engine() ? w_.engine()->native() : nullptr;
}

// ------------------------------------------------------------------ ApplicationOverQuic

void ApplicationOverQuic::on_stream_data(Connection& conn, int64_t id,
                                         std::span<const uint8_t> data, bool fin) {
  conn.w_.streams().on_data(id, data, fin);
}

void ApplicationOverQuic::on_stream_reset(Connection& conn, int64_t id, uint64_t code) {
  conn.w_.streams().on_reset(id, code);
}

void ApplicationOverQuic::on_datagram(Connection& conn, std::span<const uint8_t> data) {
  conn.w_.push_received_datagram(data);
}

// ------------------------------------------------------------------ ConnectionHandle

void ConnectionHandle::close(uint64_t app_error_code, std::string reason) const {
  if (w_) w_->close_from_handle(app_error_code, std::move(reason));
}

Waker ConnectionHandle::waker() const {
  return w_ ? Waker(std::weak_ptr<detail::WakeTarget>(w_)) : Waker();
}

asio::ip::udp::endpoint ConnectionHandle::remote_endpoint() const {
  return w_ ? w_->initial_remote() : asio::ip::udp::endpoint();
}

bool ConnectionHandle::resumed() const noexcept {
  return w_ && w_->resumed();
}

bool ConnectionHandle::handshake_completed() const noexcept {
  return w_ && w_->handshake_completed();
}

bool ConnectionHandle::early_data_accepted() const noexcept {
  return w_ && w_->early_data_accepted();
}

std::string ConnectionHandle::trace_id() const {
  return w_ ? w_->trace_id() : std::string();
}

asio::any_io_executor ConnectionHandle::executor_of(const std::shared_ptr<IoWorker>& w) {
  return w->executor();
}

void ConnectionHandle::wait_closed(const std::shared_ptr<IoWorker>& w,
                                   detail::Completion<void(std::error_code, CloseInfo)> c) {
  w->wait_closed(std::move(c));
}

void ConnectionHandle::migrate(const std::shared_ptr<IoWorker>& w,
                               std::optional<asio::ip::address> local,
                               detail::Completion<void(std::error_code)> c) {
  w->migrate(local, std::move(c));
}

void ConnectionHandle::get_stats(const std::shared_ptr<IoWorker>& w,
                                 detail::Completion<void(ConnectionStats)> c) {
  w->get_stats(std::move(c));
}

}  // namespace asioquic
