// StreamTable: a connection's own stream buffers, used when the application works through
// Connection::stream_send / stream_recv rather than its own SendSource and on_stream_data.
//
// Send side: queued bytes stay until acknowledged (QUIC retransmits from them), so the engine
// needs no copy of its own; small writes are packed into pooled 16 KiB blocks and Buffers are
// queued as they are. Receive side: bytes are appended to a per-stream buffer until read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <sys/uio.h>

#include "asioquic/application.hpp"
#include "asioquic/buffer.hpp"
#include "core/fifo.hpp"

namespace asioquic::quic {

class StreamTable final : public SendSource {
 public:
  explicit StreamTable(size_t send_limit) : send_limit_(send_limit) {}
  ~StreamTable() override;

  /// Forgets every stream and what it held (the engine dropped them: early data rejected).
  void clear();

  /// Registers a stream (opened by us or the peer). Idempotent.
  void open(int64_t id);
  bool contains(int64_t id) const { return streams_.count(id) != 0; }

  // ----- send
  /// See Connection::stream_send. Returns bytes taken.
  size_t send(int64_t id, std::span<const uint8_t> data, bool fin, std::error_code& ec);
  void send(int64_t id, Buffer buf, bool fin, std::error_code& ec);
  size_t capacity(int64_t id) const noexcept;
  /// The peer sent STOP_SENDING, or we reset the stream: drop what is queued.
  void abandon_send(int64_t id, bool by_peer);
  /// True if some stream has bytes or a FIN ready for the engine.
  bool has_pending() const noexcept { return !send_list_.empty(); }

  // SendSource
  bool next(StreamChunk& out) override;
  void written(int64_t id, size_t n, bool fin) override;
  void blocked(int64_t id) override;
  void unblocked(int64_t id) override;
  void acked(int64_t id, uint64_t offset, uint64_t len) override;

  // ----- receive
  /// Appends in-order bytes; returns false if the stream is unknown and cannot be created.
  void on_data(int64_t id, std::span<const uint8_t> data, bool fin);
  void on_reset(int64_t id, uint64_t code);
  /// Reads buffered bytes. Returns the count; `consumed` is what to credit to flow control.
  size_t recv(int64_t id, std::span<uint8_t> out, bool& fin, std::error_code& ec,
              uint64_t* reset_code);
  /// We stopped reading (STOP_SENDING sent): drops unread bytes and returns how many, so the
  /// caller can credit them; later data is dropped by on_data and credited the same way.
  size_t stop_reading(int64_t id);
  bool is_reading_stopped(int64_t id) const;
  std::optional<int64_t> next_readable();

  /// The engine closed the stream; forget it once nothing is left for the application.
  void on_closed(int64_t id);

  /// Moves out every stream's unread bytes (for an application attached after data arrived).
  struct Pending {
    int64_t id;
    std::vector<uint8_t> bytes;
    bool fin;
  };
  std::vector<Pending> take_unread();

 private:
  struct Chunk {
    const uint8_t* data = nullptr;
    size_t size = 0;
    size_t cap = 0;                    // > 0: a pooled block we may append to
    std::unique_ptr<uint8_t[]> block;  // pooled block storage
    Buffer external;                   // or a caller's buffer
  };
  struct Stream {
    asioquic::detail::Fifo<Chunk> chunks;
    uint64_t base = 0;     // stream offset of chunks.front()
    uint64_t written = 0;  // offset handed to the engine
    uint64_t end = 0;      // offset after the last queued byte
    bool fin_queued = false;
    bool fin_written = false;
    bool send_blocked = false;
    bool in_send_list = false;
    bool send_abandoned = false;
    bool stopped_by_peer = false;
    std::vector<uint8_t> recv;
    size_t recv_off = 0;
    bool fin_received = false;
    bool fin_read = false;
    bool reset_received = false;
    uint64_t reset_code = 0;
    bool reading_stopped = false;
    bool in_readable = false;
    bool engine_closed = false;
  };

  Stream* find(int64_t id);
  const Stream* find(int64_t id) const;
  Stream& get(int64_t id);
  void schedule(int64_t id, Stream& s);
  void make_readable(int64_t id, Stream& s);
  void maybe_forget(int64_t id, Stream& s);
  size_t queued(const Stream& s) const noexcept { return static_cast<size_t>(s.end - s.base); }
  std::unique_ptr<uint8_t[]> take_block();
  void give_block(std::unique_ptr<uint8_t[]> b);

  size_t send_limit_;
  std::unordered_map<int64_t, Stream> streams_;
  asioquic::detail::Fifo<int64_t> send_list_;
  asioquic::detail::Fifo<int64_t> readable_;
  std::vector<iovec> iov_;
};

}  // namespace asioquic::quic
