// listen(), Listener, IncomingConnection and ListenerImpl.
#include "asioquic/listener.hpp"

#include <asio/post.hpp>

#include <algorithm>

#include "engine/random.hpp"
#include "engine/tls_context.hpp"
#include "net/reuseport_steering.hpp"
#include "quic/listener_impl.hpp"

namespace asioquic {

using quic::ListenerImpl;

namespace quic {

ListenerImpl::ListenerImpl(asio::any_io_executor ex, std::shared_ptr<const ServerContext> ctx)
    : ex_(std::move(ex)), ctx_(std::move(ctx)) {}

ListenerImpl::~ListenerImpl() {
  close();
}

void ListenerImpl::open(std::vector<RoutedSocket> sockets) {
  for (auto& s : sockets) {
    // A sharded listener's sockets share their endpoint's address: list each address once.
    const auto ep = s.socket->local_address().endpoint();
    if (std::find(endpoints_.begin(), endpoints_.end(), ep) == endpoints_.end()) {
      endpoints_.push_back(ep);
    }
    auto router = std::make_shared<InboundPacketRouter>(
        InboundPacketRouter::make_strand(s.executor), std::move(s.socket), CidGenerator::kLength);
    auto acceptor =
        std::make_shared<ConnectionAcceptor>(ctx_, counters_, weak_from_this(), s.shard);
    // Started on its own executor: the socket's first wait must not race the thread already
    // running that executor (an io_context made for one thread does not lock its reactor).
    // close() posts behind this, so the router has started before it stops accepting.
    asio::post(router->executor(), [router, acceptor] { router->start(acceptor.get()); });
    routers_.push_back(std::move(router));
    acceptors_.push_back(std::move(acceptor));
  }
}

void ListenerImpl::accept(AcceptCompletion c) {
  std::unique_lock lock(m_);
  if (closed_) {
    lock.unlock();
    c.complete(make_error_code(errc::listener_closed), IncomingConnection());
    return;
  }
  if (!queue_.empty()) {
    auto w = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    c.complete({}, IncomingConnection(std::move(w)));
    return;
  }
  waiters_.push_back(std::move(c));
}

void ListenerImpl::enqueue(std::shared_ptr<IoWorker> w) {
  std::unique_lock lock(m_);
  if (closed_) {
    // close() ran on another thread after the acceptor checked accepting(): nobody will take
    // this connection, and a queue close() has already emptied would hold it until its idle
    // timeout.
    lock.unlock();
    w->close_from_handle(0, "connection not started");
    return;
  }
  if (on_connection_) {
    const auto fn = on_connection_;
    lock.unlock();
    try {
      (*fn)(IncomingConnection(std::move(w)));
    } catch (...) {
      // The IncomingConnection, destroyed unstarted while unwinding, closed the connection.
    }
    return;
  }
  if (!waiters_.empty()) {
    auto c = std::move(waiters_.front());
    waiters_.pop_front();
    lock.unlock();
    c.complete({}, IncomingConnection(std::move(w)));
    return;
  }
  queue_.push_back(std::move(w));
}

void ListenerImpl::set_on_connection(std::function<void(IncomingConnection)> fn) {
  std::shared_ptr<const std::function<void(IncomingConnection)>> shared;
  if (fn) shared = std::make_shared<const std::function<void(IncomingConnection)>>(std::move(fn));
  std::lock_guard lock(m_);
  on_connection_ = std::move(shared);
}

void ListenerImpl::forget(IoWorker& w) {
  std::lock_guard lock(m_);
  std::erase_if(queue_, [&](const auto& p) { return p.get() == &w; });
}

size_t ListenerImpl::pending() const {
  std::lock_guard lock(m_);
  return queue_.size();
}

bool ListenerImpl::accepting() const {
  std::lock_guard lock(m_);
  return !closed_;
}

void ListenerImpl::close() {
  std::deque<AcceptCompletion> waiters;
  std::deque<std::shared_ptr<IoWorker>> queued;
  {
    std::lock_guard lock(m_);
    if (closed_) return;
    closed_ = true;
    waiters.swap(waiters_);
    queued.swap(queue_);
  }
  for (auto& c : waiters)
    c.complete(make_error_code(errc::listener_closed), IncomingConnection());
  // Nobody will start these: close them as IncomingConnection's destructor would (the queue
  // holds bare workers, and dropping those would leave each open until its idle timeout).
  for (auto& w : queued)
    w->close_from_handle(0, "connection not started");
  for (size_t i = 0; i < routers_.size(); ++i) {
    // The acceptor must live until its router has stopped using it.
    asio::post(routers_[i]->executor(),
               [r = routers_[i], a = acceptors_[i]] { r->stop_accepting(); });
  }
}

ListenerStats ListenerImpl::stats() const {
  ListenerStats s;
  for (const auto& r : routers_) {
    s.datagrams_received += r->counters().datagrams_received.load(std::memory_order_relaxed);
    s.packets_dropped += r->counters().packets_dropped.load(std::memory_order_relaxed);
  }
  const auto& c = *counters_;
  s.connections_accepted = c.connections_accepted.load(std::memory_order_relaxed);
  s.connections_active = c.connections_active.load(std::memory_order_relaxed);
  s.handshakes_in_progress = c.handshakes_in_progress.load(std::memory_order_relaxed);
  s.backlog_overflows = c.backlog_overflows.load(std::memory_order_relaxed);
  s.refused_by_limits = c.refused_by_limits.load(std::memory_order_relaxed);
  s.retries_under_pressure = c.retries_under_pressure.load(std::memory_order_relaxed);
  s.retries_sent = c.retries_sent.load(std::memory_order_relaxed);
  s.invalid_tokens = c.invalid_tokens.load(std::memory_order_relaxed);
  s.version_negotiations_sent = c.version_negotiations_sent.load(std::memory_order_relaxed);
  s.stateless_resets_sent = c.stateless_resets_sent.load(std::memory_order_relaxed);
  s.packets_dropped += c.packets_dropped.load(std::memory_order_relaxed);
  return s;
}

}  // namespace quic

// ------------------------------------------------------------------ public API

namespace {

std::shared_ptr<quic::ServerContext> make_context(const ServerSettings& settings,
                                                  std::error_code& ec) {
  if ((ec = validate(settings))) return nullptr;
  auto ctx = std::make_shared<quic::ServerContext>();
  ctx->settings = settings;
  std::span<const uint8_t> ticket_secret;
  if (settings.static_secret) ticket_secret = *settings.static_secret;
  ctx->tls = engine::TlsContext::create(engine::TlsContext::Role::server, settings.tls, ec, nullptr,
                                        ticket_secret);
  if (!ctx->tls) return nullptr;
  if (settings.static_secret) {
    ctx->secret = *settings.static_secret;
  } else {
    engine::random_bytes(ctx->secret);
  }
  return ctx;
}

net::SocketOptions socket_options(const Settings& s) {
  return {s.socket_buffer, s.enable_gso, s.enable_gro};
}

// Sockets of an unsharded listener: each its own shard id, so their CIDs differ in that byte.
std::vector<ListenerImpl::RoutedSocket> unsharded(const asio::any_io_executor& ex,
                                                  std::vector<std::unique_ptr<net::UdpSocket>> s) {
  std::vector<ListenerImpl::RoutedSocket> out;
  for (size_t i = 0; i < s.size(); ++i)
    out.push_back({std::move(s[i]), ex, static_cast<uint8_t>(i)});
  return out;
}

Listener open_listener(const asio::any_io_executor& ex,
                       std::vector<ListenerImpl::RoutedSocket> sockets,
                       std::shared_ptr<quic::ServerContext> ctx) {
  auto impl = std::make_shared<ListenerImpl>(ex, std::move(ctx));
  impl->open(std::move(sockets));
  return Listener(std::move(impl));
}

}  // namespace

Listener listen(const asio::any_io_executor& ex, std::span<const asio::ip::udp::endpoint> endpoints,
                const ServerSettings& settings, std::error_code& ec) {
  auto ctx = make_context(settings, ec);
  if (!ctx) return {};
  if (endpoints.empty()) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  std::vector<std::unique_ptr<net::UdpSocket>> sockets;
  for (const auto& ep : endpoints) {
    auto s = std::make_unique<net::UdpSocket>(ex, ep, socket_options(settings), ec);
    if (ec) return {};
    sockets.push_back(std::move(s));
  }
  return open_listener(ex, unsharded(ex, std::move(sockets)), std::move(ctx));
}

Listener listen(const asio::any_io_executor& ex, std::vector<asio::ip::udp::socket> sockets,
                const ServerSettings& settings, std::error_code& ec) {
  auto ctx = make_context(settings, ec);
  if (!ctx) return {};
  if (sockets.empty()) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  std::vector<std::unique_ptr<net::UdpSocket>> wrapped;
  for (auto& sock : sockets) {
    auto s = std::make_unique<net::UdpSocket>(std::move(sock), socket_options(settings), ec);
    if (ec) return {};
    wrapped.push_back(std::move(s));
  }
  return open_listener(ex, unsharded(ex, std::move(wrapped)), std::move(ctx));
}

Listener listen_sharded(std::span<const asio::any_io_executor> shards,
                        std::span<const asio::ip::udp::endpoint> endpoints,
                        const ServerSettings& settings, std::error_code& ec) {
  auto ctx = make_context(settings, ec);
  if (!ctx) return {};
  if (shards.empty() || shards.size() > kMaxShards || endpoints.empty()) {
    ec = make_error_code(errc::invalid_argument);
    return {};
  }
  auto options = socket_options(settings);
  options.reuse_port = true;
  std::vector<ListenerImpl::RoutedSocket> sockets;
  for (const auto& ep : endpoints) {
    // The first socket fixes the port (the kernel's choice for port 0) and carries the
    // program; the group's other members join it on that port.
    asio::ip::udp::endpoint bound = ep;
    for (size_t k = 0; k < shards.size(); ++k) {
      auto s = std::make_unique<net::UdpSocket>(shards[k], bound, options, ec);
      if (!ec && k == 0 && shards.size() > 1) {
        net::steer_by_dcid_byte(*s, quic::CidGenerator::kShardByte,
                                static_cast<uint32_t>(shards.size()), ec);
      }
      if (ec) return {};
      if (k == 0) bound = s->local_address().endpoint();
      sockets.push_back({std::move(s), shards[k], static_cast<uint8_t>(k)});
    }
  }
  return open_listener(shards[0], std::move(sockets), std::move(ctx));
}

void Listener::on_connection(std::function<void(IncomingConnection)> fn) {
  impl_->set_on_connection(std::move(fn));
}

void Listener::close() {
  if (impl_) impl_->close();
}

std::vector<asio::ip::udp::endpoint> Listener::local_endpoints() const {
  return impl_ ? impl_->local_endpoints() : std::vector<asio::ip::udp::endpoint>{};
}

ListenerStats Listener::stats() const {
  return impl_ ? impl_->stats() : ListenerStats{};
}

asio::any_io_executor Listener::executor_of(ListenerImpl& impl) {
  return impl.executor();
}

void Listener::accept(ListenerImpl& impl,
                      detail::Completion<void(std::error_code, IncomingConnection)> c) {
  impl.accept(std::move(c));
}

IncomingConnection& IncomingConnection::operator=(IncomingConnection&& o) noexcept {
  if (this != &o) {
    if (w_) w_->close_from_handle(0, "connection not started");
    w_ = std::move(o.w_);
  }
  return *this;
}

IncomingConnection::~IncomingConnection() {
  if (w_) w_->close_from_handle(0, "connection not started");
}

asio::ip::udp::endpoint IncomingConnection::remote_endpoint() const {
  return w_ ? w_->initial_remote() : asio::ip::udp::endpoint();
}

std::string IncomingConnection::trace_id() const {
  return w_ ? w_->trace_id() : std::string();
}

ConnectionHandle IncomingConnection::start(std::shared_ptr<ApplicationOverQuic> app) {
  if (!w_ || !app) return {};
  w_->start(std::move(app));
  return ConnectionHandle(std::move(w_));
}

asio::any_io_executor IncomingConnection::executor_of(const std::shared_ptr<quic::IoWorker>& w) {
  return w->executor();
}

void IncomingConnection::wait_handshake(const std::shared_ptr<quic::IoWorker>& w,
                                        detail::Completion<void(std::error_code)> c) {
  w->wait_handshake(std::move(c));
}

}  // namespace asioquic
