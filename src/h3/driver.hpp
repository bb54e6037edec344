// H3Driver internals: the per-connection Driver (ApplicationOverQuic logic over nghttp3, and the
// SendSource that feeds nghttp3's bytes straight into packets) and the per-stream state behind
// the public handles.
//
// Threading: all state here is touched only on the connection's executor (the router strand):
// by the worker's callbacks, and by handle operations posted there (ops.cpp).
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/execution/blocking.hpp>
#include <asio/execution/relationship.hpp>
#include <asio/prefer.hpp>
#include <asio/require.hpp>
#include <asio/steady_timer.hpp>

#include "asioquic/h3/client.hpp"
#include "asioquic/h3/server.hpp"
#include "core/fifo.hpp"
#include "engine/h3_conn.hpp"
#include "h3/received_body.hpp"
#include "h3/transport.hpp"

namespace asioquic::h3::detail {

using asioquic::detail::Completion;

class Driver;

class Stream {
 public:
  Stream(std::shared_ptr<Driver> d, int64_t stream_id) : driver(std::move(d)), id(stream_id) {}

  std::shared_ptr<Driver> driver;
  const int64_t id;

  // ----- the incoming message (request on a server, response on a client)
  Fields headers;
  Fields trailers;
  int status = 0;
  uint64_t field_bytes = 0;
  bool rejected = false;      // we reset it (limits); no handle ever sees it
  bool headers_done = false;  // the final header section is complete
  bool has_body = true;
  // Server: the request was delivered before the handshake completed. Client: it was sent
  // before, as 0-RTT early data.
  bool early_data = false;
  ReceivedBody body;        // received, not yet read
  uint64_t uncredited = 0;  // body bytes received but not yet credited to flow control
  bool fin = false;         // the peer finished sending
  bool reset = false;       // the peer reset its side
  uint64_t reset_code = 0;
  bool read_stopped = false;
  struct ReadSome {
    asio::mutable_buffer buf;
    Completion<void(std::error_code, size_t)> done;
    size_t filled = 0;  // bytes of this turn's packets already in buf (see give_to_reader)
  };
  struct ReadAll {
    size_t limit;
    std::string acc;
    Completion<void(std::error_code, std::string)> done;
  };
  std::optional<ReadSome> read_some;
  struct ReadBuffer {
    size_t max;
    Completion<void(std::error_code, Buffer)> done;
    bool due = false;  // in Driver::filling_, completed at the end of the turn
  };
  std::optional<ReadAll> read_all;
  std::optional<ReadBuffer> read_buffer;
  bool reading() const { return read_some || read_all || read_buffer; }
  Completion<void(std::error_code, ClientResponse)> response_waiter;

  // ----- the outgoing message
  // The header and trailer sections handed to the engine, which reads their values in place
  // until it has sent them (H3Conn::submit_response).
  Fields sent_headers;
  Fields sent_trailers;
  bool submitted = false;   // the engine has this stream's header section and body provider
  bool no_content = false;  // a response that may carry no body: writes are dropped
  asioquic::detail::Fifo<Buffer> out;  // from the oldest unacknowledged byte
  size_t given_index = 0;              // first buffer not entirely handed to the engine
  size_t given_offset = 0;
  uint64_t acked_front = 0;  // acknowledged bytes of out.front()
  uint64_t queued = 0;       // bytes in `out` not yet acknowledged
  bool finish_requested = false;
  bool has_trailers = false;
  bool eof_given = false;
  bool stopped = false;      // the peer sent STOP_SENDING
  bool write_reset = false;  // we reset our side
  asioquic::detail::Fifo<Completion<void(std::error_code)>> write_waiters;
  Completion<void(std::error_code)> finish_waiter;

  bool closed = false;    // the engine closed the stream
  std::error_code error;  // why it ended early (connection closed, reset, ...)
};

/// Makes the public handles (their constructors are private to these).
struct ServerOps {
  static ServerRequest request(std::shared_ptr<Stream> s) { return ServerRequest(std::move(s)); }
  static ServerResponse response(std::shared_ptr<Stream> s) { return ServerResponse(std::move(s)); }
  static const std::shared_ptr<Stream>& stream(const ServerResponse& r) { return r.s_; }
};
struct ClientOps {
  static ClientResponse response(std::shared_ptr<Stream> s) { return ClientResponse(std::move(s)); }
  static ClientRequest request(std::shared_ptr<Stream> s) { return ClientRequest(std::move(s)); }
  static ClientH3Controller controller(std::shared_ptr<Driver> d, ConnectionHandle conn) {
    return ClientH3Controller(std::move(d), std::move(conn));
  }
};

class Driver final : public std::enable_shared_from_this<Driver>,
                     public engine::H3Events,
                     public SendSource {
 public:
  Driver(bool server, const Settings& settings, asio::any_io_executor ex);

  // ----- ApplicationOverQuic, forwarded by ServerH3Driver / ClientH3Driver
  /// The Transport of `conn`, for the entry points below (the public drivers pass their
  /// Connection through it).
  Transport& transport(Connection& conn) {
    conn_transport_.bind(conn);
    return conn_transport_;
  }
  std::error_code on_established(Transport& conn);
  /// Client: the server refused the early data. The engine forgot every stream; the requests
  /// sent on them are queued again ahead of the others, and a new nghttp3 session starts.
  std::error_code on_early_rejected(Transport& conn);
  std::error_code on_writes(Transport& conn);
  /// Completes the reads that this turn's packets filled in part (see give_to_reader). The
  /// transport calls it once the turn's packets are read.
  void complete_filled_reads();
  void on_close(std::error_code result);
  void on_stream_data(Transport& conn, int64_t id, std::span<const uint8_t> data, bool fin);
  void on_quic_reset(int64_t id, uint64_t code);
  void on_quic_stop_sending(int64_t id, uint64_t code);
  void on_quic_closed(int64_t id, uint64_t code);

  // ----- SendSource
  bool next(StreamChunk& out) override;
  void written(int64_t id, size_t n, bool fin) override;
  void blocked(int64_t id) override;
  void unblocked(int64_t id) override;
  void acked(int64_t id, uint64_t offset, uint64_t len) override;

  // ----- operations of the handles (on the executor)
  void accept(Completion<void(std::error_code, ServerRequest, ServerResponse)> c);
  /// ServerH3Controller::on_request.
  void set_request_fn(std::function<void(ServerRequest, ServerResponse)> fn);
  void request(Fields f, std::optional<Buffer> body,
               Completion<void(std::error_code, ClientResponse)> c);
  void open(Fields f, Completion<void(std::error_code, ClientRequest)> c);
  void read_some(const std::shared_ptr<Stream>& s, asio::mutable_buffer buf,
                 Completion<void(std::error_code, size_t)> c);
  void read_all(const std::shared_ptr<Stream>& s, size_t limit,
                Completion<void(std::error_code, std::string)> c);
  void read_buffer(const std::shared_ptr<Stream>& s, size_t max,
                   Completion<void(std::error_code, Buffer)> c);
  void write(const std::shared_ptr<Stream>& s, Buffer data, Completion<void(std::error_code)> c);
  void finish(const std::shared_ptr<Stream>& s, Fields trailers,
              Completion<void(std::error_code)> c);
  void send_headers(const std::shared_ptr<Stream>& s, int status, Fields fields,
                    Completion<void(std::error_code)> c);
  /// ServerResponse::async_respond: headers, body and end in one step; `c` gets the first
  /// failure, or what finish() reports.
  void respond(const std::shared_ptr<Stream>& s, int status, Fields fields, Buffer body,
               Completion<void(std::error_code)> c);
  void response(const std::shared_ptr<Stream>& s,
                Completion<void(std::error_code, ClientResponse)> c);
  void reset_stream(const std::shared_ptr<Stream>& s, uint64_t code);
  void stop_reading(const std::shared_ptr<Stream>& s, uint64_t code);
  void set_priority(const std::shared_ptr<Stream>& s, const Priority& p);
  Priority priority(const Stream& s) const;
  /// Completes what a returning server handler left open (see serve()).
  void complete_response(const std::shared_ptr<Stream>& s);
  /// Graceful close: GOAWAY (server), in-flight requests get `drain` to finish.
  void shutdown(std::chrono::milliseconds drain);
  void close(uint64_t code);

  const asio::any_io_executor& executor() const noexcept { return ex_; }
  void set_executor(asio::any_io_executor ex);
  /// Runs `f` on the connection's executor, never inline: asio::post, with the type-erased
  /// executor's conversions to blocking.never and relationship.fork made once instead of on
  /// every call (~100 instructions each; every handle operation posts).
  template <typename F>
  void post(F&& f) const {
    post_ex_.execute(std::forward<F>(f));
  }
  bool is_server() const noexcept { return server_; }
  /// The connection's trace id; set before the first stream exists and constant afterwards, so
  /// any thread holding a stream may read it.
  const std::string& trace_id() const noexcept { return trace_id_; }
  std::chrono::milliseconds drain_timeout() const noexcept { return settings_.drain_timeout; }

 private:
  // engine::H3Events
  void on_begin_fields(int64_t id, bool trailer) override;
  void on_field(int64_t id, std::string_view name, std::string_view value, bool trailer) override;
  void on_end_fields(int64_t id, bool trailer, bool fin) override;
  void on_body(int64_t id, std::span<const uint8_t> data) override;
  void on_consumed(int64_t id, size_t n) override;
  void on_end_stream(int64_t id) override;
  void on_stream_close(int64_t id, uint64_t code) override;
  void on_body_acked(int64_t id, uint64_t n) override;
  void on_stop_sending_wanted(int64_t id, uint64_t code) override;
  void on_reset_wanted(int64_t id, uint64_t code) override;
  void on_goaway(int64_t id) override;
  ptrdiff_t read_body(int64_t id, std::span<iovec> vec, bool& eof, bool& trailers) override;

  bool ensure_engine(Transport& conn);
  /// The stream `id`, or an empty pointer: a reference into the table, valid until the stream
  /// leaves it (on_stream_close, reached from anything that calls into the engine). Callers
  /// that make such calls hold a copy.
  const std::shared_ptr<Stream>& find(int64_t id) const;
  /// Takes `id` out of the table (and out of find()'s memory).
  void forget(int64_t id);
  void fail_connection(ptrdiff_t liberr);
  /// The engine stops reading the stream (QPACK Stream Cancellation), now or, inside
  /// H3Conn::read(), when it returns.
  void shutdown_engine_read(int64_t id);
  void reject(const std::shared_ptr<Stream>& s, uint64_t code);
  void deliver_request(const std::shared_ptr<Stream>& s);
  /// Copies `data`, just arrived, straight into a waiting read_some's buffer; returns what it
  /// did not take, for s.body.
  std::span<const uint8_t> give_to_reader(const std::shared_ptr<Stream>& s,
                                          std::span<const uint8_t> data);
  void finish_read_some(Stream& s);
  void service_reads(const std::shared_ptr<Stream>& s);
  void service_writes(Stream& s);
  /// send_headers() and write() without their completions: each returns what it would report
  /// at once (an empty code when the headers are submitted or the body queued).
  std::error_code submit_headers(const std::shared_ptr<Stream>& s, int status, Fields fields);
  std::error_code queue_body(const std::shared_ptr<Stream>& s, Buffer data);
  void end_stream_with(const std::shared_ptr<Stream>& s, std::error_code ec);
  void credit(Stream& s, size_t n);
  void try_open();
  void maybe_finish_shutdown();
  void send_goaway();
  size_t active_requests() const;
  void wake();

  const bool server_;
  const Settings settings_;
  asio::any_io_executor ex_;
  asio::any_io_executor post_ex_;  // ex_ with blocking.never and relationship.fork
  std::unique_ptr<engine::H3Conn> h3_;
  Transport* conn_ = nullptr;  // set while the connection lives
  ConnectionTransport conn_transport_;
  std::string trace_id_;
  bool closed_ = false;
  bool control_bound_ = false;  // our control and QPACK streams exist
  std::error_code close_error_;
  std::unordered_map<int64_t, std::shared_ptr<Stream>> streams_;
  // find()'s last hit: the engine's callbacks for one stream come in runs (a field each, then
  // the body), and a hash lookup per callback was ~1% of a small request. Nodes of the table
  // keep their address until erased, which forget() and on_close() account for.
  mutable int64_t found_id_ = -1;
  mutable const std::shared_ptr<Stream>* found_ = nullptr;
  std::array<iovec, 16> iov_{};
  // What nghttp3 last offered and the packetizer has not taken yet: offered again as long as
  // the stream stays writable, so one writev serves many packets instead of one.
  struct Offer {
    int64_t id = -1;
    size_t first = 0;  // into iov_
    size_t count = 0;
    bool fin = false;
  } offer_;
  // Streams whose bare FIN nghttp3 offered but the packetizer has not taken yet (see next()).
  std::vector<int64_t> fin_pending_;
  size_t body_in_read_ = 0;  // body bytes the current H3Conn::read() passed to on_body
  // Read-side shutdowns asked for while H3Conn::read() runs (from a field or body callback),
  // done once it returns: nghttp3 would otherwise queue the QPACK Stream Cancellation before the
  // Section Acknowledgment of the section it is still decoding, and the peer's encoder treats
  // an acknowledgment after a cancellation as a connection error (RFC 9204 §4.4.1-4.4.2).
  bool in_engine_read_ = false;
  std::vector<int64_t> read_shutdowns_;
  // Streams whose waiting read_some holds some of this turn's bytes, or whose waiting
  // read_buffer has bytes in s.body: completed together once the turn's packets are read, so
  // that a reader gets a whole batch at once (and a read_some's bytes take one copy, not two:
  // into s.body, then out of it).
  std::vector<std::shared_ptr<Stream>> filling_;

  // server
  asioquic::detail::Fifo<std::shared_ptr<Stream>> ready_;
  std::function<void(ServerRequest, ServerResponse)> request_fn_;  // on_request
  asioquic::detail::Fifo<Completion<void(std::error_code, ServerRequest, ServerResponse)>>
      accept_waiters_;
  uint64_t requests_seen_ = 0;
  bool shutting_down_ = false;
  bool goaway_final_ = false;
  std::chrono::milliseconds drain_{0};
  std::unique_ptr<asio::steady_timer> timer_;  // post-accept timeout, then GOAWAY steps

  // client
  struct PendingOpen {
    Fields fields;
    std::optional<Buffer> body;
    Completion<void(std::error_code, ClientResponse)> response;
    Completion<void(std::error_code, ClientRequest)> opened;
  };
  /// Whether `p` may go before the handshake completes, as early data that can be replayed:
  /// a whole request with a safe method (RFC 9110 §9.2.1; RFC 8470 §2.1).
  static bool fits_early_data(const PendingOpen& p);
  /// The request `s` sent early, made pending again: its fields, whole body and response
  /// waiter move out of `s`.
  static PendingOpen requeue(Stream& s);
  asioquic::detail::Fifo<PendingOpen> pending_;
  // Started on 0-RTT keys, the handshake not yet seen complete (on_writes). Until then the
  // server's unidirectional streams (control, QPACK) are also recorded: their bytes arrive
  // with the handshake's last packets, before the engine reports the early data refused,
  // and the new nghttp3 session of on_early_rejected must read them too.
  bool early_ = false;
  struct PeerUniStream {
    std::vector<uint8_t> bytes;
    bool fin = false;
  };
  std::map<int64_t, PeerUniStream> peer_uni_;
  bool going_away_ = false;
  int64_t goaway_id_ = -1;
};

}  // namespace asioquic::h3::detail
