#include "quic/acceptor.hpp"

#include <array>

#include "core/resident_memory.hpp"
#include "quic/listener_impl.hpp"

namespace asioquic::quic {
namespace {

constexpr uint64_t kConnectionRefused = 0x2;
constexpr uint64_t kInvalidToken = 0xb;
constexpr size_t kMinInitialDatagram = 1200;
// How old a resident-memory sample may be (reading it costs three system calls).
constexpr uint64_t kMemorySampleNs = 100'000'000;

}  // namespace

ConnectionAcceptor::ConnectionAcceptor(std::shared_ptr<const ServerContext> ctx,
                                       std::shared_ptr<ListenerCounters> counters,
                                       std::weak_ptr<ListenerImpl> listener, uint8_t shard_id)
    : ctx_(std::move(ctx)),
      counters_(std::move(counters)),
      listener_(std::move(listener)),
      cids_(ctx_->settings.server_id, shard_id),
      reset_key_(std::make_shared<const engine::ResetTokenKey>(ctx_->secret)),
      retry_key_(ctx_->secret),
      reset_tokens_(static_cast<double>(ctx_->settings.stateless_reset_rate)) {}

void ConnectionAcceptor::drop() {
  counters_->packets_dropped.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionAcceptor::reply(InboundPacketRouter& router, const Datagram& d, const uint8_t* pkt,
                               size_t len) {
  net::SendBatch b{pkt, len, len, d.remote, d.local, 0};
  router.send(b);
}

void ConnectionAcceptor::on_unknown(InboundPacketRouter& router, const Datagram& d,
                                    engine::ParseResult parsed, const engine::HeaderInfo& hdr) {
  std::array<uint8_t, 1500> out;
  if (parsed == engine::ParseResult::unsupported_version) {
    // Answering small datagrams would make us an amplifier (RFC 9000 §6.1).
    if (d.data.size() < kMinInitialDatagram) return drop();
    const size_t n = engine::write_version_negotiation(out, hdr.dcid, hdr.scid, hdr.version);
    if (n == 0) return drop();
    reply(router, d, out.data(), n);
    counters_->version_negotiations_sent.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  switch (hdr.form) {
    case engine::HeaderInfo::Form::initial:
      return on_initial(router, d, hdr);
    case engine::HeaderInfo::Form::short_header: {
      if (!take_reset_token(d.ts)) return drop();
      const size_t n = engine::write_stateless_reset(out, *reset_key_, hdr.dcid, d.data.size());
      if (n == 0) return drop();
      reply(router, d, out.data(), n);
      counters_->stateless_resets_sent.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    default:
      return drop();  // 0-RTT or Handshake for a connection we do not have
  }
}

bool ConnectionAcceptor::take_reset_token(uint64_t now) {
  const double rate = static_cast<double>(ctx_->settings.stateless_reset_rate);
  if (rate <= 0) return false;
  if (reset_refill_ns_ != 0 && now > reset_refill_ns_) {
    reset_tokens_ =
        std::min(rate, reset_tokens_ + rate * static_cast<double>(now - reset_refill_ns_) / 1e9);
  }
  reset_refill_ns_ = now;
  if (reset_tokens_ < 1) return false;
  reset_tokens_ -= 1;
  return true;
}

void ConnectionAcceptor::on_initial(InboundPacketRouter& router, const Datagram& d,
                                    const engine::HeaderInfo& hdr) {
  std::span<const uint8_t> token;
  if (!engine::check_initial(d.data, token)) return drop();
  auto listener = listener_.lock();
  if (!listener || !listener->accepting()) return drop();
  const ServerSettings& s = ctx_->settings;

  Cid odcid(hdr.dcid.data(), hdr.dcid.size());
  std::optional<Cid> retry_scid;
  if (engine::is_retry_token(token)) {
    const uint64_t lifetime =
        static_cast<uint64_t>(std::chrono::nanoseconds(s.retry_token_lifetime).count());
    Cid original;
    if (!retry_key_.verify(token, *d.remote, odcid, lifetime, d.ts, original)) {
      counters_->invalid_tokens.fetch_add(1, std::memory_order_relaxed);
      return refuse(router, d, hdr, kInvalidToken);
    }
    retry_scid = odcid;
    odcid = original;
  } else {
    token = {};  // a NEW_TOKEN from elsewhere: treat as no token
    if (s.retry) return send_retry(router, d, hdr);
    if (under_pressure(d.ts)) {
      counters_->retries_under_pressure.fetch_add(1, std::memory_order_relaxed);
      return send_retry(router, d, hdr);
    }
  }

  // Limits apply to validated clients too; refusing costs one stateless packet.
  if ((s.max_connections &&
       counters_->connections_active.load(std::memory_order_relaxed) >= s.max_connections) ||
      (s.max_handshakes &&
       counters_->handshakes_in_progress.load(std::memory_order_relaxed) >= s.max_handshakes)) {
    counters_->refused_by_limits.fetch_add(1, std::memory_order_relaxed);
    return refuse(router, d, hdr, kConnectionRefused);
  }
  if (listener->pending() >= s.accept_backlog) {
    counters_->backlog_overflows.fetch_add(1, std::memory_order_relaxed);
    return refuse(router, d, hdr, kConnectionRefused);
  }

  engine::ConnParams p;
  p.settings = &ctx_->settings;
  p.server = true;
  p.local = *d.local;
  p.remote = *d.remote;
  p.dcid = Cid(hdr.scid.data(), hdr.scid.size());
  p.scid = cids_.generate();
  p.odcid = odcid;
  p.retry_scid = retry_scid;
  p.token = token;
  p.version = hdr.version;
  p.reset_key = reset_key_;
  p.tls = ctx_->tls;
  p.initial_ts = d.ts;

  IoWorker::Config cfg;
  cfg.router = router.shared_from_this();
  cfg.observer = shared_from_this();
  cfg.keepalive = ctx_;
  cfg.cid_generator = &cids_;
  cfg.extra_cids.emplace_back(hdr.dcid.data(), hdr.dcid.size());
  std::error_code ec;
  auto w = IoWorker::create(std::move(cfg), p, ec);
  if (!w) return drop();
  counters_->connections_accepted.fetch_add(1, std::memory_order_relaxed);
  counters_->connections_active.fetch_add(1, std::memory_order_relaxed);
  counters_->handshakes_in_progress.fetch_add(1, std::memory_order_relaxed);
  ++rate_count_;
  w->on_datagram(d);
  router.mark_dirty(*w);
  listener->enqueue(std::move(w));
}

void ConnectionAcceptor::send_retry(InboundPacketRouter& router, const Datagram& d,
                                    const engine::HeaderInfo& hdr) {
  const Cid retry_scid = cids_.generate();
  const Cid odcid(hdr.dcid.data(), hdr.dcid.size());
  std::array<uint8_t, engine::kMaxRetryTokenLen> token;
  const size_t tlen = retry_key_.make(token, *d.remote, retry_scid, odcid, d.ts);
  if (tlen == 0) return drop();
  std::array<uint8_t, 1500> out;
  const size_t n = engine::write_retry(out, hdr.version, Cid(hdr.scid.data(), hdr.scid.size()),
                                       retry_scid, odcid, {token.data(), tlen});
  if (n == 0) return drop();
  reply(router, d, out.data(), n);
  counters_->retries_sent.fetch_add(1, std::memory_order_relaxed);
}

void ConnectionAcceptor::refuse(InboundPacketRouter& router, const Datagram& d,
                                const engine::HeaderInfo& hdr, uint64_t code) {
  std::array<uint8_t, 1500> out;
  const size_t n = engine::write_refusal(out, hdr.version, hdr.dcid, hdr.scid, code);
  if (n) reply(router, d, out.data(), n);
}

bool ConnectionAcceptor::under_pressure(uint64_t now) {
  const ServerSettings& s = ctx_->settings;
  if (now - rate_window_ns_ >= 1'000'000'000) {
    rate_window_ns_ = now;
    rate_count_ = 0;
  }
  if (s.retry_above_memory &&
      (memory_sampled_ns_ == 0 || now - memory_sampled_ns_ >= kMemorySampleNs)) {
    memory_sampled_ns_ = now;
    memory_bytes_ = detail::resident_memory_bytes();
  }
  return (s.retry_above_rate && rate_count_ >= s.retry_above_rate) ||
         (s.retry_above_handshakes && counters_->handshakes_in_progress.load(
                                          std::memory_order_relaxed) >= s.retry_above_handshakes) ||
         (s.retry_above_memory && memory_bytes_ > s.retry_above_memory);
}

void ConnectionAcceptor::on_worker_established(IoWorker&) {
  counters_->handshakes_in_progress.fetch_sub(1, std::memory_order_relaxed);
}

void ConnectionAcceptor::on_worker_done(IoWorker& w) {
  if (!w.was_established()) {
    counters_->handshakes_in_progress.fetch_sub(1, std::memory_order_relaxed);
  }
  counters_->connections_active.fetch_sub(1, std::memory_order_relaxed);
  if (auto l = listener_.lock()) l->forget(w);
}

}  // namespace asioquic::quic
