#include "h3/received_body.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace asioquic::h3::detail {

void ReceivedBody::append(std::span<const uint8_t> data) {
  size_ += data.size();
  while (!data.empty()) {
    if (blocks_.empty() || blocks_.back().size() == blocks_.back().capacity()) {
      std::vector<uint8_t> block = std::move(spare_);
      spare_ = {};
      block.clear();
      if (block.capacity() < next_block_) block.reserve(next_block_);
      next_block_ = std::min(next_block_ * 2, kMaxBlock);
      blocks_.push_back(std::move(block));
    }
    auto& last = blocks_.back();
    const size_t n = std::min(data.size(), last.capacity() - last.size());
    last.insert(last.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
  }
}

void ReceivedBody::drop_front_block() {
  // Kept for reuse only when it is a full-sized block: a small one would make the next block
  // small too.
  if (blocks_.front().capacity() >= kMaxBlock) spare_ = std::move(blocks_.front());
  blocks_.pop_front();
  front_off_ = 0;
}

void ReceivedBody::consume_front(size_t n) {
  front_off_ += n;
  size_ -= n;
  if (front_off_ == blocks_.front().size()) drop_front_block();
}

size_t ReceivedBody::read(std::span<uint8_t> dst) {
  size_t done = 0;
  while (done < dst.size() && !blocks_.empty()) {
    const auto& front = blocks_.front();
    const size_t n = std::min(dst.size() - done, front.size() - front_off_);
    std::memcpy(dst.data() + done, front.data() + front_off_, n);
    done += n;
    consume_front(n);
  }
  return done;
}

void ReceivedBody::read_all(std::string& out) {
  out.reserve(out.size() + size_);
  while (!blocks_.empty()) {
    const auto& front = blocks_.front();
    out.append(reinterpret_cast<const char*>(front.data()) + front_off_, front.size() - front_off_);
    drop_front_block();
  }
  size_ = 0;
}

Buffer ReceivedBody::take(size_t max) {
  if (blocks_.empty() || max == 0) return {};
  auto& front = blocks_.front();
  const size_t unread = front.size() - front_off_;
  if (front_off_ == 0 && unread <= max) {
    Buffer b = Buffer::take(std::move(front));
    blocks_.pop_front();
    size_ -= unread;
    return b;
  }
  Buffer b = Buffer::copy({front.data() + front_off_, std::min(unread, max)});
  consume_front(b.size());
  return b;
}

void ReceivedBody::clear() {
  blocks_.clear();
  front_off_ = 0;
  size_ = 0;
}

}  // namespace asioquic::h3::detail
