#include "h3/received_body.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace asioquic::h3::detail {

void ReceivedBody::append(std::span<const uint8_t> data) {
  size_ += data.size();
  while (!data.empty()) {
    if (blocks_.empty() || blocks_.back()->size() == blocks_.back()->capacity()) {
      Block block = spare_ ? std::move(spare_) : std::make_shared<std::vector<uint8_t>>();
      spare_.reset();
      block->clear();
      if (block->capacity() < next_block_) block->reserve(next_block_);
      next_block_ = std::min(next_block_ * 2, kMaxBlock);
      blocks_.push_back(std::move(block));
    }
    auto& last = *blocks_.back();
    const size_t n = std::min(data.size(), last.capacity() - last.size());
    last.insert(last.end(), data.begin(), data.begin() + static_cast<std::ptrdiff_t>(n));
    data = data.subspan(n);
  }
}

void ReceivedBody::drop_front_block() {
  // Kept for reuse only when it is a full-sized block (a small one would make the next block
  // small too) that no Buffer has shared: one may still be read, on any thread.
  Block& front = blocks_.front();
  if (front->capacity() >= kMaxBlock && !front_shared_) spare_ = std::move(front);
  blocks_.pop_front();
  front_off_ = 0;
  front_shared_ = false;
}

void ReceivedBody::consume_front(size_t n) {
  front_off_ += n;
  size_ -= n;
  if (front_off_ == blocks_.front()->size()) drop_front_block();
}

size_t ReceivedBody::read(std::span<uint8_t> dst) {
  size_t done = 0;
  while (done < dst.size() && !blocks_.empty()) {
    const auto& front = *blocks_.front();
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
    const auto& front = *blocks_.front();
    out.append(reinterpret_cast<const char*>(front.data()) + front_off_, front.size() - front_off_);
    drop_front_block();
  }
  size_ = 0;
}

Buffer ReceivedBody::take(size_t max) {
  if (blocks_.empty() || max == 0) return {};
  const Block& front = blocks_.front();
  const size_t n = std::min(front->size() - front_off_, max);
  Buffer b = Buffer::shared(front, {front->data() + front_off_, n});
  front_shared_ = true;
  consume_front(n);
  return b;
}

void ReceivedBody::clear() {
  blocks_.clear();
  front_off_ = 0;
  front_shared_ = false;
  size_ = 0;
}

}  // namespace asioquic::h3::detail
