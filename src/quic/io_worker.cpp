#include "quic/io_worker.hpp"

#include <asio/post.hpp>

#include <algorithm>
#include <chrono>

namespace asioquic::quic {
namespace {

using Status = engine::QuicConn::Status;

// Batches written per turn before yielding to the receive path and other connections.
constexpr int kMaxBatchesPerTurn = 16;
// Datagrams held for the application before new ones are dropped (it is not reading).
constexpr size_t kMaxReceivedDatagrams = 1024;
// Strand hops a write waits for the application's answer to what it was handed: a
// coroutine's first step, then the operation it posts (see settle_then_turn).
constexpr int kAnswerHops = 2;
// The same after a client's handshake completes: one hop more for the connect completion
// itself. The request it makes then leaves with the client's Finished, so the server reads
// both at once and can answer with its HANDSHAKE_DONE (one datagram fewer each way).
constexpr int kConnectAnswerHops = kAnswerHops + 1;

std::chrono::steady_clock::time_point to_time_point(uint64_t ns) {
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns));
}

}  // namespace

IoWorker::IoWorker(Config cfg, const Settings& settings)
    : router_(std::move(cfg.router)),
      observer_(std::move(cfg.observer)),
      keepalive_(std::move(cfg.keepalive)),
      settings_(&settings),
      cid_generator_(cfg.cid_generator),
      app_(std::move(cfg.app)),
      streams_(settings.stream_send_buffer),
      timer_(router_->executor()) {}

IoWorker::~IoWorker() = default;

std::shared_ptr<IoWorker> IoWorker::create(Config cfg, const engine::ConnParams& params,
                                           std::error_code& ec) {
  auto extra = std::move(cfg.extra_cids);
  std::shared_ptr<IoWorker> w(new IoWorker(std::move(cfg), *params.settings));
  w->qc_ = engine::QuicConn::create(params, *w, ec);
  if (!w->qc_) return nullptr;
  w->started_ns_ = params.initial_ts;
  w->trace_id_ = w->qc_->trace_id();
  w->initial_remote_ = params.remote.endpoint();
  if (w->app_) w->app_source_ = w->app_->send_source();
  auto& r = *w->router_;
  if (params.server) {
    w->mapped_.push_back(params.scid);
    for (auto& c : extra)
      w->mapped_.push_back(c);
    for (auto& c : w->mapped_)
      r.map(c, w.get());
  } else {
    r.set_default_worker(w.get());
  }
  r.add(w);
  return w;
}

// ------------------------------------------------------------------ receiving

void IoWorker::on_datagram(const Datagram& d) {
  ++packets_received_;
  bytes_received_ += d.data.size();
  switch (stage_) {
    case Stage::done:
    case Stage::draining:
      return;
    case Stage::closing:
      resend_close_ = true;  // answered once per turn, not per packet
      return;
    default:
      break;
  }
  if (status_ != Status::ok) return;
  status_ = qc_->read(*d.local, *d.remote, d.ecn, d.data, d.ts);
  got_packets_ = true;
  // One ACK per receive batch would cover the peer's whole flight: if that one datagram is
  // lost, the peer stalls until its PTO. Under 1% loss that halved a download's goodput.
  const bool ack_now = ack_pacer_.on_datagram(d.ts, [this] { return qc_->smoothed_rtt_ns(); });
  if (ack_now && stage_ == Stage::running && status_ == Status::ok) {
    flush(d.ts);
  }
}

void IoWorker::on_handshake_completed() {
  handshake_event_ = true;
}

void IoWorker::on_early_data_rejected() {
  early_rejected_ = true;
}

bool IoWorker::on_stream_data(int64_t id, std::span<const uint8_t> data, bool fin) {
  if (streams_.is_reading_stopped(id)) {
    qc_->extend_stream_offset(id, data.size());
    return true;
  }
  if (app_ && app_established_) {
    app_fed_ = true;
    app_->on_stream_data(conn_, id, data, fin);
  } else {
    // Held until the application is attached and has seen on_conn_established (1-RTT data
    // can arrive with the handshake's last packet, or with a close that means it never is).
    streams_.on_data(id, data, fin);
    if (app_) replay_pending_ = true;
  }
  return true;
}

void IoWorker::on_stream_opened(int64_t id) {
  streams_.open(id);
  if (app_) app_->on_stream_opened(conn_, id);
}

void IoWorker::on_stream_acked(int64_t id, uint64_t offset, uint64_t len) {
  source().acked(id, offset, len);
}

void IoWorker::on_stream_closed(int64_t id, uint64_t app_code) {
  if (app_) app_->on_stream_closed(conn_, id, app_code);
  streams_.on_closed(id);
}

void IoWorker::on_stream_reset(int64_t id, uint64_t app_code) {
  if (app_) {
    app_->on_stream_reset(conn_, id, app_code);
  } else {
    streams_.on_reset(id, app_code);
  }
}

void IoWorker::on_stop_sending(int64_t id, uint64_t app_code) {
  streams_.abandon_send(id, true);
  if (app_) app_->on_stop_sending(conn_, id, app_code);
}

void IoWorker::on_stream_unblocked(int64_t id) {
  source().unblocked(id);
}

void IoWorker::on_streams_available() {}  // process_writes runs every turn and may open more

void IoWorker::on_datagram(std::span<const uint8_t> data) {
  if (app_ && app_established_) {
    app_fed_ = true;
    app_->on_datagram(conn_, data);
  } else {
    if (app_) replay_pending_ = true;
    push_received_datagram(data);
  }
}

bool IoWorker::on_new_cid(Cid& cid) {
  if (!cid_generator_) {
    cid = random_cid(CidGenerator::kLength);  // a client's CIDs: its router routes everything
    return true;
  }
  cid = cid_generator_->generate();
  router_->map(cid, this);
  mapped_.push_back(cid);
  return true;
}

void IoWorker::on_retire_cid(const Cid& cid) {
  if (!cid_generator_) return;
  router_->unmap(cid);
  std::erase(mapped_, cid);
}

void IoWorker::on_path_validated(bool ok) {
  if (migrate_waiter_) {
    migrate_waiter_.complete(ok ? std::error_code()
                                : make_error_code(errc::path_validation_failed));
  }
}

SendSource& IoWorker::source() {
  return app_source_ ? *app_source_ : streams_;
}

// ------------------------------------------------------------------ the turn

void IoWorker::turn(bool after_packets) {
  dirty_ = false;
  if (stage_ == Stage::done) return;
  const uint64_t ts = engine::now_ns();

  if (stage_ == Stage::closing || stage_ == Stage::draining) {
    if (ts >= stage_deadline_) {
      finish();
      return;
    }
    if (std::exchange(resend_close_, false) && !close_packet_.empty()) {
      net::SendBatch b{close_packet_.data(), close_packet_.size(), close_packet_.size(),
                       &close_remote_,       &close_local_,        0};
      router_->send(b);
    }
    arm_timer();
    return;
  }

  if (status_ == Status::ok && std::exchange(timer_due_, false)) {
    status_ = qc_->handle_expiry(ts);
  }
  if (status_ != Status::ok) {
    handle(status_);
    return;
  }
  bool just_established = false;
  if (handshake_event_ && stage_ == Stage::handshake) {
    become_established();
    just_established = true;
  }
  if (std::exchange(early_rejected_, false)) restart_app_after_early_rejection();
  if (got_packets_) qc_->reoffer_flow_blocked(source());
  // A client starting on 0-RTT keys begins like one whose handshake just completed: its first
  // requests can leave with the Initial (see kConnectAnswerHops).
  const bool early_start = !app_established_ && stage_ == Stage::handshake && app_may_run();
  run_app();
  got_packets_ = false;
  try_migrate(ts);
  if (close_requested_ && !hold_close_for_ticket(ts)) {
    enter_closing();
    return;
  }
  // Consumed in every turn, so that data replayed by a turn without packets (an application
  // attached after the handshake) cannot make a later turn wait.
  const bool fed = std::exchange(app_fed_, false) && after_packets;
  // A client's first request can join its Finished flight (see kConnectAnswerHops).
  const bool connected = (just_established || early_start) && !qc_->is_server() && app_;
  if ((fed || connected) && app_may_run()) {
    if (!settle_pending_) {
      settle_pending_ = true;
      settle_then_turn(connected ? kConnectAnswerHops : kAnswerHops);
    }
    return;
  }
  flush(ts);
  if (status_ != Status::ok) {
    handle(status_);
    return;
  }
  arm_timer();
}

// An application usually answers what it read through handlers posted to this strand: a
// coroutine's first step, then the operation it posts. Writing at once would send the ACK and
// the QPACK acknowledgements in one packet and the answer in the next, and arm the ACK timer
// that the answer's packet makes moot (a timerfd_settime, then a wake-up, then another). So
// the write waits two strand hops, the depth of that chain; a wake-up in between (the answer
// arriving) brings its own turn, which writes everything.
void IoWorker::settle_then_turn(int hops) {
  asio::post(router_->executor(), [self = shared_from_this(), hops] {
    if (self->wake_pending_.load(std::memory_order_acquire)) {
      self->settle_pending_ = false;
      return;
    }
    if (hops > 1) return self->settle_then_turn(hops - 1);
    self->settle_pending_ = false;
    self->run_turn();
  });
}

void IoWorker::become_established() {
  stage_ = Stage::running;
  ever_established_ = true;
  handshake_ns_ = engine::now_ns() - started_ns_;
  resumed_.store(qc_->resumed(), std::memory_order_relaxed);
  early_accepted_.store(qc_->early_data_accepted(), std::memory_order_relaxed);
  handshake_done_.store(true, std::memory_order_release);
  for (auto& c : handshake_waiters_)
    c.complete(std::error_code());
  handshake_waiters_.clear();
  if (observer_) observer_->on_worker_established(*this);
}

bool IoWorker::app_may_run() const noexcept {
  if (stage_ == Stage::running) return true;
  if (stage_ != Stage::handshake || close_requested_) return false;
  // A client that offers 0-RTT writes early; a server that took the client's early data
  // answers it at once (0.5-RTT), which is what saves the round trip.
  return qc_->is_server() ? qc_->early_data_accepted() : qc_->early_data_offered();
}

void IoWorker::restart_app_after_early_rejection() {
  streams_.clear();
  if (!app_ || !app_established_ || close_requested_) return;
  if (auto ec = app_->on_early_data_rejected(conn_)) fail_app(ec);
}

void IoWorker::run_app() {
  if (!app_ || !app_may_run() || close_requested_) return;
  if (!app_established_) {
    app_established_ = true;
    HandshakeInfo info;
    info.start = to_time_point(started_ns_);
    info.elapsed = std::chrono::nanoseconds(handshake_ns_);
    info.alpn = qc_->alpn();
    info.early_data = stage_ == Stage::handshake;
    // A server only takes early data on a resumed session.
    info.resumed = resumed() || (info.early_data && qc_->is_server());
    if (auto ec = app_->on_conn_established(conn_, info)) return fail_app(ec);
    if (close_requested_) return;
    // After on_conn_established, so a client's connect handler finds the application ready.
    if (connect_waiter_) connect_waiter_.complete({}, ConnectionHandle(shared_from_this()));
  }
  if (std::exchange(replay_pending_, false)) {
    // Data that arrived before start(): deliver it as if it had just arrived.
    for (auto& p : streams_.take_unread()) {
      app_fed_ = true;
      app_->on_stream_data(conn_, p.id, p.bytes, p.fin);
    }
    asioquic::detail::Fifo<std::vector<uint8_t>> held;
    held.swap(dgram_in_);
    for (auto& d : held) {
      app_fed_ = true;
      app_->on_datagram(conn_, d);
    }
    got_packets_ = true;
  }
  if (!app_->should_act()) return;
  if (got_packets_) {
    if (auto ec = app_->process_reads(conn_)) return fail_app(ec);
    if (close_requested_) return;
  }
  if (auto ec = app_->process_writes(conn_)) fail_app(ec);
}

bool IoWorker::hold_close_for_ticket(uint64_t ts) {
  if (!qc_->awaiting_ticket()) return false;
  // Three probe timeouts, as long as a closing period: the ticket leaves the server with its
  // HANDSHAKE_DONE, an RTT after our Finished, later when the server is busy; a server that
  // sends none (it sent one before, or there would be no 0-RTT) costs this much at close.
  if (close_hold_until_ == UINT64_MAX) close_hold_until_ = ts + qc_->closing_period_ns();
  return ts < close_hold_until_;
}

void IoWorker::fail_app(std::error_code ec) {
  // An application_category() code is sent as is; anything else is an internal error of the
  // application, reported with code 0x1 and the message as reason.
  if (ec.category() == application_category()) {
    request_close(static_cast<uint64_t>(ec.value()), {});
  } else {
    request_close(1, ec.message());
  }
}

void IoWorker::request_close(uint64_t code, std::string_view reason) {
  if (close_requested_ || stage_ == Stage::closing || stage_ == Stage::draining ||
      stage_ == Stage::done) {
    return;
  }
  qc_->set_app_close(code, reason);
  close_requested_ = true;
}

// ------------------------------------------------------------------ sending

void IoWorker::flush(uint64_t ts) {
  ack_pacer_.on_write();
  if (!parked_.empty()) return;  // waiting for the socket
  engine::TxBatch b;
  b.buf = router_->tx_buffer();
  b.cap = InboundPacketRouter::kTxBufferSize;
  for (int i = 0; i < kMaxBatchesPerTurn; ++i) {
    status_ = qc_->write(b, source(), *this, net::UdpSocket::kMaxGsoSegments, ts);
    if (status_ != Status::ok) return;
    if (b.count == 0 && b.extra_len == 0) return;
    if (!send_batch(b) || b.drained) return;
  }
  schedule_turn();  // more may be ready: continue after others had their turn
}

bool IoWorker::send_batch(const engine::TxBatch& b) {
  bool ok = true;
  if (b.len) {
    net::SendBatch sb{b.buf, b.len, b.segment, &b.remote, &b.local, b.ecn};
    const size_t sent = router_->send(sb);
    packets_sent_ += b.count;
    bytes_sent_ += b.len;
    if (sent < b.len) {
      park(b.buf + sent, b.len - sent, b.segment, b.local, b.remote, b.ecn);
      ok = false;
    }
  }
  if (b.extra_len) {
    ++packets_sent_;
    bytes_sent_ += b.extra_len;
    if (!ok) {
      park(b.buf + b.len, b.extra_len, b.extra_len, b.extra_local, b.extra_remote, b.extra_ecn);
    } else {
      net::SendBatch sb{b.buf + b.len,   b.extra_len,    b.extra_len,
                        &b.extra_remote, &b.extra_local, b.extra_ecn};
      if (router_->send(sb) < b.extra_len) {
        park(sb.data, sb.len, sb.segment_size, b.extra_local, b.extra_remote, b.extra_ecn);
        ok = false;
      }
    }
  }
  if (!ok) router_->wait_writable(shared_from_this());
  return ok;
}

void IoWorker::park(const uint8_t* data, size_t len, size_t segment, const net::Address& local,
                    const net::Address& remote, uint8_t ecn) {
  Parked p;
  p.bytes.assign(data, data + len);
  p.segment = segment;
  p.local = local;
  p.remote = remote;
  p.ecn = ecn;
  parked_.push_back(std::move(p));
}

void IoWorker::on_writable(bool ok) {
  if (stage_ == Stage::done) return;
  if (!ok) {
    parked_.clear();  // the socket is gone; the loss is recovered or the connection ends
  }
  while (!parked_.empty()) {
    Parked& p = parked_.front();
    net::SendBatch sb{p.bytes.data(), p.bytes.size(), p.segment, &p.remote, &p.local, p.ecn};
    const size_t sent = router_->send(sb);
    if (sent < p.bytes.size()) {
      p.bytes.erase(p.bytes.begin(), p.bytes.begin() + static_cast<ptrdiff_t>(sent));
      router_->wait_writable(shared_from_this());
      return;
    }
    parked_.erase(parked_.begin());
  }
  run_turn();
}

// ------------------------------------------------------------------ ending

void IoWorker::handle(Status st) {
  switch (st) {
    case Status::closing:
      enter_closing();
      break;
    case Status::draining:
      enter_draining();
      break;
    case Status::dropped:
      notify_close();
      finish();
      break;
    case Status::ok:
      break;
  }
}

void IoWorker::enter_closing() {
  notify_close();
  engine::TxBatch b;
  b.buf = router_->tx_buffer();
  b.cap = InboundPacketRouter::kTxBufferSize;
  const uint64_t ts = engine::now_ns();
  if (qc_->write_close(b, ts) == 0) {
    finish();  // nothing may be sent (e.g. before any keys): just go
    return;
  }
  close_packet_.assign(b.buf, b.buf + b.len);
  close_local_ = b.local;
  close_remote_ = b.remote;
  if (send_batch(b) && !settings_->linger_after_close) {
    finish();
    return;
  }
  stage_ = Stage::closing;
  stage_deadline_ = ts + qc_->closing_period_ns();
  arm_timer();
}

void IoWorker::enter_draining() {
  notify_close();
  if (!settings_->linger_after_close) {
    finish();
    return;
  }
  stage_ = Stage::draining;
  stage_deadline_ = engine::now_ns() + qc_->closing_period_ns();
  arm_timer();
}

void IoWorker::notify_close() {
  if (std::exchange(close_notified_, true)) return;
  final_stats_ = stats();
  final_close_ = qc_->close_info();
  const std::error_code result = final_close_.error;
  if (app_ && app_established_) app_->on_conn_close(conn_, final_stats_, result);
  // A handshake that did not finish always reports an error.
  const std::error_code hs_error = result ? result : make_error_code(errc::connection_closed);
  for (auto& c : handshake_waiters_)
    c.complete(hs_error);
  handshake_waiters_.clear();
  if (connect_waiter_) connect_waiter_.complete(hs_error, ConnectionHandle());
  if (migrate_waiter_) migrate_waiter_.complete(make_error_code(errc::connection_closed));
}

void IoWorker::finish() {
  if (stage_ == Stage::done) return;
  stage_ = Stage::done;
  for (const auto& c : mapped_)
    router_->unmap(c);
  mapped_.clear();
  ++timer_gen_;
  timer_.cancel();
  parked_.clear();
  // The application goes first: it may hold references into the engine's streams.
  app_.reset();
  app_source_ = nullptr;
  qc_.reset();
  for (auto& c : closed_waiters_)
    c.complete(final_close_.error, final_close_);
  closed_waiters_.clear();
  if (observer_) observer_->on_worker_done(*this);
  router_->remove(this);
}

const CloseInfo& IoWorker::close_info() const noexcept {
  return close_notified_ || !qc_ ? final_close_ : qc_->close_info();
}

// ------------------------------------------------------------------ timer and wake-ups

void IoWorker::arm_timer() {
  uint64_t want;
  if (stage_ == Stage::closing || stage_ == Stage::draining) {
    want = stage_deadline_;
  } else {
    want = std::min(qc_->expiry(), close_hold_until_);
  }
  timer_want_ = want;
  if (want == UINT64_MAX) return;  // a pending wait, if any, finds nothing due and stops
  if (want <= engine::now_ns()) {
    // Already due, mostly a pacing slot measured from the turn's start that writing the batch
    // took longer than: a posted turn does what the timer would, without its two
    // timerfd_settime calls and epoll return.
    timer_due_ = true;
    schedule_turn();
    return;
  }
  if (timer_armed_ && timer_at_ <= want) return;  // it fires first and re-arms for `want`
  timer_at_ = want;
  timer_armed_ = true;
  const uint64_t gen = ++timer_gen_;
  timer_.expires_at(to_time_point(want));
  timer_.async_wait(
      [self = shared_from_this(), gen](const asio::error_code& ec) { self->on_timer(gen, ec); });
}

void IoWorker::on_timer(uint64_t gen, const asio::error_code& ec) {
  if (gen != timer_gen_) return;  // superseded by an earlier deadline
  timer_armed_ = false;
  if (ec || stage_ == Stage::done) return;
  if (engine::now_ns() < timer_want_) {
    arm_timer();
    return;
  }
  timer_due_ = true;
  run_turn();
}

void IoWorker::wake() {
  if (wake_pending_.exchange(true, std::memory_order_acq_rel)) return;
  asio::post(router_->executor(), [self = shared_from_this()] {
    self->wake_pending_.store(false, std::memory_order_release);
    self->run_turn();
  });
}

void IoWorker::schedule_turn() {
  wake();
}

// ------------------------------------------------------------------ handle-facing

void IoWorker::start(std::shared_ptr<ApplicationOverQuic> app) {
  asio::post(router_->executor(), [self = shared_from_this(), app = std::move(app)]() mutable {
    self->attach(std::move(app));
  });
}

void IoWorker::attach(std::shared_ptr<ApplicationOverQuic> app) {
  if (stage_ == Stage::done || app_) return;
  app_ = std::move(app);
  app_source_ = app_->send_source();
  replay_pending_ = true;
  if (stage_ == Stage::closing || stage_ == Stage::draining) return;
  run_turn();
}

void IoWorker::close_from_handle(uint64_t code, std::string reason) {
  asio::post(router_->executor(), [self = shared_from_this(), code, r = std::move(reason)] {
    if (self->stage_ == Stage::done) return;
    self->request_close(code, r);
    self->run_turn();
  });
}

void IoWorker::wait_handshake(detail::Completion<void(std::error_code)> c) {
  asio::post(router_->executor(), [self = shared_from_this(), c = std::move(c)]() mutable {
    if (self->stage_ == Stage::handshake) {
      self->handshake_waiters_.push_back(std::move(c));
    } else if (self->stage_ == Stage::running) {
      c.complete(std::error_code());
    } else {
      const std::error_code e = self->final_close_.error;
      c.complete(e ? e : make_error_code(errc::connection_closed));
    }
  });
}

void IoWorker::wait_closed(detail::Completion<void(std::error_code, CloseInfo)> c) {
  asio::post(router_->executor(), [self = shared_from_this(), c = std::move(c)]() mutable {
    if (self->stage_ == Stage::done) {
      c.complete(self->final_close_.error, self->final_close_);
    } else {
      self->closed_waiters_.push_back(std::move(c));
    }
  });
}

void IoWorker::get_stats(detail::Completion<void(ConnectionStats)> c) {
  asio::post(router_->executor(), [self = shared_from_this(), c = std::move(c)]() mutable {
    c.complete(self->qc_ && !self->close_notified_ ? self->stats() : self->final_stats_);
  });
}

void IoWorker::migrate(std::optional<asio::ip::address> local,
                       detail::Completion<void(std::error_code)> c) {
  asio::post(router_->executor(), [self = shared_from_this(), local, c = std::move(c)]() mutable {
    if (self->stage_ != Stage::running || self->cid_generator_ || self->migrate_waiter_) {
      const bool gone = self->stage_ == Stage::done || self->close_notified_;
      return c.complete(make_error_code(gone ? errc::connection_closed : errc::invalid_argument));
    }
    asio::ip::udp::endpoint ep = self->qc_->local_address().endpoint();
    ep.port(0);
    if (local) ep.address(*local);
    std::error_code ec;
    const Settings& s = *self->settings_;
    auto sock = std::make_unique<net::UdpSocket>(
        self->router_->executor(), ep,
        net::SocketOptions{s.socket_buffer, s.enable_gso, s.enable_gro}, ec);
    if (!ec) sock->connect(self->qc_->remote_address(), ec);
    if (ec) return c.complete(ec);
    constexpr uint64_t kStartWithin = 2'000'000'000;  // ns for the peer to confirm and issue CIDs
    self->migrate_socket_ = std::move(sock);
    self->migrate_deadline_ = engine::now_ns() + kStartWithin;
    self->migrate_waiter_ = std::move(c);
    self->run_turn();
  });
}

void IoWorker::try_migrate(uint64_t ts) {
  if (!migrate_socket_) return;
  std::error_code ec;
  if (qc_->migrate(migrate_socket_->local_address(), ts, ec)) {
    router_->adopt_socket(std::move(migrate_socket_));  // the path challenge goes out this turn
    return;
  }
  if (!ec && ts < migrate_deadline_) return;  // retried next turn
  migrate_socket_.reset();
  migrate_waiter_.complete(ec ? ec : make_error_code(errc::path_validation_failed));
}

void IoWorker::set_connect_waiter(detail::Completion<void(std::error_code, ConnectionHandle)> c) {
  connect_waiter_ = std::move(c);
}

// ------------------------------------------------------------------ Connection helpers

ConnectionStats IoWorker::stats() const {
  ConnectionStats s = final_stats_;
  if (!qc_) return s;
  qc_->fill_stats(s);
  s.bytes_sent = bytes_sent_;
  s.bytes_received = bytes_received_;
  s.packets_sent = packets_sent_;
  s.packets_received = packets_received_;
  s.handshake_duration = std::chrono::nanoseconds(handshake_ns_);
  return s;
}

void IoWorker::queue_datagram(std::span<const uint8_t> data, std::error_code& ec) {
  const size_t max = qc_ ? qc_->max_datagram_size() : 0;
  if (max == 0) {
    ec = make_error_code(errc::datagrams_disabled);
    return;
  }
  if (data.size() > max) {
    ec = make_error_code(errc::datagram_too_large);
    return;
  }
  if (dgram_out_.size() >= settings_->datagram_send_queue) {
    ec = make_error_code(errc::would_block);
    return;
  }
  std::vector<uint8_t> v;
  if (!dgram_spare_.empty()) {
    v = std::move(dgram_spare_.back());
    dgram_spare_.pop_back();
  }
  v.assign(data.begin(), data.end());
  dgram_out_.push_back(std::move(v));
}

std::optional<std::span<const uint8_t>> IoWorker::front() {
  if (dgram_out_.empty()) return std::nullopt;
  return std::span<const uint8_t>(dgram_out_.front());
}

void IoWorker::pop() {
  if (dgram_spare_.size() < 16) dgram_spare_.push_back(std::move(dgram_out_.front()));
  dgram_out_.pop_front();
}

void IoWorker::push_received_datagram(std::span<const uint8_t> data) {
  if (dgram_in_.size() >= kMaxReceivedDatagrams) return;  // unreliable by definition
  dgram_in_.emplace_back(data.begin(), data.end());
}

bool IoWorker::pop_received_datagram(std::string& out) {
  if (dgram_in_.empty()) return false;
  out.assign(dgram_in_.front().begin(), dgram_in_.front().end());
  dgram_in_.pop_front();
  return true;
}

}  // namespace asioquic::quic
