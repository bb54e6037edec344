// H3Conn: one HTTP/3 connection of the engine (nghttp3 0.8), behind an interface that speaks our
// types. With quic_conn.*, the only code that calls the engines.
//
// nghttp3 is sans-io: bytes of every stream go in through read(), bytes to send come out of
// writev(), and the QUIC layer reports how much was taken and acknowledged. Events arrive
// synchronously through H3Events from inside those calls.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <system_error>

#include "asioquic/h3/fields.hpp"

struct nghttp3_conn;

namespace asioquic::engine {

class H3Events {
 public:
  virtual ~H3Events() = default;
  /// A header (trailer == false) or trailer section starts on a stream.
  virtual void on_begin_fields(int64_t id, bool trailer) = 0;
  /// One field; name and value are valid during the call. Return false to reject the stream
  /// (the caller has already reset it).
  virtual void on_field(int64_t id, std::string_view name, std::string_view value,
                        bool trailer) = 0;
  /// The section ended; `fin` if the stream's receive side ends with it.
  virtual void on_end_fields(int64_t id, bool trailer, bool fin) = 0;
  /// Body bytes (DATA frame payload). Credit for them is the application's to give.
  virtual void on_body(int64_t id, std::span<const uint8_t> data) = 0;
  /// Bytes the engine consumed on a stream that was blocked on QPACK: credit them.
  virtual void on_consumed(int64_t id, size_t n) = 0;
  /// The peer finished sending on the stream.
  virtual void on_end_stream(int64_t id) = 0;
  virtual void on_stream_close(int64_t id, uint64_t code) = 0;
  /// `n` more body bytes we sent on the stream were acknowledged.
  virtual void on_body_acked(int64_t id, uint64_t n) = 0;
  /// The engine wants STOP_SENDING / RESET_STREAM sent for the stream.
  virtual void on_stop_sending_wanted(int64_t id, uint64_t code) = 0;
  virtual void on_reset_wanted(int64_t id, uint64_t code) = 0;
  /// The peer sent GOAWAY: streams (client) or pushes (server) from `id` on are not processed.
  virtual void on_goaway(int64_t id) = 0;
  /// Supplies body bytes for a stream that has a body: fills up to `vec.size()` entries and
  /// returns the count, setting `eof` when all of it has been given (and `trailers` if trailers
  /// follow); returns -1 when nothing is available yet (resume() later).
  virtual ptrdiff_t read_body(int64_t id, std::span<iovec> vec, bool& eof, bool& trailers) = 0;
};

struct H3ConnSettings {
  bool server = false;
  uint64_t max_field_section_size = 64 * 1024;
  size_t qpack_max_dtable_capacity = 4096;
  size_t qpack_blocked_streams = 100;
  size_t qpack_encoder_max_dtable_capacity = 0;
  bool enable_connect_protocol = false;
  uint64_t max_client_streams_bidi = 100;  // server: as advertised by QUIC
};

class H3Conn {
 public:
  /// Creates the engine connection. Errors: errc::internal.
  static std::unique_ptr<H3Conn> create(const H3ConnSettings& s, H3Events& ev, std::error_code& ec);
  ~H3Conn();
  H3Conn(const H3Conn&) = delete;
  H3Conn& operator=(const H3Conn&) = delete;

  /// Binds our control and QPACK streams (unidirectional, opened by the caller).
  /// Returns false on failure.
  bool bind_streams(int64_t control, int64_t qpack_encoder, int64_t qpack_decoder);

  /// Feeds stream bytes. Returns how many to credit to flow control right away (body bytes
  /// excluded), or a negative engine error — fatal for the connection (see app_error_code()).
  ptrdiff_t read(int64_t id, std::span<const uint8_t> data, bool fin);

  /// The next stream with bytes to send: fills `vec`, sets `id` (-1: none) and `fin`.
  /// Returns the vec count, or a negative engine error.
  ptrdiff_t writev(int64_t& id, bool& fin, std::span<iovec> vec);
  void add_write_offset(int64_t id, size_t n);
  void add_ack_offset(int64_t id, uint64_t n);
  void block(int64_t id);
  void unblock(int64_t id);
  void resume(int64_t id);
  void shutdown_write(int64_t id);
  void shutdown_read(int64_t id);
  /// The QUIC stream is gone: drops the engine's stream. Returns false only for a critical
  /// stream (a connection error).
  bool close_stream(int64_t id, uint64_t code);
  bool is_remote_qpack_encoder(int64_t id) const;
  /// False once the stream is gone, blocked, shut for writing or waiting for body bytes.
  bool is_writable(int64_t id) const;

  /// Submit a request (client) or response / informational response (server; `status` goes
  /// first, as ":status"). With `has_body`, read_body() is asked for the body; otherwise the
  /// stream ends after the headers. Return false if the engine rejects the fields or the stream.
  /// The engine keeps pointers into the strings of a request's, a response's and a trailer
  /// section's `fields` until it has sent them: they must stay in place, unchanged, until the
  /// stream closes. submit_info() copies them.
  bool submit_request(int64_t id, const h3::Fields& fields, bool has_body);
  bool submit_response(int64_t id, int status, const h3::Fields& fields, bool has_body);
  bool submit_info(int64_t id, int status, const h3::Fields& fields);
  bool submit_trailers(int64_t id, const h3::Fields& fields);

  /// Graceful shutdown: announce (GOAWAY with the maximum id), then shut down (GOAWAY with the
  /// real id; new streams refused).
  void submit_shutdown_notice();
  void shutdown();

  /// Stream priority (server: as the client asked unless overridden).
  h3::Priority priority(int64_t id) const;
  void set_priority(int64_t id, const h3::Priority& p);

  /// True if a negative read() result concerns only that stream's message (malformed, RFC 9114
  /// §4.1.2: a stream error of type H3_MESSAGE_ERROR), not the connection.
  static bool is_stream_error(ptrdiff_t liberr);
  /// The application error code to close the connection with for a fatal engine error.
  static uint64_t app_error_code(ptrdiff_t liberr);
  static const char* strerror(ptrdiff_t liberr);

 private:
  struct Callbacks;
  H3Conn(H3Events& ev) : events_(ev) {}
  H3Events& events_;
  nghttp3_conn* conn_ = nullptr;
  bool server_ = false;
};

}  // namespace asioquic::engine
