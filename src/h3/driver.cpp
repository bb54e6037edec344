#include "h3/driver.hpp"

#include <asio/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace asioquic::h3::detail {
namespace {

// RFC 9114 §4.2.2: each field counts its name, its value and 32 bytes of overhead.
constexpr uint64_t kFieldOverhead = 32;
// Room made for a header section when its first field arrives: a browser's request has about
// eight, so the vector grows once instead of four times.
constexpr size_t kFieldsReserved = 8;
// RFC 8470 §5.2: the server would not act on the request as early data.
constexpr int kTooEarly = 425;
// Time between the two GOAWAY frames of a graceful shutdown, so requests already in flight
// when the first one was sent still arrive (nghttp3 asks for "a couple of RTTs").
constexpr std::chrono::milliseconds kGoawayGap{200};

// Ends a waiting read of a stream: the read is forgotten, then its completion posted with
// `args` (taken by value, so that they may come from the read itself).
template <typename Read, typename... Args>
void complete_read(std::optional<Read>& read, Args... args) {
  auto done = std::move(read->done);
  read.reset();
  done.complete(std::move(args)...);
}

// How a read that finds no body bytes left ends: not yet (empty), aborted (the application
// stopped reading), eof (the body ended), or with the stream's error.
std::error_code body_end(const Stream& s) {
  if (s.read_stopped) return make_error_code(errc::operation_aborted);
  if (s.fin && !s.reset) return asio::error::eof;
  if (s.reset || s.error) return s.error ? s.error : make_error_code(errc::stream_reset);
  return {};
}

bool is_request_stream(int64_t id) {
  return (id & 0x3) == 0;
}  // client-initiated bidi

bool is_server_uni_stream(int64_t id) {
  return (id & 0x3) == 0x3;
}

}  // namespace

Driver::Driver(bool server, const Settings& settings, asio::any_io_executor ex)
    : server_(server), settings_(settings) {
  if (ex) set_executor(std::move(ex));
}

void Driver::set_executor(asio::any_io_executor ex) {
  ex_ = std::move(ex);
  post_ex_ = asio::prefer(asio::require(ex_, asio::execution::blocking.never),
                          asio::execution::relationship.fork);
}

const std::shared_ptr<Stream>& Driver::find(int64_t id) const {
  static const std::shared_ptr<Stream> none;
  if (id == found_id_) return *found_;
  auto it = streams_.find(id);
  if (it == streams_.end()) return none;
  found_id_ = id;
  found_ = &it->second;
  return it->second;
}

void Driver::forget(int64_t id) {
  if (id == found_id_) found_id_ = -1;
  streams_.erase(id);
}

void Driver::wake() {
  if (conn_) conn_->wake();
}

bool Driver::ensure_engine(Transport& conn) {
  conn_ = &conn;
  if (!ex_) set_executor(conn.executor());
  if (h3_) return true;
  trace_id_ = conn.trace_id();
  engine::H3ConnSettings s;
  s.server = server_;
  s.max_field_section_size = settings_.max_field_section_size;
  s.qpack_max_dtable_capacity = settings_.qpack_max_dtable_capacity;
  s.qpack_blocked_streams = settings_.qpack_blocked_streams;
  s.qpack_encoder_max_dtable_capacity =
      settings_.qpack_encoder_max_dtable_capacity.value_or(server_ ? 0 : 4096);
  s.enable_connect_protocol = settings_.enable_connect_protocol;
  s.max_client_streams_bidi = UINT64_MAX / 4;  // QUIC's stream limit is the one enforced
  std::error_code ec;
  h3_ = engine::H3Conn::create(s, *this, ec);
  if (!h3_) conn.close(kInternalError, "HTTP/3 engine");
  return h3_ != nullptr;
}

void Driver::shutdown_engine_read(int64_t id) {
  if (!h3_) return;
  if (in_engine_read_) return read_shutdowns_.push_back(id);
  h3_->shutdown_read(id);
}

void Driver::fail_connection(ptrdiff_t liberr) {
  if (conn_) conn_->close(engine::H3Conn::app_error_code(liberr), engine::H3Conn::strerror(liberr));
}

// ------------------------------------------------------------------ connection events

std::error_code Driver::on_established(Transport& conn) {
  if (!ensure_engine(conn)) return {};
  if (!server_ && !conn.is_established()) early_ = true;
  std::error_code ec;
  const int64_t control = conn.open_uni_stream(ec);
  const int64_t qenc = ec ? -1 : conn.open_uni_stream(ec);
  const int64_t qdec = ec ? -1 : conn.open_uni_stream(ec);
  if (ec || !h3_->bind_streams(control, qenc, qdec)) {
    // The peer must allow 3 unidirectional streams (RFC 9114 §6.2).
    conn.close(kStreamCreationError, "cannot open HTTP/3 control streams");
    return {};
  }
  control_bound_ = true;
  if (server_ && shutting_down_) send_goaway();  // asked for before the control stream existed
  if (server_ && settings_.post_accept_timeout.count() > 0) {
    timer_ = std::make_unique<asio::steady_timer>(ex_, settings_.post_accept_timeout);
    timer_->async_wait([w = weak_from_this()](const asio::error_code& e) {
      auto self = w.lock();
      if (e || !self || self->closed_ || self->requests_seen_ > 0) return;
      self->close(kNoError);
    });
  }
  return {};
}

std::error_code Driver::on_early_rejected(Transport& conn) {
  // Stream IDs grow with each request made, so their order is the requests' order.
  std::vector<std::shared_ptr<Stream>> sent;
  sent.reserve(streams_.size());
  for (auto& [id, s] : streams_)
    sent.push_back(s);
  std::sort(sent.begin(), sent.end(), [](const auto& a, const auto& b) { return a->id < b->id; });
  asioquic::detail::Fifo<PendingOpen> again;
  for (auto& s : sent) {
    if (!s->response_waiter) continue;  // only whole requests go early (fits_early_data)
    again.push_back(requeue(*s));
  }
  for (auto& p : pending_)
    again.push_back(std::move(p));
  pending_.swap(again);
  streams_.clear();
  found_id_ = -1;
  offer_ = Offer{};
  fin_pending_.clear();
  read_shutdowns_.clear();
  h3_.reset();
  control_bound_ = false;
  if (auto ec = on_established(conn); ec || !h3_) return ec;
  // What the server's unidirectional streams brought so far goes to the new session too;
  // flow control has credited it already.
  const auto recorded = std::move(peer_uni_);
  peer_uni_.clear();
  for (const auto& [id, rec] : recorded) {
    const ptrdiff_t n = h3_->read(id, rec.bytes, rec.fin);
    if (n < 0) {
      fail_connection(n);
      break;
    }
  }
  return {};
}

Driver::PendingOpen Driver::requeue(Stream& s) {
  PendingOpen p;
  p.fields = std::move(s.sent_headers);
  // Only whole requests go early, and nothing of a refused stream was acknowledged, so `out`
  // still holds the whole body.
  if (s.finish_requested) p.body = s.out.empty() ? Buffer() : std::move(s.out.front());
  p.response = std::move(s.response_waiter);
  return p;
}

bool Driver::fits_early_data(const PendingOpen& p) {
  if (p.opened) return false;  // a streamed body may not be safe to replay
  for (const auto& f : p.fields) {
    if (f.name == ":method") return f.value == "GET" || f.value == "HEAD" || f.value == "OPTIONS";
  }
  return false;
}

std::error_code Driver::on_writes(Transport& conn) {
  conn_ = &conn;
  complete_filled_reads();  // normally done already, by process_reads
  if (early_ && conn.is_established()) {
    early_ = false;  // accepted, or already restarted: nothing more to replay
    peer_uni_.clear();
  }
  if (!server_) try_open();
  maybe_finish_shutdown();
  return {};
}

void Driver::on_close(std::error_code result) {
  if (closed_) return;
  closed_ = true;
  // H3_NO_ERROR is HTTP/3's clean close.
  const bool clean =
      !result || (result.category() == application_category() && result.value() == kNoError);
  close_error_ = clean ? make_error_code(errc::connection_closed) : result;
  if (timer_) timer_->cancel();
  auto streams = std::move(streams_);
  streams_.clear();
  found_id_ = -1;
  for (auto& [id, s] : streams)
    end_stream_with(s, close_error_);
  filling_.clear();  // end_stream_with completed those reads
  for (auto& c : accept_waiters_)
    c.complete(close_error_, ServerRequest(), ServerResponse());
  accept_waiters_.clear();
  ready_.clear();
  request_fn_ = nullptr;
  for (auto& p : pending_) {
    if (p.response) p.response.complete(close_error_, ClientResponse());
    if (p.opened) p.opened.complete(close_error_, ClientRequest());
  }
  pending_.clear();
  conn_ = nullptr;
}

void Driver::on_stream_data(Transport& conn, int64_t id, std::span<const uint8_t> data, bool fin) {
  if (!ensure_engine(conn)) return;
  if (early_ && is_server_uni_stream(id)) {
    PeerUniStream& rec = peer_uni_[id];
    rec.bytes.insert(rec.bytes.end(), data.begin(), data.end());
    rec.fin = rec.fin || fin;
  }
  body_in_read_ = 0;
  in_engine_read_ = true;
  const ptrdiff_t n = h3_->read(id, data, fin);
  in_engine_read_ = false;
  for (const int64_t stopped : read_shutdowns_)
    shutdown_engine_read(stopped);
  read_shutdowns_.clear();
  if (n >= 0) return conn.consume(id, static_cast<size_t>(n));
  if (!engine::H3Conn::is_stream_error(n)) return fail_connection(n);
  // A malformed message is an error of its stream only (RFC 9114 §4.1.2). What the engine did
  // not pass on as body is credited here (body bytes are credited by whoever holds them).
  conn.consume(id, data.size() - body_in_read_);
  if (auto s = find(id)) return reject(s, kMessageError);
  std::error_code ignored;
  conn.stream_stop_sending(id, kMessageError, ignored);
  conn.stream_reset(id, kMessageError, ignored);
  shutdown_engine_read(id);
  h3_->shutdown_write(id);
}

void Driver::on_quic_reset(int64_t id, uint64_t code) {
  shutdown_engine_read(id);
  if (auto s = find(id)) {
    s->reset = true;
    s->reset_code = code;
    // Bytes of the abandoned body will not be read: give their credit back.
    credit(*s, static_cast<size_t>(s->uncredited));
    s->body.clear();
    service_reads(s);
  }
}

void Driver::on_quic_stop_sending(int64_t id, uint64_t) {
  if (h3_) h3_->shutdown_write(id);
  if (auto s = find(id)) {
    s->stopped = true;
    service_writes(*s);
  }
}

void Driver::on_quic_closed(int64_t id, uint64_t code) {
  if (h3_ && !h3_->close_stream(id, code) && conn_) {
    conn_->close(kClosedCriticalStream, "HTTP/3 critical stream closed");
  }
  // A stream the engine never knew (e.g. rejected before its headers) still needs cleaning.
  if (auto s = find(id)) on_stream_close(id, code);
}

// ------------------------------------------------------------------ SendSource

bool Driver::next(StreamChunk& out) {
  if (!h3_) return false;
  // nghttp3 0.8 ends a body whose last bytes were already sent with a bare FIN (an empty outq
  // entry), offered only while the stream is scheduled. If the peer acknowledges those bytes
  // before the packetizer could take the FIN (pacing, congestion), the ack drops that entry,
  // nghttp3 offers the FIN once more, unschedules the stream and never offers it again: the
  // message would never end. So until written() reports it taken, such a FIN is offered from
  // here, ahead of nghttp3.
  while (!fin_pending_.empty()) {
    const int64_t pending = fin_pending_.front();
    auto s = find(pending);
    if (s && !s->closed && !s->write_reset && !s->stopped && !s->error) {
      out.stream_id = pending;
      out.iov = nullptr;
      out.iovcnt = 0;
      out.fin = true;
      return true;
    }
    fin_pending_.erase(fin_pending_.begin());  // the stream ended otherwise
  }
  if (offer_.id >= 0) {
    if (h3_->is_writable(offer_.id)) {
      out.stream_id = offer_.id;
      out.iov = iov_.data() + offer_.first;
      out.iovcnt = offer_.count;
      out.fin = offer_.fin;
      return true;
    }
    offer_.id = -1;  // reset, shut or blocked since: ask nghttp3 afresh
  }
  int64_t id = -1;
  bool fin = false;
  const ptrdiff_t n = h3_->writev(id, fin, iov_);
  if (n < 0) {
    fail_connection(n);
    return false;
  }
  if (id < 0) return false;
  out.stream_id = id;
  out.iov = iov_.data();
  out.iovcnt = static_cast<size_t>(n);
  out.fin = fin;
  if (n == 0 && fin && is_request_stream(id)) fin_pending_.push_back(id);
  if (n > 0) offer_ = {id, 0, static_cast<size_t>(n), fin};
  return true;
}

void Driver::written(int64_t id, size_t n, bool fin) {
  if (fin) std::erase(fin_pending_, id);
  h3_->add_write_offset(id, n);
  if (id != offer_.id) return;
  // Drop from the offer what the packetizer took.
  while (n > 0 && offer_.count > 0) {
    iovec& v = iov_[offer_.first];
    if (v.iov_len <= n) {
      n -= v.iov_len;
      ++offer_.first;
      --offer_.count;
    } else {
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + n;
      v.iov_len -= n;
      n = 0;
    }
  }
  if (fin || offer_.count == 0) offer_.id = -1;
}

void Driver::blocked(int64_t id) {
  if (id == offer_.id) offer_.id = -1;
  std::erase(fin_pending_, id);  // gone or shut: the stream's events tell the rest
  h3_->block(id);
}

void Driver::unblocked(int64_t id) {
  if (h3_) h3_->unblock(id);
}

void Driver::acked(int64_t id, uint64_t, uint64_t len) {
  if (h3_) h3_->add_ack_offset(id, len);
}

// ------------------------------------------------------------------ engine events

void Driver::on_begin_fields(int64_t id, bool trailer) {
  if (trailer || !server_ || find(id)) return;
  if (!is_request_stream(id)) return;
  streams_.emplace(id, std::make_shared<Stream>(shared_from_this(), id));
}

void Driver::on_field(int64_t id, std::string_view name, std::string_view value, bool trailer) {
  const auto& s = find(id);  // no copy per field; reject (which may close it) gets one
  if (!s || s->rejected) return;
  s->field_bytes += name.size() + value.size() + kFieldOverhead;
  if (s->field_bytes > settings_.max_field_section_size) {
    return reject(std::shared_ptr<Stream>(s), kExcessiveLoad);
  }
  if (!server_ && !trailer && name == ":status") {
    int status = 0;
    std::from_chars(value.data(), value.data() + value.size(), status);
    s->status = status;
  }
  Fields& section = trailer ? s->trailers : s->headers;
  if (section.empty()) section.reserve(kFieldsReserved);
  add(section, name, value);
}

void Driver::on_end_fields(int64_t id, bool trailer, bool fin) {
  auto s = find(id);
  if (!s || s->rejected) return;
  s->field_bytes = 0;  // the limit applies to each section
  if (trailer) return;
  if (!server_ && s->status >= 100 && s->status < 200) {
    s->headers.clear();  // informational: wait for the final response
    s->status = 0;
    return;
  }
  if (!server_ && s->status == kTooEarly && s->early_data && !s->finish_requested &&
      s->response_waiter) {
    // Sent as early data and refused as such: again, now that the handshake is done (RFC 8470
    // §4.2). Only a request without a body: one with a body may be partly acknowledged.
    pending_.push_back(requeue(*s));
    reject(s, kRequestCancelled);
    return wake();
  }
  s->headers_done = true;
  s->has_body = !fin;
  if (fin) s->fin = true;
  if (server_) return deliver_request(s);
  if (s->response_waiter) s->response_waiter.complete({}, ClientOps::response(s));
}

void Driver::deliver_request(const std::shared_ptr<Stream>& s) {
  ++requests_seen_;
  s->early_data = conn_ && !conn_->is_established();
  const uint64_t max = settings_.max_requests_per_connection;
  // Not refused merely because a shutdown began: requests sent before the client saw the first
  // GOAWAY are served, and nghttp3 itself rejects those beyond the final GOAWAY's id.
  if (max && requests_seen_ > max) return reject(s, kRequestRejected);
  if (max && requests_seen_ == max) shutdown(settings_.drain_timeout);  // served; then GOAWAY
  if (request_fn_) return request_fn_(ServerOps::request(s), ServerOps::response(s));
  if (!accept_waiters_.empty()) {
    auto c = std::move(accept_waiters_.front());
    accept_waiters_.pop_front();
    c.complete({}, ServerOps::request(s), ServerOps::response(s));
    return;
  }
  ready_.push_back(s);
}

void Driver::reject(const std::shared_ptr<Stream>& s, uint64_t code) {
  s->rejected = true;
  s->write_reset = true;
  if (!s->headers_done) s->headers.clear();  // delivered ones are read by handles, any thread
  s->trailers.clear();
  if (conn_) {
    std::error_code ignored;
    conn_->stream_stop_sending(s->id, code, ignored);
    conn_->stream_reset(s->id, code, ignored);
  }
  shutdown_engine_read(s->id);
  if (h3_) h3_->shutdown_write(s->id);
  // A handle already out (a client's request, trailers after a delivered request) learns why
  // now, not when the peer's side of the stream ends too.
  if (code == kExcessiveLoad || code == kMessageError) {
    credit(*s, static_cast<size_t>(s->uncredited));  // the unread body is dropped
    s->body.clear();
    end_stream_with(s, make_error_code(code == kExcessiveLoad ? errc::fields_too_large
                                                              : errc::malformed_message));
  }
}

void Driver::on_body(int64_t id, std::span<const uint8_t> data) {
  body_in_read_ += data.size();
  auto s = find(id);
  if (!s || s->rejected || s->read_stopped) {
    if (conn_) conn_->consume(id, data.size());  // nobody will read these: credit them now
    return;
  }
  s->uncredited += data.size();
  if (s->read_buffer) {
    // Into s.body, whose blocks the reader then takes whole: this copy out of the packet is
    // the only one.
    s->body.append(data);
    if (!s->read_buffer->due) {
      s->read_buffer->due = true;
      filling_.push_back(s);
    }
    return;
  }
  if (s->body.empty()) {
    data = give_to_reader(s, data);
    if (data.empty()) return;
  }
  s->body.append(data);
  service_reads(s);
}

void Driver::on_consumed(int64_t id, size_t n) {
  if (conn_) conn_->consume(id, n);
}

void Driver::on_end_stream(int64_t id) {
  if (auto s = find(id)) {
    s->fin = true;
    service_reads(s);
  }
}

void Driver::on_stream_close(int64_t id, uint64_t code) {
  auto s = find(id);
  if (!s) return;
  forget(id);
  s->closed = true;
  credit(*s, static_cast<size_t>(s->uncredited));  // unread body: the connection needs it back
  if (!s->fin && !s->reset) {
    s->reset = true;
    s->reset_code = code;
  }
  // With ngtcp2 0.12 a peer's STOP_SENDING is only noticed at our next send (it resets our
  // side itself): a stream that closes before we finished or reset our side was stopped by the
  // peer. Without this, later writes succeed into nothing and then wait forever for acks.
  if (!s->finish_requested && !s->write_reset) s->stopped = true;
  std::error_code ec;
  if (code == kRequestRejected) {
    ec = make_error_code(errc::request_rejected);
  } else if (!s->headers_done || s->reset) {
    ec = make_error_code(errc::stream_reset);
  }
  end_stream_with(s, ec);
  ready_.erase(s);
  maybe_finish_shutdown();
}

void Driver::on_body_acked(int64_t id, uint64_t n) {
  const auto& s = find(id);  // service_writes only posts completions
  if (!s) return;
  s->queued -= std::min(s->queued, n);
  uint64_t left = n + s->acked_front;
  while (!s->out.empty() && left >= s->out.front().size() && s->given_index > 0) {
    left -= s->out.front().size();
    s->out.pop_front();
    --s->given_index;
  }
  s->acked_front = left;
  service_writes(*s);
}

void Driver::on_stop_sending_wanted(int64_t id, uint64_t code) {
  std::error_code ignored;
  if (conn_) conn_->stream_stop_sending(id, code, ignored);
}

void Driver::on_reset_wanted(int64_t id, uint64_t code) {
  std::error_code ignored;
  if (conn_) conn_->stream_reset(id, code, ignored);
}

void Driver::on_goaway(int64_t id) {
  if (server_) return;
  going_away_ = true;
  goaway_id_ = id;
  for (auto& p : pending_) {
    if (p.response) p.response.complete(make_error_code(errc::going_away), ClientResponse());
    if (p.opened) p.opened.complete(make_error_code(errc::going_away), ClientRequest());
  }
  pending_.clear();
}

ptrdiff_t Driver::read_body(int64_t id, std::span<iovec> vec, bool& eof, bool& trailers) {
  const auto& s = find(id);  // nothing here reaches the engine
  if (!s) {
    eof = true;
    return 0;
  }
  size_t n = 0;
  while (n < vec.size() && s->given_index < s->out.size()) {
    const Buffer& b = s->out[s->given_index];
    vec[n++] = {const_cast<uint8_t*>(b.data()) + s->given_offset, b.size() - s->given_offset};
    ++s->given_index;
    s->given_offset = 0;
  }
  if (s->given_index == s->out.size() && s->finish_requested) {
    eof = true;
    trailers = s->has_trailers;
    s->eof_given = true;
    if (s->finish_waiter) s->finish_waiter.complete({});
  }
  if (n == 0 && !eof) return -1;  // the application has not written more yet
  return static_cast<ptrdiff_t>(n);
}

// ------------------------------------------------------------------ stream helpers

void Driver::credit(Stream& s, size_t n) {
  if (n == 0) return;
  s.uncredited -= std::min<uint64_t>(s.uncredited, n);
  if (conn_) {
    conn_->consume(s.id, n);
    wake();  // so a window update goes out
  }
}

std::span<const uint8_t> Driver::give_to_reader(const std::shared_ptr<Stream>& s,
                                                std::span<const uint8_t> data) {
  if (!s->read_some) return data;
  auto& r = *s->read_some;
  const size_t n = std::min(data.size(), r.buf.size() - r.filled);
  if (n > 0) {
    std::memcpy(static_cast<uint8_t*>(r.buf.data()) + r.filled, data.data(), n);
    if (r.filled == 0 && n < r.buf.size()) filling_.push_back(s);
    r.filled += n;
    credit(*s, n);
  }
  if (r.filled == r.buf.size()) finish_read_some(*s);
  return data.subspan(n);
}

void Driver::finish_read_some(Stream& s) {
  complete_read(s.read_some, std::error_code(), s.read_some->filled);
}

void Driver::complete_filled_reads() {
  for (const auto& s : filling_) {
    if (s->read_some && s->read_some->filled > 0) finish_read_some(*s);
    if (s->read_buffer && s->read_buffer->due) {
      s->read_buffer->due = false;  // still waiting if nothing is left (a body cleared by a reset)
      service_reads(s);
    }
  }
  filling_.clear();
}

void Driver::service_reads(const std::shared_ptr<Stream>& s) {
  const size_t avail = s->body.size();
  if (s->read_some) {
    auto& r = *s->read_some;
    if (r.filled > 0 && !s->read_stopped) {
      // Bytes this turn gave it come first; the end of the stream or its error waits for the
      // next read. (Nothing is in s.body then: a reader is filled only while it is empty.)
      finish_read_some(*s);
    } else if (avail > 0) {
      const size_t n = s->body.read({static_cast<uint8_t*>(r.buf.data()), r.buf.size()});
      credit(*s, n);
      complete_read(s->read_some, std::error_code(), n);
    } else if (const std::error_code end = body_end(*s)) {
      complete_read(s->read_some, end, size_t{0});
    }
  }
  if (s->read_buffer) {
    if (avail > 0) {
      Buffer b = s->body.take(s->read_buffer->max);
      credit(*s, b.size());
      complete_read(s->read_buffer, std::error_code(), std::move(b));
    } else if (const std::error_code end = body_end(*s)) {
      complete_read(s->read_buffer, end, Buffer());
    }
  }
  if (s->read_all) {
    auto& r = *s->read_all;
    if (avail > 0) {
      if (r.acc.size() + avail > r.limit) {
        complete_read(s->read_all, make_error_code(errc::body_too_large), std::string());
        stop_reading(s, kExcessiveLoad);
        return;
      }
      s->body.read_all(r.acc);
      credit(*s, avail);
    }
    if (const std::error_code end = body_end(*s)) {
      // The whole body at its end; nothing at an error.
      if (end == asio::error::eof) {
        complete_read(s->read_all, std::error_code(), std::move(r.acc));
      } else {
        complete_read(s->read_all, end, std::string());
      }
    }
  }
}

void Driver::service_writes(Stream& s) {
  std::error_code ec;
  // A writer learns of STOP_SENDING even when the stream also ended otherwise.
  if (s.stopped) {
    ec = make_error_code(errc::stream_stopped);
  } else if (s.error) {
    ec = s.error;
  } else if (s.write_reset) {
    ec = make_error_code(errc::stream_reset);
  }
  while (!s.write_waiters.empty() && (ec || s.queued <= settings_.body_send_buffer)) {
    auto c = std::move(s.write_waiters.front());
    s.write_waiters.pop_front();
    c.complete(ec);
  }
  if (ec && s.finish_waiter) s.finish_waiter.complete(ec);
}

void Driver::end_stream_with(const std::shared_ptr<Stream>& s, std::error_code ec) {
  if (ec && !s->error) s->error = ec;
  s->out.clear();
  s->given_index = s->given_offset = 0;
  service_reads(s);
  service_writes(*s);
  // The handle goes along with the error so that reset_code() tells why.
  if (s->response_waiter) {
    s->response_waiter.complete(s->error ? s->error : make_error_code(errc::stream_reset),
                                ClientOps::response(s));
  }
}

// ------------------------------------------------------------------ handle operations

void Driver::accept(Completion<void(std::error_code, ServerRequest, ServerResponse)> c) {
  if (!ready_.empty()) {
    auto s = std::move(ready_.front());
    ready_.pop_front();
    return c.complete({}, ServerOps::request(s), ServerOps::response(s));
  }
  if (closed_) return c.complete(close_error_, ServerRequest(), ServerResponse());
  accept_waiters_.push_back(std::move(c));
}

void Driver::set_request_fn(std::function<void(ServerRequest, ServerResponse)> fn) {
  if (closed_) return;  // its captures are released with it
  request_fn_ = std::move(fn);
  auto waiting = std::move(ready_);  // leaves ready_ empty
  for (auto& s : waiting)
    request_fn_(ServerOps::request(s), ServerOps::response(s));
}

void Driver::request(Fields f, std::optional<Buffer> body,
                     Completion<void(std::error_code, ClientResponse)> c) {
  if (closed_) return c.complete(close_error_, ClientResponse());
  if (going_away_) return c.complete(make_error_code(errc::going_away), ClientResponse());
  pending_.push_back({std::move(f), std::move(body), std::move(c), {}});
  try_open();
  wake();
}

void Driver::open(Fields f, Completion<void(std::error_code, ClientRequest)> c) {
  if (closed_) return c.complete(close_error_, ClientRequest());
  if (going_away_) return c.complete(make_error_code(errc::going_away), ClientRequest());
  pending_.push_back({std::move(f), std::nullopt, {}, std::move(c)});
  try_open();
  wake();
}

void Driver::try_open() {
  while (!pending_.empty() && conn_ && h3_ && !closed_) {
    // On 0-RTT keys only what is safe to replay goes; the rest, and what follows it (requests
    // keep their order), waits for the handshake.
    if (!conn_->is_established() && !fits_early_data(pending_.front())) return;
    std::error_code ec;
    const int64_t id = conn_->open_bidi_stream(ec);
    if (ec == errc::stream_limit) return;  // retried when the server raises its limit
    PendingOpen p = std::move(pending_.front());
    pending_.pop_front();
    if (ec) {
      if (p.response) p.response.complete(ec, ClientResponse());
      if (p.opened) p.opened.complete(ec, ClientRequest());
      continue;
    }
    auto s = std::make_shared<Stream>(shared_from_this(), id);
    streams_.emplace(id, s);
    s->early_data = !conn_->is_established();
    const bool streaming = static_cast<bool>(p.opened);
    const bool has_body = streaming || p.body.has_value();
    if (p.body) {
      s->queued = p.body->size();
      if (!p.body->empty()) s->out.push_back(std::move(*p.body));
      s->finish_requested = true;
    }
    s->sent_headers = std::move(p.fields);
    s->submitted = h3_->submit_request(id, s->sent_headers, has_body);
    if (!s->submitted) {
      const auto bad = make_error_code(errc::malformed_message);
      std::error_code ignored;
      conn_->stream_reset(id, kInternalError, ignored);
      forget(id);
      if (p.response) p.response.complete(bad, ClientResponse());
      if (p.opened) p.opened.complete(bad, ClientRequest());
      continue;
    }
    if (streaming) {
      p.opened.complete({}, ClientOps::request(s));
    } else {
      s->response_waiter = std::move(p.response);
    }
  }
}

void Driver::read_some(const std::shared_ptr<Stream>& s, asio::mutable_buffer buf,
                       Completion<void(std::error_code, size_t)> c) {
  if (s->reading()) {
    return c.complete(make_error_code(errc::invalid_argument), 0);  // one read at a time
  }
  s->read_some = Stream::ReadSome{buf, std::move(c)};
  service_reads(s);
}

void Driver::read_all(const std::shared_ptr<Stream>& s, size_t limit,
                      Completion<void(std::error_code, std::string)> c) {
  if (s->reading()) {
    return c.complete(make_error_code(errc::invalid_argument), std::string());
  }
  s->read_all = Stream::ReadAll{limit, {}, std::move(c)};
  service_reads(s);
}

void Driver::read_buffer(const std::shared_ptr<Stream>& s, size_t max,
                         Completion<void(std::error_code, Buffer)> c) {
  if (s->reading() || max == 0) {
    return c.complete(make_error_code(errc::invalid_argument), Buffer());
  }
  s->read_buffer = Stream::ReadBuffer{max, std::move(c)};
  service_reads(s);
}

std::error_code Driver::queue_body(const std::shared_ptr<Stream>& s, Buffer data) {
  if (s->stopped) return make_error_code(errc::stream_stopped);
  if (s->error) return s->error;
  if (s->finish_requested || s->write_reset) return make_error_code(errc::stream_finished);
  // Body bytes before the header section could never be sent.
  if (!s->submitted) return make_error_code(errc::invalid_argument);
  if (s->no_content) return {};
  if (!data.empty()) {
    s->queued += data.size();
    s->out.push_back(std::move(data));
  }
  if (h3_) {
    h3_->resume(s->id);
    wake();
  }
  return {};
}

void Driver::write(const std::shared_ptr<Stream>& s, Buffer data,
                   Completion<void(std::error_code)> c) {
  // Queued, or dropped when the response may carry no content: nothing to wait for then.
  if (auto ec = queue_body(s, std::move(data)); ec || s->no_content) return c.complete(ec);
  s->write_waiters.push_back(std::move(c));
  service_writes(*s);
}

void Driver::respond(const std::shared_ptr<Stream>& s, int status, Fields fields, Buffer body,
                     Completion<void(std::error_code)> c) {
  if (auto ec = submit_headers(s, status, std::move(fields))) return c.complete(ec);
  if (auto ec = queue_body(s, std::move(body))) return c.complete(ec);
  finish(s, {}, std::move(c));
}

void Driver::finish(const std::shared_ptr<Stream>& s, Fields trailers,
                    Completion<void(std::error_code)> c) {
  if (s->stopped) return c.complete(make_error_code(errc::stream_stopped));
  if (s->error) return c.complete(s->error);
  if (s->finish_requested || s->write_reset)
    return c.complete(make_error_code(errc::stream_finished));
  if (!s->submitted) return c.complete(make_error_code(errc::invalid_argument));  // no headers yet
  s->finish_requested = true;
  if (s->no_content) return c.complete({});  // the headers ended the stream
  s->finish_waiter = std::move(c);
  if (!trailers.empty()) {
    s->has_trailers = true;
    s->sent_trailers = std::move(trailers);
    if (!h3_->submit_trailers(s->id, s->sent_trailers)) {
      s->finish_waiter.complete(make_error_code(errc::malformed_message));
      return reset_stream(s, kInternalError);
    }
  }
  h3_->resume(s->id);
  wake();
}

void Driver::send_headers(const std::shared_ptr<Stream>& s, int status, Fields fields,
                          Completion<void(std::error_code)> c) {
  c.complete(submit_headers(s, status, std::move(fields)));
}

std::error_code Driver::submit_headers(const std::shared_ptr<Stream>& s, int status,
                                       Fields fields) {
  if (s->error) return s->error;
  if (!server_ || s->submitted || status < 100 || status > 999) {
    return make_error_code(errc::invalid_argument);
  }
  if (s->stopped || s->write_reset) return make_error_code(errc::stream_stopped);
  // Responses to HEAD, and 204 and 304 ones, have no content (RFC 9110 §6.4.1): DATA on them
  // is malformed for the client. A handler's body for them is dropped instead.
  if (status >= 200) {
    s->no_content = status == 204 || status == 304 || h3::find(s->headers, ":method") == "HEAD";
  }
  bool ok;
  if (status < 200) {
    ok = h3_->submit_info(s->id, status, fields);
  } else {
    s->sent_headers = std::move(fields);
    ok = h3_->submit_response(s->id, status, s->sent_headers, !s->no_content);
  }
  if (!ok) return make_error_code(errc::malformed_message);
  if (status >= 200) s->submitted = true;
  wake();
  return {};
}

void Driver::response(const std::shared_ptr<Stream>& s,
                      Completion<void(std::error_code, ClientResponse)> c) {
  if (s->headers_done) return c.complete({}, ClientOps::response(s));
  if (s->error) return c.complete(s->error, ClientOps::response(s));
  s->response_waiter = std::move(c);
}

void Driver::reset_stream(const std::shared_ptr<Stream>& s, uint64_t code) {
  if (s->write_reset || s->closed || !conn_) return;
  s->write_reset = true;
  std::error_code ignored;
  if (h3_) h3_->shutdown_write(s->id);
  conn_->stream_reset(s->id, code, ignored);
  s->out.clear();
  s->given_index = s->given_offset = 0;
  s->queued = 0;
  service_writes(*s);
  wake();
}

void Driver::stop_reading(const std::shared_ptr<Stream>& s, uint64_t code) {
  if (s->read_stopped || s->fin || s->closed || !conn_) return;
  s->read_stopped = true;
  std::error_code ignored;
  shutdown_engine_read(s->id);
  conn_->stream_stop_sending(s->id, code, ignored);
  credit(*s, static_cast<size_t>(s->uncredited));
  s->body.clear();
  service_reads(s);  // reads waiting for the abandoned body end now
  wake();
}

void Driver::set_priority(const std::shared_ptr<Stream>& s, const Priority& p) {
  if (h3_ && !s->closed) h3_->set_priority(s->id, p);
}

Priority Driver::priority(const Stream& s) const {
  return h3_ && !s.closed ? h3_->priority(s.id) : Priority{};
}

void Driver::complete_response(const std::shared_ptr<Stream>& s) {
  if (s->error || s->write_reset || s->stopped) return;
  if (!s->submitted) {
    send_headers(s, 500, {{"content-length", "0"}}, {});
  }
  if (s->submitted && !s->finish_requested) finish(s, {}, {});
  // A request body nobody read: tell the client to stop (RFC 9114 §4.1.1, H3_NO_ERROR).
  if (!s->fin && !s->reset) stop_reading(s, kNoError);
}

void Driver::shutdown(std::chrono::milliseconds drain) {
  if (shutting_down_ || closed_) return;
  shutting_down_ = true;
  if (!server_) {
    // A client has no GOAWAY of its own to send: refuse new requests, let the running ones end.
    going_away_ = true;
    goaway_final_ = true;
    maybe_finish_shutdown();
    return;
  }
  drain_ = drain;
  // GOAWAY goes on the control stream, which on_established binds: requests that arrived with
  // the handshake's last flight may get here first (the request limit), or the handshake may
  // still be running (Server::shutdown).
  if (control_bound_) send_goaway();
}

void Driver::send_goaway() {
  h3_->submit_shutdown_notice();
  wake();
  timer_ = std::make_unique<asio::steady_timer>(ex_, kGoawayGap);
  timer_->async_wait([w = weak_from_this(), drain = drain_](const asio::error_code& e) {
    auto self = w.lock();
    if (e || !self || self->closed_) return;
    self->h3_->shutdown();
    self->goaway_final_ = true;
    self->wake();
    self->maybe_finish_shutdown();
    // Requests still running after the drain period are cut off.
    self->timer_->expires_after(drain);
    self->timer_->async_wait([w](const asio::error_code& e2) {
      auto me = w.lock();
      if (!e2 && me && !me->closed_) me->close(kNoError);
    });
  });
}

size_t Driver::active_requests() const {
  size_t n = 0;
  for (const auto& [id, s] : streams_)
    n += is_request_stream(id) && !s->rejected;
  return n;
}

void Driver::maybe_finish_shutdown() {
  if (goaway_final_ && !closed_ && conn_ && active_requests() == 0) {
    conn_->close(kNoError, "graceful shutdown");
    // Called outside a turn too (a client's shutdown() with no request running): the close
    // goes out in the next turn, which nothing else would bring before the idle timeout.
    wake();
  }
}

void Driver::close(uint64_t code) {
  if (conn_ && !closed_) {
    conn_->close(code);
    wake();
  }
}

}  // namespace asioquic::h3::detail
