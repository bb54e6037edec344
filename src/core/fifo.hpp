// Fifo: a first-in-first-out queue over one std::vector.
//
// std::deque allocates its map and a first block as soon as it is constructed; a stream's
// queues are mostly empty or hold one element, so this one allocates only on its first push
// and reuses that storage once drained.
#pragma once

#include <algorithm>
#include <cstddef>
#include <utility>
#include <vector>

namespace asioquic::detail {

template <typename T>
class Fifo {
 public:
  Fifo() = default;
  /// A moved-from Fifo is empty (the vector's own move leaves that unspecified, and the front
  /// index would otherwise outlive the elements it pointed into).
  Fifo(Fifo&& other) noexcept : items_(std::move(other.items_)), head_(other.head_) {
    other.clear();
  }
  Fifo& operator=(Fifo&& other) noexcept {
    if (this != &other) {
      items_ = std::move(other.items_);
      head_ = other.head_;
      other.clear();
    }
    return *this;
  }

  bool empty() const noexcept { return head_ == items_.size(); }
  size_t size() const noexcept { return items_.size() - head_; }

  /// The i-th element from the front; requires i < size().
  T& operator[](size_t i) noexcept { return items_[head_ + i]; }
  const T& operator[](size_t i) const noexcept { return items_[head_ + i]; }
  T& front() noexcept { return items_[head_]; }
  const T& front() const noexcept { return items_[head_]; }
  T& back() noexcept { return items_.back(); }
  const T& back() const noexcept { return items_.back(); }

  /// Iteration from the front; invalidated by push_back, pop_front and erase.
  auto begin() noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() noexcept { return items_.end(); }
  auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const noexcept { return items_.end(); }

  void push_back(T v) { items_.push_back(std::move(v)); }
  template <typename... Args>
  T& emplace_back(Args&&... args) {
    return items_.emplace_back(std::forward<Args>(args)...);
  }

  /// Removes the front element; requires !empty().
  void pop_front() {
    items_[head_] = T();  // release what it holds now, not when the queue is compacted
    if (++head_ == items_.size()) {
      clear();
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

  /// Removes every element equal to `v`, keeping the others' order.
  void erase(const T& v) {
    items_.erase(std::remove(begin(), end(), v), items_.end());
    if (empty()) clear();
  }

  void swap(Fifo& other) noexcept {
    items_.swap(other.items_);
    std::swap(head_, other.head_);
  }

  void clear() noexcept {
    items_.clear();
    head_ = 0;
  }

 private:
  // Popped slots are reclaimed once they are many and at least half the vector.
  static constexpr size_t kCompactAfter = 16;

  std::vector<T> items_;
  size_t head_ = 0;
};

}  // namespace asioquic::detail
