// Buffer: bytes handed to the transport for sending, kept alive until the peer acknowledges them.
//
// QUIC may retransmit any byte until it is acknowledged, so stream data must stay valid that
// long. A Buffer either owns its bytes (copy(), take()) or keeps an owner alive (shared()), so a
// body already in memory is sent with no copy besides the engine's own into the packet.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace asioquic {

class Buffer {
 public:
  Buffer() = default;
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;

  /// Copies `bytes` into a new allocation.
  static Buffer copy(std::span<const uint8_t> bytes) {
    auto h = std::make_unique<Owned<std::unique_ptr<uint8_t[]>>>(
        std::unique_ptr<uint8_t[]>(new uint8_t[bytes.size() ? bytes.size() : 1]));
    if (!bytes.empty()) std::memcpy(h->value.get(), bytes.data(), bytes.size());
    const uint8_t* p = h->value.get();
    return Buffer(p, bytes.size(), std::move(h));  // p is read before h is moved from
  }
  static Buffer copy(std::string_view s) {
    return copy({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
  }
  /// Takes ownership of a vector or string without copying.
  static Buffer take(std::vector<uint8_t>&& v) {
    auto h = std::make_unique<Owned<std::vector<uint8_t>>>(std::move(v));
    const uint8_t* p = h->value.data();
    const size_t n = h->value.size();
    return Buffer(p, n, std::move(h));
  }
  /// Takes ownership of an array whose first `n` bytes are the contents, without copying. For
  /// memory filled in place (`new uint8_t[n]` is not zeroed, as a vector's elements would be).
  static Buffer take(std::unique_ptr<uint8_t[]>&& bytes, size_t n) {
    auto h = std::make_unique<Owned<std::unique_ptr<uint8_t[]>>>(std::move(bytes));
    const uint8_t* p = h->value.get();
    return Buffer(p, n, std::move(h));
  }
  static Buffer take(std::string&& s) {
    auto h = std::make_unique<Owned<std::string>>(std::move(s));
    const auto* p = reinterpret_cast<const uint8_t*>(h->value.data());
    const size_t n = h->value.size();
    return Buffer(p, n, std::move(h));
  }
  /// Refers to `bytes` inside memory that `owner` keeps alive; the owner is released once the
  /// peer has acknowledged every byte (or the stream is reset or the connection closed).
  static Buffer shared(std::shared_ptr<const void> owner, std::span<const uint8_t> bytes) {
    auto h = std::make_unique<Owned<std::shared_ptr<const void>>>(std::move(owner));
    return Buffer(bytes.data(), bytes.size(), std::move(h));
  }

  const uint8_t* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::span<const uint8_t> bytes() const noexcept { return {data_, size_}; }

 private:
  struct Holder {
    virtual ~Holder() = default;
  };
  template <typename T>
  struct Owned final : Holder {
    explicit Owned(T v) : value(std::move(v)) {}
    T value;
  };

  Buffer(const uint8_t* d, size_t n, std::unique_ptr<Holder> h)
      : data_(d), size_(n), holder_(std::move(h)) {}

  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::unique_ptr<Holder> holder_;
};

}  // namespace asioquic
