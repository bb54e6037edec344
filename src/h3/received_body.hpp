// ReceivedBody: the body bytes of a stream received and not yet read, in blocks. async_read_buffer
// gets Buffers that share a block (no copy); async_read_some and async_read_all copy out. A
// backlog never moves bytes that are already stored.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "asioquic/buffer.hpp"
#include "core/fifo.hpp"

namespace asioquic::h3::detail {

class ReceivedBody {
 public:
  /// Blocks start at kFirstBlock bytes, so a small body costs little, and double up to
  /// kMaxBlock, the most one async_read_buffer takes without a copy.
  static constexpr size_t kFirstBlock = 4 * 1024;
  static constexpr size_t kMaxBlock = 64 * 1024;

  /// Unread bytes.
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// Stores a copy of `data` after what is stored: in the last block while it has room, then in
  /// new blocks.
  void append(std::span<const uint8_t> data);
  /// Copies up to `dst.size()` bytes from the front into `dst` and drops them; returns how many.
  size_t read(std::span<uint8_t> dst);
  /// Appends every unread byte to `out` and drops them.
  void read_all(std::string& out);
  /// Up to `max` (> 0) bytes from the front, at most the rest of the front block, dropped from
  /// here. The Buffer shares the block, with no copy, and keeps all of it alive until released.
  /// Empty if nothing is stored.
  Buffer take(size_t max);
  /// Drops everything.
  void clear();

 private:
  /// Drops `n` bytes read from the front block, and the block once it is read to its end.
  void consume_front(size_t n);
  void drop_front_block();

  // Shared so that a Buffer can own a part of a block. Bytes handed out are never written again:
  // appends only fill a block's unused capacity, which never reallocates.
  using Block = std::shared_ptr<std::vector<uint8_t>>;

  asioquic::detail::Fifo<Block> blocks_;
  size_t front_off_ = 0;       // bytes of blocks_.front() already read
  bool front_shared_ = false;  // a Buffer shares blocks_.front()
  size_t size_ = 0;
  size_t next_block_ = kFirstBlock;
  Block spare_;  // a block read to its end and never shared, kept for the next append
};

}  // namespace asioquic::h3::detail
