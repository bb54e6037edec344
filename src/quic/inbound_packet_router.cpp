#include "quic/inbound_packet_router.hpp"

#include <array>
#include <typeinfo>

#include <asio/io_context.hpp>
#include <asio/strand.hpp>

#include "quic/io_worker.hpp"

namespace asioquic::quic {
namespace {

// Receive batches drained per readiness event before the dirty workers run: enough to coalesce
// ACKs for a burst, few enough that sending is not starved.
constexpr int kMaxBatchesPerWakeup = 4;

}  // namespace

InboundPacketRouter::Executor InboundPacketRouter::make_strand(const asio::any_io_executor& ex) {
  // Asio 1.22's any_executor::target() casts to the type asked for without checking it: a
  // thread pool's executor was taken for an io_context's. Check the type first.
  if (ex.target_type() == typeid(asio::io_context::executor_type)) {
    const auto* io = ex.target<asio::io_context::executor_type>();
    // Asio's hints without reactor I/O locking (UNSAFE, UNSAFE_IO) require the io_context to be
    // run by one thread at a time: its own executor already runs nothing concurrently.
    const int hint =
        asio::use_service<asio::detail::io_context_impl>(io->context()).concurrency_hint();
    if (!ASIO_CONCURRENCY_HINT_IS_LOCKING(REACTOR_IO, hint)) return *io;
    return asio::make_strand(*io);
  }
  return asio::make_strand(ex);
}

InboundPacketRouter::InboundPacketRouter(Executor ex, std::unique_ptr<net::UdpSocket> sock,
                                         size_t short_dcid_len)
    : ex_(std::move(ex)), sock_(std::move(sock)), short_dcid_len_(short_dcid_len) {}

InboundPacketRouter::~InboundPacketRouter() = default;

uint8_t* InboundPacketRouter::tx_buffer() noexcept {
  // One per thread: a worker fills it and sends it within one call, on this thread.
  thread_local std::unique_ptr<uint8_t[]> buf(new uint8_t[kTxBufferSize]);
  return buf.get();
}

void InboundPacketRouter::start(Acceptor* acceptor) {
  acceptor_ = acceptor;
  accepting_ = acceptor != nullptr;
  wait_readable(sock_);
}

void InboundPacketRouter::adopt_socket(std::unique_ptr<net::UdpSocket> s) {
  // Long enough for packets sent before the switch to drain; short enough not to hold a port.
  constexpr std::chrono::seconds kRetireAfter{3};
  if (retired_) retired_->close();
  retired_ = std::move(sock_);
  sock_ = std::move(s);
  wait_readable(sock_);
  if (!retire_timer_) retire_timer_ = std::make_unique<asio::steady_timer>(ex_);
  retire_timer_->expires_after(kRetireAfter);
  retire_timer_->async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (ec || !self->retired_) return;
    self->retired_->close();
    self->retired_.reset();
  });
}

void InboundPacketRouter::stop_accepting() {
  accepting_ = false;
  acceptor_ = nullptr;
  maybe_close();
}

void InboundPacketRouter::maybe_close() {
  if (!accepting_ && workers_.empty() && !closed_) {
    closed_ = true;
    sock_->close();  // the pending wait completes with operation_aborted and drops its reference
    if (retired_) retired_->close();
    if (retire_timer_) retire_timer_->cancel();
  }
}

void InboundPacketRouter::wait_readable(const std::shared_ptr<net::UdpSocket>& s) {
  s->socket().async_wait(
      asio::ip::udp::socket::wait_read,
      asio::bind_executor(ex_, [self = shared_from_this(), s](const asio::error_code& ec) {
        if (ec || self->closed_ || !s->socket().is_open()) return;
        self->on_readable(*s);
        if (!self->closed_ && s->socket().is_open()) self->wait_readable(s);
      }));
}

void InboundPacketRouter::on_readable(net::UdpSocket& sock) {
  std::array<net::RecvMessage, net::UdpSocket::kRecvBatch> msgs;
  for (int batch = 0; batch < kMaxBatchesPerWakeup; ++batch) {
    std::error_code ec;
    const size_t n = sock.receive(msgs, ec);
    if (n == 0) break;
    const uint64_t ts = engine::now_ns();
    for (size_t i = 0; i < n; ++i)
      dispatch(msgs[i], ts);
    if (n < msgs.size()) break;
  }
  run_dirty();
}

void InboundPacketRouter::dispatch(const net::RecvMessage& m, uint64_t ts) {
  Datagram d;
  d.local = &m.local;
  d.remote = &m.remote;
  d.ecn = m.ecn;
  d.ts = ts;
  const size_t seg = m.segment_size ? m.segment_size : m.len;
  for (size_t off = 0; off < m.len; off += seg) {
    d.data = {m.data + off, std::min(seg, m.len - off)};
    counters_.datagrams_received.fetch_add(1, std::memory_order_relaxed);
    route(d);
  }
}

void InboundPacketRouter::route(const Datagram& d) {
  if (default_worker_) {
    default_worker_->on_datagram(d);
    mark_dirty(*default_worker_);
    return;
  }
  engine::HeaderInfo hdr;
  const auto parsed = engine::parse_header(d.data, short_dcid_len_, hdr);
  if (parsed == engine::ParseResult::ok) {
    auto it = map_.find(Cid(hdr.dcid.data(), hdr.dcid.size()));
    if (it != map_.end()) {
      IoWorker* w = it->second;
      w->on_datagram(d);
      mark_dirty(*w);
      return;
    }
  }
  if (accepting_ && parsed != engine::ParseResult::invalid) {
    acceptor_->on_unknown(*this, d, parsed, hdr);
    return;
  }
  counters_.packets_dropped.fetch_add(1, std::memory_order_relaxed);
}

void InboundPacketRouter::inject(const Datagram& d) {
  route(d);
  run_dirty();
}

void InboundPacketRouter::mark_dirty(IoWorker& w) {
  if (w.set_dirty()) dirty_.push_back(w.shared_from_this());
}

void InboundPacketRouter::run_dirty() {
  // A turn may make other workers dirty (never this list's); swap so it can grow meanwhile.
  std::vector<std::shared_ptr<IoWorker>> now;
  now.swap(dirty_);
  for (auto& w : now)
    w->run_packet_turn();
  now.clear();
  if (dirty_.empty()) dirty_.swap(now);  // keep the capacity
}

void InboundPacketRouter::map(const Cid& cid, IoWorker* w) {
  map_[cid] = w;
}

void InboundPacketRouter::unmap(const Cid& cid) {
  map_.erase(cid);
}

void InboundPacketRouter::add(std::shared_ptr<IoWorker> w) {
  IoWorker* key = w.get();
  workers_.emplace(key, std::move(w));
}

void InboundPacketRouter::remove(IoWorker* w) {
  if (default_worker_ == w) default_worker_ = nullptr;
  workers_.erase(w);
  maybe_close();
}

size_t InboundPacketRouter::send(const net::SendBatch& b) {
  std::error_code ec;
  const size_t n = sock_->send(b, ec);
  // A hard socket error loses the batch; QUIC's loss recovery treats it like network loss.
  return ec ? b.len : n;
}

void InboundPacketRouter::wait_writable(std::shared_ptr<IoWorker> w) {
  write_waiters_.push_back(std::move(w));
  if (waiting_writable_ || closed_) return;
  waiting_writable_ = true;
  sock_->socket().async_wait(
      asio::ip::udp::socket::wait_write,
      asio::bind_executor(ex_, [self = shared_from_this()](const asio::error_code& ec) {
        self->waiting_writable_ = false;
        auto waiters = std::move(self->write_waiters_);
        self->write_waiters_.clear();
        for (auto& waiter : waiters)
          waiter->on_writable(!ec);
      }));
}

}  // namespace asioquic::quic
