#include "engine/h3_conn.hpp"

#include <nghttp3/nghttp3.h>

#include <array>
#include <charconv>
#include <cstddef>
#include <string_view>
#include <vector>

#include "asioquic/error.hpp"
#include "engine/engine_memory.hpp"

namespace asioquic::engine {

static_assert(sizeof(nghttp3_vec) == sizeof(iovec) &&
                  offsetof(nghttp3_vec, base) == offsetof(iovec, iov_base) &&
                  offsetof(nghttp3_vec, len) == offsetof(iovec, iov_len),
              "nghttp3_vec and iovec must share a layout");

namespace {

std::string_view view(nghttp3_rcbuf* b) {
  const nghttp3_vec v = nghttp3_rcbuf_get_buf(b);
  return {reinterpret_cast<const char*>(v.base), v.len};
}

nghttp3_nv nv(std::string_view name, std::string_view value, uint8_t flags) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(),
          flags};
}

// A header section as nghttp3 takes it, optionally led by ":status". Copied fields may point
// into the caller's strings for the duration of the call. Borrowed ones keep their values in
// the caller's strings until nghttp3 has sent them, which spares a copy per value; names are
// copied either way, as nghttp3 lowercases them only when it copies them.
class NvArray {
 public:
  enum class Mode { copied, borrowed };
  NvArray(const h3::Fields& fields, Mode mode, int status = 0) {
    const size_t n = fields.size() + (status != 0 ? 1 : 0);
    if (n > inline_.size()) heap_.resize(n);
    data_ = n > inline_.size() ? heap_.data() : inline_.data();
    if (status != 0) {
      const auto end = std::to_chars(status_.data(), status_.data() + status_.size(), status).ptr;
      data_[size_++] = nv(":status", std::string_view(status_.data(), end - status_.data()),
                          NGHTTP3_NV_FLAG_NO_COPY_NAME);
    }
    const uint8_t flags =
        mode == Mode::borrowed ? NGHTTP3_NV_FLAG_NO_COPY_VALUE : NGHTTP3_NV_FLAG_NONE;
    for (const auto& f : fields)
      data_[size_++] = nv(f.name, f.value, flags);
  }
  NvArray(const NvArray&) = delete;
  NvArray& operator=(const NvArray&) = delete;

  const nghttp3_nv* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }

 private:
  std::array<nghttp3_nv, 16> inline_;
  std::vector<nghttp3_nv> heap_;
  std::array<char, 12> status_;
  nghttp3_nv* data_;
  size_t size_ = 0;
};

}  // namespace

struct H3Conn::Callbacks {
  static H3Events& ev(void* ud) { return static_cast<H3Conn*>(ud)->events_; }

  static int acked_stream_data(nghttp3_conn*, int64_t id, uint64_t n, void* ud, void*) {
    ev(ud).on_body_acked(id, n);
    return 0;
  }
  static int stream_close(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    ev(ud).on_stream_close(id, code);
    return 0;
  }
  static int recv_data(nghttp3_conn*, int64_t id, const uint8_t* d, size_t n, void* ud, void*) {
    ev(ud).on_body(id, {d, n});
    return 0;
  }
  static int deferred_consume(nghttp3_conn*, int64_t id, size_t n, void* ud, void*) {
    ev(ud).on_consumed(id, n);
    return 0;
  }
  static int begin_headers(nghttp3_conn*, int64_t id, void* ud, void*) {
    ev(ud).on_begin_fields(id, false);
    return 0;
  }
  static int begin_trailers(nghttp3_conn*, int64_t id, void* ud, void*) {
    ev(ud).on_begin_fields(id, true);
    return 0;
  }
  static int recv_header(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name,
                         nghttp3_rcbuf* value, uint8_t, void* ud, void*) {
    ev(ud).on_field(id, view(name), view(value), false);
    return 0;
  }
  static int recv_trailer(nghttp3_conn*, int64_t id, int32_t, nghttp3_rcbuf* name,
                          nghttp3_rcbuf* value, uint8_t, void* ud, void*) {
    ev(ud).on_field(id, view(name), view(value), true);
    return 0;
  }
  static int end_headers(nghttp3_conn*, int64_t id, int fin, void* ud, void*) {
    ev(ud).on_end_fields(id, false, fin != 0);
    return 0;
  }
  static int end_trailers(nghttp3_conn*, int64_t id, int fin, void* ud, void*) {
    ev(ud).on_end_fields(id, true, fin != 0);
    return 0;
  }
  static int stop_sending(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    ev(ud).on_stop_sending_wanted(id, code);
    return 0;
  }
  static int end_stream(nghttp3_conn*, int64_t id, void* ud, void*) {
    ev(ud).on_end_stream(id);
    return 0;
  }
  static int reset_stream(nghttp3_conn*, int64_t id, uint64_t code, void* ud, void*) {
    ev(ud).on_reset_wanted(id, code);
    return 0;
  }
  static int shutdown(nghttp3_conn*, int64_t id, void* ud) {
    ev(ud).on_goaway(id);
    return 0;
  }
  static nghttp3_ssize read_data(nghttp3_conn*, int64_t id, nghttp3_vec* vec, size_t veccnt,
                                 uint32_t* pflags, void* ud, void*) {
    bool eof = false;
    bool trailers = false;
    const ptrdiff_t n =
        ev(ud).read_body(id, {reinterpret_cast<iovec*>(vec), veccnt}, eof, trailers);
    if (n < 0) return NGHTTP3_ERR_WOULDBLOCK;
    if (eof) *pflags |= NGHTTP3_DATA_FLAG_EOF;
    if (trailers) *pflags |= NGHTTP3_DATA_FLAG_NO_END_STREAM;
    return n;
  }
};

std::unique_ptr<H3Conn> H3Conn::create(const H3ConnSettings& s, H3Events& ev, std::error_code& ec) {
  std::unique_ptr<H3Conn> h(new H3Conn(ev));
  h->server_ = s.server;
  nghttp3_callbacks cb{};
  cb.acked_stream_data = Callbacks::acked_stream_data;
  cb.stream_close = Callbacks::stream_close;
  cb.recv_data = Callbacks::recv_data;
  cb.deferred_consume = Callbacks::deferred_consume;
  cb.begin_headers = Callbacks::begin_headers;
  cb.recv_header = Callbacks::recv_header;
  cb.end_headers = Callbacks::end_headers;
  cb.begin_trailers = Callbacks::begin_trailers;
  cb.recv_trailer = Callbacks::recv_trailer;
  cb.end_trailers = Callbacks::end_trailers;
  cb.stop_sending = Callbacks::stop_sending;
  cb.end_stream = Callbacks::end_stream;
  cb.reset_stream = Callbacks::reset_stream;
  cb.shutdown = Callbacks::shutdown;

  nghttp3_settings st;
  nghttp3_settings_default(&st);
  st.max_field_section_size = s.max_field_section_size;
  st.qpack_max_dtable_capacity = s.qpack_max_dtable_capacity;
  st.qpack_encoder_max_dtable_capacity = s.qpack_encoder_max_dtable_capacity;
  st.qpack_blocked_streams = s.qpack_blocked_streams;
  st.enable_connect_protocol = s.enable_connect_protocol ? 1 : 0;
  const int rv = s.server ? nghttp3_conn_server_new(&h->conn_, &cb, &st, nghttp3_memory(), h.get())
                          : nghttp3_conn_client_new(&h->conn_, &cb, &st, nghttp3_memory(), h.get());
  if (rv != 0) {
    ec = make_error_code(errc::internal);
    return nullptr;
  }
  if (s.server) nghttp3_conn_set_max_client_streams_bidi(h->conn_, s.max_client_streams_bidi);
  return h;
}

H3Conn::~H3Conn() {
  if (conn_) nghttp3_conn_del(conn_);
}

bool H3Conn::bind_streams(int64_t control, int64_t qenc, int64_t qdec) {
  return nghttp3_conn_bind_control_stream(conn_, control) == 0 &&
         nghttp3_conn_bind_qpack_streams(conn_, qenc, qdec) == 0;
}

ptrdiff_t H3Conn::read(int64_t id, std::span<const uint8_t> data, bool fin) {
  return nghttp3_conn_read_stream(conn_, id, data.data(), data.size(), fin ? 1 : 0);
}

ptrdiff_t H3Conn::writev(int64_t& id, bool& fin, std::span<iovec> vec) {
  int f = 0;
  const auto n = nghttp3_conn_writev_stream(conn_, &id, &f,
                                            reinterpret_cast<nghttp3_vec*>(vec.data()), vec.size());
  fin = f != 0;
  return n;
}

void H3Conn::add_write_offset(int64_t id, size_t n) {
  nghttp3_conn_add_write_offset(conn_, id, n);
}

void H3Conn::add_ack_offset(int64_t id, uint64_t n) {
  nghttp3_conn_add_ack_offset(conn_, id, n);
}

void H3Conn::block(int64_t id) {
  nghttp3_conn_block_stream(conn_, id);
}

void H3Conn::unblock(int64_t id) {
  nghttp3_conn_unblock_stream(conn_, id);
}

void H3Conn::resume(int64_t id) {
  nghttp3_conn_resume_stream(conn_, id);
}

void H3Conn::shutdown_write(int64_t id) {
  nghttp3_conn_shutdown_stream_write(conn_, id);
}

void H3Conn::shutdown_read(int64_t id) {
  nghttp3_conn_shutdown_stream_read(conn_, id);
}

bool H3Conn::close_stream(int64_t id, uint64_t code) {
  const int rv = nghttp3_conn_close_stream(conn_, id, code);
  return rv == 0 || rv == NGHTTP3_ERR_STREAM_NOT_FOUND;
}

bool H3Conn::is_remote_qpack_encoder(int64_t id) const {
  return nghttp3_conn_is_remote_qpack_encoder_stream(conn_, id) != 0;
}

bool H3Conn::is_writable(int64_t id) const {
  return nghttp3_conn_is_stream_writable(conn_, id) != 0;
}

bool H3Conn::submit_request(int64_t id, const h3::Fields& fields, bool has_body) {
  const NvArray nva(fields, NvArray::Mode::borrowed);
  const nghttp3_data_reader dr{Callbacks::read_data};
  return nghttp3_conn_submit_request(conn_, id, nva.data(), nva.size(), has_body ? &dr : nullptr,
                                     nullptr) == 0;
}

bool H3Conn::submit_response(int64_t id, int status, const h3::Fields& fields, bool has_body) {
  const NvArray nva(fields, NvArray::Mode::borrowed, status);
  const nghttp3_data_reader dr{Callbacks::read_data};
  return nghttp3_conn_submit_response(conn_, id, nva.data(), nva.size(),
                                      has_body ? &dr : nullptr) == 0;
}

bool H3Conn::submit_info(int64_t id, int status, const h3::Fields& fields) {
  const NvArray nva(fields, NvArray::Mode::copied, status);
  return nghttp3_conn_submit_info(conn_, id, nva.data(), nva.size()) == 0;
}

bool H3Conn::submit_trailers(int64_t id, const h3::Fields& fields) {
  const NvArray nva(fields, NvArray::Mode::borrowed);
  return nghttp3_conn_submit_trailers(conn_, id, nva.data(), nva.size()) == 0;
}

void H3Conn::submit_shutdown_notice() {
  nghttp3_conn_submit_shutdown_notice(conn_);
}

void H3Conn::shutdown() {
  nghttp3_conn_shutdown(conn_);
}

h3::Priority H3Conn::priority(int64_t id) const {
  nghttp3_pri pri{NGHTTP3_DEFAULT_URGENCY, 0};
  if (server_) nghttp3_conn_get_stream_priority(conn_, &pri, id);
  return {static_cast<uint8_t>(pri.urgency), pri.inc != 0};
}

void H3Conn::set_priority(int64_t id, const h3::Priority& p) {
  const nghttp3_pri pri{p.urgency, p.incremental ? 1 : 0};
  nghttp3_conn_set_stream_priority(conn_, id, &pri);
}

bool H3Conn::is_stream_error(ptrdiff_t liberr) {
  return liberr == NGHTTP3_ERR_MALFORMED_HTTP_MESSAGING ||
         liberr == NGHTTP3_ERR_MALFORMED_HTTP_HEADER;
}

uint64_t H3Conn::app_error_code(ptrdiff_t liberr) {
  return nghttp3_err_infer_quic_app_error_code(static_cast<int>(liberr));
}

const char* H3Conn::strerror(ptrdiff_t liberr) {
  return nghttp3_strerror(static_cast<int>(liberr));
}

}  // namespace asioquic::engine

namespace asioquic::h3 {

std::optional<Priority> parse_priority(std::string_view value) {
  nghttp3_pri pri{NGHTTP3_DEFAULT_URGENCY, 0};
  if (nghttp3_http_parse_priority(&pri, reinterpret_cast<const uint8_t*>(value.data()),
                                  value.size()) != 0) {
    return std::nullopt;
  }
  return Priority{static_cast<uint8_t>(pri.urgency), pri.inc != 0};
}

}  // namespace asioquic::h3
