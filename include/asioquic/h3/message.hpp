// Bodies of HTTP/3 messages: BodyReader (incoming) and BodyWriter (outgoing), shared by the
// server and client sides.
//
// Both are handles to one stream of a connection: copyable, usable from any thread (operations
// are posted to the connection's executor), and valid after the connection ends (operations
// then fail with errc::connection_closed). Completion handlers never run inline.
//
// Back-pressure both ways: the reader grants the peer flow-control credit only for bytes it has
// read, so a slow reader stops the sender instead of buffering without bound; the writer's
// async_write completes only when the stream holds less than Settings::body_send_buffer.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <system_error>

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/buffer.hpp>

#include "asioquic/buffer.hpp"
#include "asioquic/detail/completion.hpp"
#include "asioquic/error.hpp"
#include "asioquic/h3/fields.hpp"
#include "asioquic/h3/settings.hpp"

namespace asioquic::h3 {

namespace detail {
class Stream;
/// Entry points of the asynchronous operations (src/h3/stream_ops.cpp).
struct Ops {
  static asio::any_io_executor executor(const std::shared_ptr<Stream>& s);
  static void read_some(const std::shared_ptr<Stream>& s, asio::mutable_buffer buf,
                        asioquic::detail::Completion<void(std::error_code, size_t)> c);
  static void read_all(const std::shared_ptr<Stream>& s, size_t limit,
                       asioquic::detail::Completion<void(std::error_code, std::string)> c);
  static void read_buffer(const std::shared_ptr<Stream>& s, size_t max,
                          asioquic::detail::Completion<void(std::error_code, Buffer)> c);
  static void write(const std::shared_ptr<Stream>& s, Buffer data,
                    asioquic::detail::Completion<void(std::error_code)> c);
  static void finish(const std::shared_ptr<Stream>& s, Fields trailers,
                     asioquic::detail::Completion<void(std::error_code)> c);
  static void send_headers(const std::shared_ptr<Stream>& s, int status, Fields fields,
                           asioquic::detail::Completion<void(std::error_code)> c);
  static void reset(const std::shared_ptr<Stream>& s, uint64_t code);
  static void stop_reading(const std::shared_ptr<Stream>& s, uint64_t code);
  static const Fields& trailers(const std::shared_ptr<Stream>& s);
  static uint64_t reset_code(const std::shared_ptr<Stream>& s);
  static int64_t stream_id(const std::shared_ptr<Stream>& s);
};
}  // namespace detail

class BodyReader {
 public:
  /// Reads some body bytes into `buf`. At the end of the body: asio::error::eof. Other errors:
  /// errc::stream_reset (the peer abandoned the body; reset_code() tells why),
  /// errc::malformed_message (the message broke HTTP/3 rules, e.g. its content-length; the
  /// stream was reset with H3_MESSAGE_ERROR), errc::fields_too_large (its trailers),
  /// errc::connection_closed. Signature: void(std::error_code, size_t).
  template <typename CompletionToken>
  auto async_read_some(asio::mutable_buffer buf, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, size_t)>(
        [s = s_, buf](auto handler) {
          asioquic::detail::Completion<void(std::error_code, size_t)> c(std::move(handler),
                                                                        detail::Ops::executor(s));
          detail::Ops::read_some(s, buf, std::move(c));
        },
        token);
  }

  /// Takes the body bytes that have arrived, at least one and at most `max`, as a Buffer that
  /// owns them: where async_read_some copies them into the caller's memory, this hands over
  /// the memory the connection received them into (blocks of up to 64 KiB; a Buffer keeps
  /// the whole block it shares alive). A proxy can pass the Buffer straight to
  /// BodyWriter::async_write. The end of the body and the errors are async_read_some's (with
  /// an empty Buffer); `max` 0, or another read in progress: errc::invalid_argument.
  /// Signature: void(std::error_code, Buffer).
  template <typename CompletionToken>
  auto async_read_buffer(size_t max, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, Buffer)>(
        [s = s_, max](auto handler) {
          asioquic::detail::Completion<void(std::error_code, Buffer)> c(std::move(handler),
                                                                        detail::Ops::executor(s));
          detail::Ops::read_buffer(s, max, std::move(c));
        },
        token);
  }

  /// Reads the whole body (at most `limit` bytes, else errc::body_too_large). An empty error
  /// means the body ended normally. Signature: void(std::error_code, std::string).
  template <typename CompletionToken>
  auto async_read_all(size_t limit, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code, std::string)>(
        [s = s_, limit](auto handler) {
          asioquic::detail::Completion<void(std::error_code, std::string)> c(
              std::move(handler), detail::Ops::executor(s));
          detail::Ops::read_all(s, limit, std::move(c));
        },
        token);
  }

  /// Trailers, valid once a read reported the end of the body.
  const Fields& trailers() const { return detail::Ops::trailers(s_); }
  /// The peer's RESET_STREAM code after errc::stream_reset.
  uint64_t reset_code() const { return detail::Ops::reset_code(s_); }
  /// Stops reading: STOP_SENDING(code) and unread bytes are dropped; reads then fail with
  /// errc::operation_aborted.
  void stop_reading(uint64_t code = kRequestCancelled) const {
    detail::Ops::stop_reading(s_, code);
  }
  int64_t stream_id() const { return detail::Ops::stream_id(s_); }
  bool valid() const noexcept { return s_ != nullptr; }

 protected:
  BodyReader() = default;
  explicit BodyReader(std::shared_ptr<detail::Stream> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Stream> s_;
};

class BodyWriter {
 public:
  /// Queues body bytes; completes once the stream has room for more (Settings::body_send_buffer).
  /// Errors: errc::stream_stopped (the peer sent STOP_SENDING), errc::stream_finished,
  /// errc::invalid_argument (a response whose headers were not sent yet),
  /// errc::connection_closed. Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_write(Buffer data, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [s = s_](auto handler, Buffer d) {
          asioquic::detail::Completion<void(std::error_code)> c(std::move(handler),
                                                                detail::Ops::executor(s));
          detail::Ops::write(s, std::move(d), std::move(c));
        },
        token, std::move(data));
  }

  /// Ends the body, with trailers if any. Completes when everything queued has been handed to
  /// the transport. Signature: void(std::error_code).
  template <typename CompletionToken>
  auto async_finish(Fields trailers, CompletionToken&& token) const {
    return asio::async_initiate<CompletionToken, void(std::error_code)>(
        [s = s_](auto handler, Fields t) {
          asioquic::detail::Completion<void(std::error_code)> c(std::move(handler),
                                                                detail::Ops::executor(s));
          detail::Ops::finish(s, std::move(t), std::move(c));
        },
        token, std::move(trailers));
  }

  /// Abandons the message: RESET_STREAM(code); queued bytes are dropped.
  void reset(uint64_t code = kRequestCancelled) const { detail::Ops::reset(s_, code); }
  int64_t stream_id() const { return detail::Ops::stream_id(s_); }
  bool valid() const noexcept { return s_ != nullptr; }

 protected:
  BodyWriter() = default;
  explicit BodyWriter(std::shared_ptr<detail::Stream> s) : s_(std::move(s)) {}
  std::shared_ptr<detail::Stream> s_;
};

}  // namespace asioquic::h3
