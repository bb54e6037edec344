#include "quic/stream_table.hpp"

#include <algorithm>
#include <cstring>

#include "asioquic/error.hpp"

namespace asioquic::quic {
namespace {

constexpr size_t kBlockSize = 16 * 1024;
constexpr size_t kMaxPooledBlocks = 512;  // 8 MiB per thread at most
constexpr size_t kMaxIov = 16;
// A drained receive buffer keeps its capacity up to this much, so a busy stream does not
// reallocate per packet while an idle one holds little.
constexpr size_t kKeepRecvCapacity = 64 * 1024;

std::vector<std::unique_ptr<uint8_t[]>>& block_pool() {
  thread_local std::vector<std::unique_ptr<uint8_t[]>> pool;
  return pool;
}

}  // namespace

StreamTable::~StreamTable() {
  clear();
}

void StreamTable::clear() {
  for (auto& [id, s] : streams_) {
    for (auto& c : s.chunks) {
      if (c.block) give_block(std::move(c.block));
    }
  }
  streams_.clear();
  send_list_.clear();
  readable_.clear();
}

std::unique_ptr<uint8_t[]> StreamTable::take_block() {
  auto& pool = block_pool();
  if (pool.empty()) return std::unique_ptr<uint8_t[]>(new uint8_t[kBlockSize]);
  auto b = std::move(pool.back());
  pool.pop_back();
  return b;
}

void StreamTable::give_block(std::unique_ptr<uint8_t[]> b) {
  auto& pool = block_pool();
  if (pool.size() < kMaxPooledBlocks) pool.push_back(std::move(b));
}

void StreamTable::open(int64_t id) {
  streams_.try_emplace(id);
}

StreamTable::Stream* StreamTable::find(int64_t id) {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

const StreamTable::Stream* StreamTable::find(int64_t id) const {
  auto it = streams_.find(id);
  return it == streams_.end() ? nullptr : &it->second;
}

StreamTable::Stream& StreamTable::get(int64_t id) {
  return streams_[id];
}

size_t StreamTable::capacity(int64_t id) const noexcept {
  const Stream* s = find(id);
  if (!s || s->fin_queued || s->send_abandoned) return 0;
  const size_t q = queued(*s);
  return q >= send_limit_ ? 0 : send_limit_ - q;
}

size_t StreamTable::send(int64_t id, std::span<const uint8_t> data, bool fin, std::error_code& ec) {
  Stream* s = find(id);
  if (!s) {
    ec = make_error_code(errc::stream_not_found);
    return 0;
  }
  if (s->stopped_by_peer) {
    ec = make_error_code(errc::stream_stopped);
    return 0;
  }
  if (s->fin_queued || s->send_abandoned) {
    ec = make_error_code(errc::stream_finished);
    return 0;
  }
  const size_t take = std::min(data.size(), capacity(id));
  if (take == 0 && !data.empty()) {
    ec = make_error_code(errc::would_block);
    return 0;
  }
  size_t done = 0;
  while (done < take) {
    // A new block unless the tail is a pooled block with room (a Buffer's chunk has cap 0).
    if (s->chunks.empty() || s->chunks.back().size >= s->chunks.back().cap) {
      Chunk c;
      c.block = take_block();
      c.data = c.block.get();
      c.cap = kBlockSize;
      s->chunks.push_back(std::move(c));
    }
    Chunk& tail = s->chunks.back();
    const size_t n = std::min(take - done, tail.cap - tail.size);
    std::memcpy(tail.block.get() + tail.size, data.data() + done, n);
    tail.size += n;
    done += n;
  }
  s->end += take;
  if (fin && take == data.size()) s->fin_queued = true;
  schedule(id, *s);
  return take;
}

void StreamTable::send(int64_t id, Buffer buf, bool fin, std::error_code& ec) {
  Stream* s = find(id);
  if (!s) {
    ec = make_error_code(errc::stream_not_found);
    return;
  }
  if (s->stopped_by_peer) {
    ec = make_error_code(errc::stream_stopped);
    return;
  }
  if (s->fin_queued || s->send_abandoned) {
    ec = make_error_code(errc::stream_finished);
    return;
  }
  // A buffer larger than the limit is still accepted on an empty stream, or it could never go.
  if (queued(*s) > 0 && buf.size() > capacity(id)) {
    ec = make_error_code(errc::would_block);
    return;
  }
  const size_t n = buf.size();
  if (n > 0) {
    Chunk c;
    c.data = buf.data();
    c.size = n;
    c.external = std::move(buf);
    s->chunks.push_back(std::move(c));
  }
  s->end += n;
  if (fin) s->fin_queued = true;
  schedule(id, *s);
}

void StreamTable::schedule(int64_t id, Stream& s) {
  const bool pending = s.written < s.end || (s.fin_queued && !s.fin_written);
  if (pending && !s.in_send_list && !s.send_blocked && !s.send_abandoned) {
    s.in_send_list = true;
    send_list_.push_back(id);
  }
}

void StreamTable::abandon_send(int64_t id, bool by_peer) {
  Stream* s = find(id);
  if (!s) return;
  s->send_abandoned = true;
  s->stopped_by_peer = s->stopped_by_peer || by_peer;
  for (auto& c : s->chunks) {
    if (c.block) give_block(std::move(c.block));
  }
  s->chunks.clear();
  s->base = s->written = s->end;
}

bool StreamTable::next(StreamChunk& out) {
  while (!send_list_.empty()) {
    const int64_t id = send_list_.front();
    Stream* s = find(id);
    if (!s || s->send_blocked || s->send_abandoned ||
        !(s->written < s->end || (s->fin_queued && !s->fin_written))) {
      send_list_.pop_front();
      if (s) s->in_send_list = false;
      continue;
    }
    // Gather iovecs from the first unsent byte.
    iov_.clear();
    uint64_t off = s->base;
    for (const Chunk& c : s->chunks) {
      if (iov_.size() == kMaxIov) break;
      const uint64_t chunk_end = off + c.size;
      if (chunk_end > s->written) {
        const size_t skip = s->written > off ? static_cast<size_t>(s->written - off) : 0;
        iov_.push_back({const_cast<uint8_t*>(c.data) + skip, c.size - skip});
      }
      off = chunk_end;
    }
    out.stream_id = id;
    out.iov = iov_.data();
    out.iovcnt = iov_.size();
    out.fin = s->fin_queued && off == s->end;
    return true;
  }
  return false;
}

void StreamTable::written(int64_t id, size_t n, bool fin) {
  Stream* s = find(id);
  if (!s) return;
  s->written += n;
  if (fin) s->fin_written = true;
  // Round robin: a stream with more to send goes to the back of the line.
  if (!send_list_.empty() && send_list_.front() == id) {
    send_list_.pop_front();
    s->in_send_list = false;
  }
  schedule(id, *s);
}

void StreamTable::blocked(int64_t id) {
  Stream* s = find(id);
  if (!s) return;
  s->send_blocked = true;
  if (!send_list_.empty() && send_list_.front() == id) {
    send_list_.pop_front();
    s->in_send_list = false;
  }
}

void StreamTable::unblocked(int64_t id) {
  Stream* s = find(id);
  if (!s) return;
  s->send_blocked = false;
  schedule(id, *s);
}

void StreamTable::acked(int64_t id, uint64_t offset, uint64_t len) {
  Stream* s = find(id);
  if (!s) return;
  const uint64_t ack_end = offset + len;
  while (!s->chunks.empty()) {
    Chunk& c = s->chunks.front();
    if (s->base + c.size > ack_end) break;
    // A pooled block that is still the tail may receive more bytes: keep it, refilled from its
    // start, so acknowledged bytes no longer count against the send limit.
    if (c.cap > c.size && s->chunks.size() == 1) {
      s->base += c.size;
      c.size = 0;
      break;
    }
    s->base += c.size;
    if (c.block) give_block(std::move(c.block));
    s->chunks.pop_front();
  }
}

void StreamTable::on_data(int64_t id, std::span<const uint8_t> data, bool fin) {
  Stream& s = get(id);
  if (s.reading_stopped) return;
  if (!data.empty()) {
    if (s.recv_off == s.recv.size()) {
      s.recv.clear();
      s.recv_off = 0;
    } else if (s.recv_off > s.recv.size() / 2) {
      s.recv.erase(s.recv.begin(), s.recv.begin() + static_cast<ptrdiff_t>(s.recv_off));
      s.recv_off = 0;
    }
    s.recv.insert(s.recv.end(), data.begin(), data.end());
  }
  if (fin) s.fin_received = true;
  make_readable(id, s);
}

void StreamTable::on_reset(int64_t id, uint64_t code) {
  Stream& s = get(id);
  s.reset_received = true;
  s.reset_code = code;
  s.recv.clear();
  s.recv_off = 0;
  make_readable(id, s);
}

void StreamTable::make_readable(int64_t id, Stream& s) {
  if (!s.in_readable) {
    s.in_readable = true;
    readable_.push_back(id);
  }
}

std::optional<int64_t> StreamTable::next_readable() {
  while (!readable_.empty()) {
    const int64_t id = readable_.front();
    readable_.pop_front();
    if (Stream* s = find(id)) {
      s->in_readable = false;
      return id;
    }
  }
  return std::nullopt;
}

size_t StreamTable::recv(int64_t id, std::span<uint8_t> out, bool& fin, std::error_code& ec,
                         uint64_t* reset_code) {
  fin = false;
  Stream* s = find(id);
  if (!s) {
    ec = make_error_code(errc::stream_not_found);
    return 0;
  }
  if (s->reset_received) {
    if (reset_code) *reset_code = s->reset_code;
    ec = make_error_code(errc::stream_reset);
    s->fin_read = true;  // nothing more will come
    maybe_forget(id, *s);
    return 0;
  }
  const size_t avail = s->recv.size() - s->recv_off;
  const size_t n = std::min(avail, out.size());
  if (n) std::memcpy(out.data(), s->recv.data() + s->recv_off, n);
  s->recv_off += n;
  if (s->recv_off == s->recv.size()) {
    s->recv.clear();
    s->recv_off = 0;
    if (s->recv.capacity() > kKeepRecvCapacity) s->recv.shrink_to_fit();
    if (s->fin_received) {
      fin = true;
      s->fin_read = true;
      maybe_forget(id, *s);
    }
  }
  return n;
}

size_t StreamTable::stop_reading(int64_t id) {
  Stream* s = find(id);
  if (!s) return 0;
  const size_t dropped = s->recv.size() - s->recv_off;
  s->reading_stopped = true;
  s->recv.clear();
  s->recv.shrink_to_fit();
  s->recv_off = 0;
  s->fin_read = true;
  maybe_forget(id, *s);
  return dropped;
}

bool StreamTable::is_reading_stopped(int64_t id) const {
  const Stream* s = find(id);
  return s && s->reading_stopped;
}

void StreamTable::on_closed(int64_t id) {
  Stream* s = find(id);
  if (!s) return;
  s->engine_closed = true;
  maybe_forget(id, *s);
}

void StreamTable::maybe_forget(int64_t id, Stream& s) {
  if (!s.engine_closed) return;
  // Locally opened unidirectional streams have no receive side to drain.
  const bool recv_done =
      s.fin_read || s.reading_stopped || (s.recv.empty() && !s.fin_received && !s.reset_received);
  if (!recv_done) return;
  for (auto& c : s.chunks) {
    if (c.block) give_block(std::move(c.block));
  }
  streams_.erase(id);  // stale ids left in send_list_/readable_ are skipped by lookup
}

std::vector<StreamTable::Pending> StreamTable::take_unread() {
  std::vector<Pending> out;
  for (auto& [id, s] : streams_) {
    const bool has_bytes = s.recv.size() > s.recv_off;
    if (!has_bytes && !(s.fin_received && !s.fin_read)) continue;
    Pending p{
        id, {s.recv.begin() + static_cast<ptrdiff_t>(s.recv_off), s.recv.end()}, s.fin_received};
    s.recv.clear();
    s.recv_off = 0;
    s.fin_received = false;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const Pending& a, const Pending& b) { return a.id < b.id; });
  return out;
}

}  // namespace asioquic::quic
