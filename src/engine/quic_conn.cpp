#include "engine/quic_conn.hpp"

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <utility>

#include "asioquic/session_store.hpp"
#include "engine/engine_memory.hpp"
#include "engine/packet_keys.hpp"
#include "engine/random.hpp"
#include "engine/resumption_entry.hpp"
#include "engine/tls_context.hpp"

namespace asioquic::engine {

static_assert(kStatelessResetTokenLen == NGTCP2_STATELESS_RESET_TOKENLEN);

static_assert(sizeof(ngtcp2_vec) == sizeof(iovec) &&
                  offsetof(ngtcp2_vec, base) == offsetof(iovec, iov_base) &&
                  offsetof(ngtcp2_vec, len) == offsetof(iovec, iov_len),
              "ngtcp2_vec and iovec must share a layout");

namespace {

constexpr uint64_t kTlsAlertNoApplicationProtocol = 120;

// Path MTU discovery waits until a connection has sent this much. ngtcp2 0.12 probes as soon
// as the handshake is confirmed, but a handshake with one request and its answer (a few KiB)
// gains nothing from larger packets: there the probes and their acknowledgements were 4 of
// 13 datagrams, both ends together. A transfer crosses this after about a dozen packets and
// sends the rest at the discovered size.
constexpr uint64_t kProbeAfterBytes = 16 * 1024;

ngtcp2_cid to_ngtcp2(const quic::Cid& c) {
  ngtcp2_cid n;
  ngtcp2_cid_init(&n, c.bytes.data(), c.len);
  return n;
}

ngtcp2_path make_path(const net::Address& local, const net::Address& remote) {
  ngtcp2_path p{};
  p.local.addr = const_cast<sockaddr*>(local.sa());
  p.local.addrlen = local.len;
  p.remote.addr = const_cast<sockaddr*>(remote.sa());
  p.remote.addrlen = remote.len;
  return p;
}

void copy_addr(net::Address& dst, const ngtcp2_addr& src) {
  std::memcpy(&dst.storage, src.addr, src.addrlen);
  dst.len = src.addrlen;
}

bool same_addr(const net::Address& a, const ngtcp2_addr& b) {
  return a.len == b.addrlen && std::memcmp(&a.storage, b.addr, b.addrlen) == 0;
}

ngtcp2_cc_algo to_ngtcp2(CongestionControl cc) {
  switch (cc) {
    case CongestionControl::reno:
      return NGTCP2_CC_ALGO_RENO;
    case CongestionControl::bbr:
      return NGTCP2_CC_ALGO_BBR;
    case CongestionControl::bbr2:
      return NGTCP2_CC_ALGO_BBR2;
    case CongestionControl::cubic:
      break;
  }
  return NGTCP2_CC_ALGO_CUBIC;
}

uint64_t to_ns(std::chrono::milliseconds ms) {
  return static_cast<uint64_t>(ms.count()) * NGTCP2_MILLISECONDS;
}

void engine_rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  random_bytes({dest, len});
}

}  // namespace

// ngtcp2 callbacks, forwarding to ConnEvents. They run inside ngtcp2 calls made by QuicConn.
struct QuicConn::Callbacks {
  static QuicConn& self(void* ud) { return *static_cast<QuicConn*>(ud); }

  static int handshake_completed(ngtcp2_conn*, void* ud) {
    if (!self(ud).settle_early_data()) return NGTCP2_ERR_CALLBACK_FAILURE;
    self(ud).events_.on_handshake_completed();
    return 0;
  }
  // After release_tls_session no TLS message may come: a client has none to send at 1-RTT in
  // QUIC (no KeyUpdate, RFC 9001 §6; we never ask for post-handshake authentication), so any
  // is an unexpected_message, as TLS itself would call it.
  static int recv_crypto_data(ngtcp2_conn* conn, ngtcp2_crypto_level level, uint64_t offset,
                              const uint8_t* data, size_t len, void* ud) {
    if (self(ud).tls_session_) {
      return ngtcp2_crypto_recv_crypto_data_cb(conn, level, offset, data, len, ud);
    }
    ngtcp2_conn_set_tls_alert(conn, kTlsAlertUnexpectedMessage);
    return NGTCP2_ERR_CRYPTO;
  }
  static int handshake_confirmed(ngtcp2_conn*, void* ud) {
    self(ud).confirmed_ = true;
    return 0;
  }
  static int recv_stream_data(ngtcp2_conn*, uint32_t flags, int64_t id, uint64_t, const uint8_t* d,
                              size_t len, void* ud, void*) {
    const bool fin = flags & NGTCP2_STREAM_DATA_FLAG_FIN;
    return self(ud).events_.on_stream_data(id, {d, len}, fin) ? 0 : NGTCP2_ERR_CALLBACK_FAILURE;
  }
  static int acked_stream_data_offset(ngtcp2_conn*, int64_t id, uint64_t offset, uint64_t len,
                                      void* ud, void*) {
    self(ud).events_.on_stream_acked(id, offset, len);
    return 0;
  }
  static int stream_open(ngtcp2_conn*, int64_t id, void* ud) {
    auto& s = self(ud);
    s.peer_credit_[(id & 0x2) ? 1 : 0].on_open(static_cast<uint64_t>(id) >> 2);
    s.open_streams_.insert(id);
    s.events_.on_stream_opened(id);
    return 0;
  }
  static int stream_close(ngtcp2_conn* conn, uint32_t flags, int64_t id, uint64_t code, void* ud,
                          void*) {
    auto& s = self(ud);
    s.lost_on_closed_streams_ += ngtcp2_conn_get_stream_loss_count(conn, id);
    s.open_streams_.erase(id);
    // The peer may open one more stream of this kind once one of its own has closed; the
    // credit goes out in batches (PeerStreamCredit).
    if (!ngtcp2_conn_is_local_stream(conn, id)) {
      const bool uni = id & 0x2;
      if (const uint64_t n = s.peer_credit_[uni ? 1 : 0].on_close(); n > 0) {
        uni ? ngtcp2_conn_extend_max_streams_uni(conn, n)
            : ngtcp2_conn_extend_max_streams_bidi(conn, n);
      }
    }
    s.events_.on_stream_closed(id,
                               (flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) ? code : 0);
    return 0;
  }
  static int stream_reset(ngtcp2_conn*, int64_t id, uint64_t, uint64_t code, void* ud, void*) {
    self(ud).events_.on_stream_reset(id, code);
    return 0;
  }
  static int recv_stateless_reset(ngtcp2_conn*, const ngtcp2_pkt_stateless_reset*, void* ud) {
    self(ud).got_stateless_reset_ = true;
    return 0;
  }
  static int extend_max_local_streams(ngtcp2_conn*, uint64_t, void* ud) {
    self(ud).events_.on_streams_available();
    return 0;
  }
  static int extend_max_stream_data(ngtcp2_conn*, int64_t id, uint64_t, void* ud, void*) {
    self(ud).events_.on_stream_unblocked(id);
    return 0;
  }
  static int get_new_connection_id(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen,
                                   void* ud) {
    auto& s = self(ud);
    quic::Cid c;
    if (!s.events_.on_new_cid(c)) return NGTCP2_ERR_CALLBACK_FAILURE;
    if (c.len != cidlen && cidlen != 0) {
      // The engine asks for the length of our first CID; our generator always makes that.
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
    ngtcp2_cid_init(cid, c.bytes.data(), c.len);
    if (s.reset_key_) {
      const ResetToken t = s.reset_key_->token(c.view());
      std::memcpy(token, t.data(), t.size());
    } else {
      random_bytes({token, NGTCP2_STATELESS_RESET_TOKENLEN});
    }
    return 0;
  }
  static int remove_connection_id(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
    self(ud).events_.on_retire_cid(quic::Cid(cid->data, cid->datalen));
    return 0;
  }
  static int path_validation(ngtcp2_conn*, uint32_t, const ngtcp2_path*,
                             ngtcp2_path_validation_result res, void* ud) {
    self(ud).events_.on_path_validated(res == NGTCP2_PATH_VALIDATION_RESULT_SUCCESS);
    return 0;
  }
  static int recv_datagram(ngtcp2_conn*, uint32_t, const uint8_t* d, size_t len, void* ud) {
    self(ud).events_.on_datagram({d, len});
    return 0;
  }
  static int lost_datagram(ngtcp2_conn*, uint64_t, void* ud) {
    ++self(ud).datagrams_lost_;
    return 0;
  }
  static void qlog_write(void* ud, uint32_t flags, const void* data, size_t len) {
    std::FILE* f = self(ud).qlog_;
    if (!f) return;
    std::fwrite(data, 1, len, f);
    if (flags & NGTCP2_QLOG_WRITE_FLAG_FIN) std::fflush(f);
  }
  static ngtcp2_conn* get_conn(ngtcp2_crypto_conn_ref* ref) {
    return static_cast<QuicConn*>(ref->user_data)->conn_;
  }

  static ngtcp2_callbacks make(bool server) {
    ngtcp2_callbacks cb{};
    if (server) {
      cb.recv_client_initial = on_recv_client_initial;
    } else {
      cb.client_initial = on_client_initial;
      cb.recv_retry = on_recv_retry;
    }
    cb.recv_crypto_data = recv_crypto_data;
    cb.handshake_completed = handshake_completed;
    cb.handshake_confirmed = handshake_confirmed;
    cb.encrypt = ngtcp2_crypto_encrypt_cb;
    cb.decrypt = ngtcp2_crypto_decrypt_cb;
    cb.hp_mask = ngtcp2_crypto_hp_mask_cb;
    cb.recv_stream_data = recv_stream_data;
    cb.acked_stream_data_offset = acked_stream_data_offset;
    cb.stream_open = stream_open;
    cb.stream_close = stream_close;
    cb.recv_stateless_reset = recv_stateless_reset;
    cb.extend_max_local_streams_bidi = extend_max_local_streams;
    cb.extend_max_local_streams_uni = extend_max_local_streams;
    cb.rand = engine_rand;
    cb.get_new_connection_id = get_new_connection_id;
    cb.remove_connection_id = remove_connection_id;
    cb.update_key = on_update_key;
    cb.path_validation = path_validation;
    cb.stream_reset = stream_reset;
    cb.extend_max_stream_data = extend_max_stream_data;
    cb.delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
    cb.delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
    cb.recv_datagram = recv_datagram;
    cb.lost_datagram = lost_datagram;
    cb.get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
    // Not cb.stream_stop_sending: in 0.12 it reports OUR shutdown_stream_read, not the peer's
    // STOP_SENDING (0.12 has no callback for that; 1.x adds recv_stop_sending), and forwarding
    // it as on_stop_sending abandoned our own send side.
    cb.version_negotiation = on_version_negotiation;
    return cb;
  }
};

QuicConn::QuicConn(ConnEvents& ev, bool server) : events_(ev), server_(server) {}

std::unique_ptr<QuicConn> QuicConn::create(const ConnParams& p, ConnEvents& events,
                                           std::error_code& ec) {
  if (!p.settings || !p.tls) {
    ec = make_error_code(errc::invalid_argument);
    return nullptr;
  }
  const Settings& s = *p.settings;
  std::unique_ptr<QuicConn> qc(new QuicConn(events, p.server));
  qc->tls_ = p.tls;
  qc->odcid_ = p.server ? p.odcid : p.dcid;
  qc->reset_key_ = p.reset_key;
  qc->peer_credit_ = {PeerStreamCredit(s.max_streams_bidi), PeerStreamCredit(s.max_streams_uni)};

  ngtcp2_settings st;
  ngtcp2_settings_default(&st);
  st.initial_ts = p.initial_ts;
  st.cc_algo = to_ngtcp2(s.congestion_control);
  st.initial_rtt = to_ns(s.initial_rtt);
  st.max_tx_udp_payload_size = s.max_udp_payload;
  st.max_window = s.max_data_window;
  st.max_stream_window = s.max_stream_data_window;
  st.handshake_timeout = to_ns(s.handshake_timeout);
  st.rand_ctx.native_handle = nullptr;
  if (!p.token.empty()) {
    st.token.base = const_cast<uint8_t*>(p.token.data());
    st.token.len = p.token.size();
  }
  if (!s.qlog_dir.empty()) {
    const std::string path =
        s.qlog_dir + "/" + qc->odcid_.hex() + (p.server ? "-server" : "-client") + ".sqlog";
    qc->qlog_ = std::fopen(path.c_str(), "we");
    if (qc->qlog_) {
      st.qlog.write = Callbacks::qlog_write;
      st.qlog.odcid = to_ngtcp2(qc->odcid_);
    }
  }

  ngtcp2_transport_params params;
  ngtcp2_transport_params_default(&params);
  params.initial_max_stream_data_bidi_local = s.initial_max_stream_data;
  params.initial_max_stream_data_bidi_remote = s.initial_max_stream_data;
  params.initial_max_stream_data_uni = s.initial_max_stream_data;
  params.initial_max_data = s.initial_max_data;
  params.initial_max_streams_bidi = s.max_streams_bidi;
  params.initial_max_streams_uni = s.max_streams_uni;
  params.max_idle_timeout = to_ns(s.idle_timeout);
  params.active_connection_id_limit = 7;
  params.max_datagram_frame_size = s.max_datagram_frame_size;
  if (p.server) {
    params.original_dcid = to_ngtcp2(p.odcid);
    if (p.retry_scid) {
      params.retry_scid = to_ngtcp2(*p.retry_scid);
      params.retry_scid_present = 1;
    }
    if (qc->reset_key_) {
      const ResetToken t = qc->reset_key_->token(p.scid.view());
      std::memcpy(params.stateless_reset_token, t.data(), t.size());
    } else {
      random_bytes(params.stateless_reset_token);
    }
    params.stateless_reset_token_present = 1;
  }

  const ngtcp2_callbacks cb = Callbacks::make(p.server);
  const ngtcp2_cid dcid = to_ngtcp2(p.dcid);
  const ngtcp2_cid scid = to_ngtcp2(p.scid);
  const ngtcp2_path path = make_path(p.local, p.remote);
  int rv;
  if (p.server) {
    rv = ngtcp2_conn_server_new(&qc->conn_, &dcid, &scid, &path, p.version, &cb, &st, &params,
                                ngtcp2_memory(), qc.get());
  } else {
    rv = ngtcp2_conn_client_new(&qc->conn_, &dcid, &scid, &path, p.version, &cb, &st, &params,
                                ngtcp2_memory(), qc.get());
  }
  if (rv != 0) {
    ec = make_error_code(errc::internal);
    return nullptr;
  }
  if (s.keep_alive.count() > 0) ngtcp2_conn_set_keep_alive_timeout(qc->conn_, to_ns(s.keep_alive));

  qc->conn_ref_ = std::make_unique<TlsConnRef>();
  qc->conn_ref_->ref.get_conn = Callbacks::get_conn;
  qc->conn_ref_->ref.user_data = qc.get();
  void* session = !p.server && p.session_store
                      ? qc->client_session(p, ec)
                      : p.tls->new_session(qc->conn_ref_.get(), p.verify_host, ec);
  if (!session) return nullptr;
  qc->tls_session_ = session;
  ngtcp2_conn_set_tls_native_handle(qc->conn_, session);
  return qc;
}

void* QuicConn::client_session(const ConnParams& p, std::error_code& ec) {
  session_key_ = p.session_key;
  conn_ref_->session_store = p.session_store;
  conn_ref_->session_key = &session_key_;
  std::optional<std::vector<uint8_t>> stored;
  try {
    stored = p.session_store->take(p.session_key);  // a ticket is used once (RFC 8446 §C.4)
  } catch (...) {  // NOLINT(bugprone-empty-catch): a store that fails means no resumption
  }
  std::optional<ResumptionEntry> entry;
  if (stored) {
    entry = decode_resumption_entry(*stored);
    gnutls_memset(stored->data(), 0, stored->size());
  }
  std::span<const uint8_t> ticket;
  if (entry) {
    ticket = entry->ticket;
    early_offered_ = p.early_data && entry->early_data && p.tls->offers_alpn(entry->alpn);
  }
  if (early_offered_) {
    // What the server allowed last time bounds the early data (RFC 9000 §7.4.1).
    const EarlyTransportParams& e = entry->params;
    ngtcp2_transport_params tp;
    ngtcp2_transport_params_default(&tp);
    tp.initial_max_streams_bidi = e.initial_max_streams_bidi;
    tp.initial_max_streams_uni = e.initial_max_streams_uni;
    tp.initial_max_stream_data_bidi_local = e.initial_max_stream_data_bidi_local;
    tp.initial_max_stream_data_bidi_remote = e.initial_max_stream_data_bidi_remote;
    tp.initial_max_stream_data_uni = e.initial_max_stream_data_uni;
    tp.initial_max_data = e.initial_max_data;
    tp.active_connection_id_limit = e.active_connection_id_limit;
    tp.max_datagram_frame_size = e.max_datagram_frame_size;
    ngtcp2_conn_set_early_remote_transport_params(conn_, &tp);
    alpn_ = entry->alpn;
  }
  ClientResume resume;
  resume.ticket = ticket;
  resume.offer_early_data = early_offered_;
  if (entry) resume.key_share_group = entry->key_share_group;
  gnutls_session_t session = p.tls->new_session(conn_ref_.get(), p.verify_host, ec, resume);
  if (entry) gnutls_memset(entry->ticket.data(), 0, entry->ticket.size());
  return session;
}

bool QuicConn::settle_early_data() {
  if (!early_offered_) return true;
  early_accepted_ = TlsContext::early_data_accepted(static_cast<gnutls_session_t>(tls_session_));
  if (early_accepted_) return true;
  // The engine forgets the early streams without closing them one by one.
  if (ngtcp2_conn_early_data_rejected(conn_) != 0) return false;
  open_streams_.clear();
  flow_blocked_.clear();
  stopped_by_peer_.clear();
  events_.on_early_data_rejected();
  return true;
}

QuicConn::~QuicConn() {
  if (conn_) ngtcp2_conn_del(conn_);
  if (tls_session_) gnutls_deinit(static_cast<gnutls_session_t>(tls_session_));
  if (qlog_) std::fclose(qlog_);
}

QuicConn::Status QuicConn::read(const net::Address& local, const net::Address& remote, uint8_t ecn,
                                std::span<const uint8_t> pkt, uint64_t ts) {
  const ngtcp2_path path = make_path(local, remote);
  ngtcp2_pkt_info pi{ecn};
  const int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, pkt.data(), pkt.size(), ts);
  if (rv != 0) return on_engine_error(rv);
  if (server_ && tls_session_ && handshake_completed()) release_tls_session();
  return Status::ok;
}

void QuicConn::release_tls_session() {
  auto session = static_cast<gnutls_session_t>(tls_session_);
  TlsContext::issue_session_ticket(session);  // on failure, only resumption is lost
  alpn_ = TlsContext::negotiated_alpn(session);
  resumed_ = TlsContext::resumed(session);
  ngtcp2_conn_set_tls_native_handle(conn_, nullptr);
  tls_session_ = nullptr;
  gnutls_deinit(session);
}

QuicConn::Status QuicConn::handle_expiry(uint64_t ts) {
  const int rv = ngtcp2_conn_handle_expiry(conn_, ts);
  if (rv == 0) return Status::ok;
  return on_engine_error(rv);
}

uint64_t QuicConn::expiry() const noexcept {
  return ngtcp2_conn_get_expiry(conn_);
}

QuicConn::Status QuicConn::on_engine_error(int rv) {
  last_liberr_ = rv;
  close_.closed = true;
  switch (rv) {
    case NGTCP2_ERR_DRAINING:
      if (got_stateless_reset_) {
        close_.by_peer = true;
        close_.error = make_error_code(errc::stateless_reset);
      } else {
        classify_peer_close();
      }
      return Status::draining;
    case NGTCP2_ERR_IDLE_CLOSE:
      close_.error = make_error_code(errc::idle_timeout);
      return Status::dropped;
    case NGTCP2_ERR_HANDSHAKE_TIMEOUT:
      close_.error = make_error_code(errc::handshake_timeout);
      return Status::dropped;
    case NGTCP2_ERR_RECV_VERSION_NEGOTIATION:
      close_.by_peer = true;
      close_.error = make_error_code(errc::version_negotiation_failed);
      return Status::dropped;
    case NGTCP2_ERR_DROP_CONN:
    case NGTCP2_ERR_RETRY:
      close_.error = make_error_code(errc::connection_aborted);
      close_.reason = ngtcp2_strerror(rv);
      return Status::dropped;
    case NGTCP2_ERR_CLOSING:
      // Already closing: the caller resends its CONNECTION_CLOSE.
      return Status::closing;
    case NGTCP2_ERR_CRYPTO: {
      const uint8_t alert = ngtcp2_conn_get_tls_alert(conn_);
      const auto session = static_cast<gnutls_session_t>(tls_session_);
      std::string why = server_ ? std::string() : TlsContext::verify_failure(session);
      close_.code = NGTCP2_CRYPTO_ERROR | alert;
      if (!why.empty()) {
        close_.error = make_error_code(errc::certificate_verify_failed);
        close_.reason = std::move(why);
      } else if (alert == kTlsAlertNoApplicationProtocol) {
        close_.error = make_error_code(errc::alpn_mismatch);
      } else {
        close_.error = make_error_code(errc::tls_handshake_failed);
        close_.reason = "TLS alert " + std::to_string(alert);
      }
      return Status::closing;
    }
    default:
      close_.code = ngtcp2_err_infer_quic_transport_error_code(rv);
      close_.error = make_error_code(errc::connection_aborted);
      close_.reason = ngtcp2_strerror(rv);
      return Status::closing;
  }
}

void QuicConn::classify_peer_close() {
  ngtcp2_connection_close_error cc;
  ngtcp2_conn_get_connection_close_error(conn_, &cc);
  close_.by_peer = true;
  close_.is_application = cc.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_APPLICATION;
  close_.code = cc.error_code;
  if (cc.reason && cc.reasonlen) close_.reason.assign(cc.reason, cc.reason + cc.reasonlen);
  if (close_.is_application) {
    close_.error = cc.error_code ? wire_error_code(true, cc.error_code) : std::error_code();
    return;
  }
  const uint64_t code = cc.error_code;
  if (code == NGTCP2_NO_ERROR) {
    close_.error = {};
  } else if (code == NGTCP2_CONNECTION_REFUSED) {
    close_.error = make_error_code(errc::connection_refused);
  } else if (!handshake_completed() &&
             code == (NGTCP2_CRYPTO_ERROR | kTlsAlertNoApplicationProtocol)) {
    close_.error = make_error_code(errc::alpn_mismatch);
  } else if (!handshake_completed() && (code & ~uint64_t{0xff}) == NGTCP2_CRYPTO_ERROR) {
    close_.error = make_error_code(errc::tls_handshake_failed);
    if (close_.reason.empty()) close_.reason = "peer sent TLS alert " + std::to_string(code & 0xff);
  } else {
    close_.error = wire_error_code(false, code);
  }
}

void QuicConn::set_app_close(uint64_t code, std::string_view reason) {
  if (close_.closed) return;
  close_.closed = true;
  close_.is_application = true;
  close_.code = code;
  close_.reason = std::string(reason);
  close_.error = code ? wire_error_code(true, code) : std::error_code();
  app_close_set_ = true;
  app_close_code_ = code;
  app_close_reason_ = std::string(reason);
}

size_t QuicConn::write_close(TxBatch& b, uint64_t ts) {
  b.len = b.count = b.extra_len = 0;
  if (ngtcp2_conn_is_in_draining_period(conn_)) return 0;
  ngtcp2_connection_close_error cc;
  ngtcp2_connection_close_error_default(&cc);
  if (app_close_set_) {
    ngtcp2_connection_close_error_set_application_error(
        &cc, app_close_code_, reinterpret_cast<const uint8_t*>(app_close_reason_.data()),
        app_close_reason_.size());
  } else if (last_liberr_ == NGTCP2_ERR_CRYPTO) {
    ngtcp2_connection_close_error_set_transport_error_tls_alert(
        &cc, static_cast<uint8_t>(close_.code & 0xff), nullptr, 0);
  } else {
    ngtcp2_connection_close_error_set_transport_error_liberr(&cc, last_liberr_, nullptr, 0);
  }
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  const auto n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, b.buf, b.cap, &cc, ts);
  if (n <= 0) return 0;
  b.len = b.segment = static_cast<size_t>(n);
  b.count = 1;
  copy_addr(b.local, ps.path.local);
  copy_addr(b.remote, ps.path.remote);
  b.ecn = static_cast<uint8_t>(pi.ecn);
  return b.len;
}

bool QuicConn::early_data_accepted() const noexcept {
  return server_ ? conn_ref_->early_rx_installed : early_accepted_;
}

bool QuicConn::awaiting_ticket() const noexcept {
  return early_offered_ && !conn_ref_->ticket_stored && handshake_completed();
}

uint64_t QuicConn::closing_period_ns() const noexcept {
  return 3 * ngtcp2_conn_get_pto(conn_);
}

void QuicConn::reoffer_flow_blocked(SendSource& src) {
  for (int64_t id : flow_blocked_)
    src.unblocked(id);
  flow_blocked_.clear();
}

QuicConn::Status QuicConn::write(TxBatch& b, SendSource& src, DatagramSource& dgrams,
                                 size_t max_segments, uint64_t ts) {
  b.len = b.count = b.segment = b.extra_len = 0;
  Status st = Status::ok;
  b.drained = write_packets(b, src, dgrams, max_segments, ts, st);
  // Pacing spaces the batches of a burst. A batch after which the engine ran dry with room
  // left in the congestion window ends no burst (the application had nothing more), so the
  // pacer is left alone: its deadline would only cost a wake-up (with Asio: a timerfd_settime
  // to arm it, an epoll return, a turn, a second timerfd_settime), about 5 µs of server CPU
  // per small response. A congestion-limited sender, BBR's above all, is still paced.
  //
  // Nor is it set before the first RTT sample. Its rate would come from initial_rtt, a guess
  // (100 ms by default), and ngtcp2 keeps a deadline once set: after a first flight of more than
  // one quantum (a certificate chain, an ACK of two 0-RTT packets) the next packets, a 0.5-RTT
  // answer or HANDSHAKE_DONE with the first response, waited ~7 ms on loopback after the real
  // RTT was known. Until then the initial window and the anti-amplification limit bound the
  // burst (RFC 9002 §7.7 allows a burst of the initial window).
  const bool app_limited = b.drained && ngtcp2_conn_get_cwnd_left(conn_) >=
                                            ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
  if (b.count && !app_limited && rtt_sampled()) ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  // Reported only now: during the write sequence no other engine call may be made.
  for (int64_t id : std::exchange(stopped_by_peer_, {}))
    events_.on_stop_sending(id, 0);
  return st;
}

bool QuicConn::rtt_sampled() {
  if (!rtt_sampled_) {
    ngtcp2_conn_stat cs;
    ngtcp2_conn_get_conn_stat(conn_, &cs);
    rtt_sampled_ = cs.first_rtt_sample_ts != UINT64_MAX;
  }
  return rtt_sampled_;
}

bool QuicConn::write_packets(TxBatch& b, SendSource& src, DatagramSource& dgrams,
                             size_t max_segments, uint64_t ts, Status& st) {
  const size_t max_pkt = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
  // The send quantum is what the congestion controller wants sent in one burst.
  const size_t quantum = std::max(ngtcp2_conn_get_send_quantum(conn_), max_pkt);
  const size_t limit = std::min({b.cap, quantum, net::UdpSocket::kMaxGsoBytes});
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi{};
  StreamChunk chunk;
  bool have_chunk = false;

  // ngtcp2 writes a PMTUD probe, which is larger than the path's current maximum, only into a
  // buffer that holds it; ordinary packets stay sized to the path. So the room offered decides
  // whether probes go out: only once the connection has sent kProbeAfterBytes (see there).
  const size_t room =
      bytes_written_ >= kProbeAfterBytes ? ngtcp2_conn_get_max_tx_udp_payload_size(conn_) : max_pkt;

  for (;;) {
    if (b.len + max_pkt > limit && b.count > 0) return false;
    uint8_t* dest = b.buf + b.len;
    const size_t destlen = std::min(room, b.cap - b.len);
    ngtcp2_ssize nwrite;
    if (auto d = dgrams.front()) {
      int accepted = 0;
      ngtcp2_vec v{const_cast<uint8_t*>(d->data()), d->size()};
      nwrite =
          ngtcp2_conn_writev_datagram(conn_, &ps.path, &pi, dest, destlen, &accepted,
                                      NGTCP2_WRITE_DATAGRAM_FLAG_MORE, next_dgram_id_, &v, 1, ts);
      if (accepted) {
        ++next_dgram_id_;
        dgrams.pop();
      }
      if (nwrite == NGTCP2_ERR_WRITE_MORE) continue;
      if (nwrite == NGTCP2_ERR_INVALID_ARGUMENT || nwrite == NGTCP2_ERR_INVALID_STATE) {
        dgrams.pop();  // too large for the peer, or the peer takes none: it can never go
        continue;
      }
    } else {
      if (!have_chunk) {
        have_chunk = src.next(chunk);
        if (!have_chunk) chunk = StreamChunk{};
      }
      uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
      if (chunk.fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
      ngtcp2_ssize ndatalen = -1;
      nwrite = ngtcp2_conn_writev_stream(
          conn_, &ps.path, &pi, dest, destlen, &ndatalen, flags, chunk.stream_id,
          reinterpret_cast<const ngtcp2_vec*>(chunk.iov), chunk.iovcnt, ts);
      if (chunk.stream_id >= 0) {
        have_chunk = false;
        switch (nwrite) {
          case NGTCP2_ERR_STREAM_DATA_BLOCKED:
            src.blocked(chunk.stream_id);
            if (std::find(flow_blocked_.begin(), flow_blocked_.end(), chunk.stream_id) ==
                flow_blocked_.end()) {
              flow_blocked_.push_back(chunk.stream_id);
            }
            continue;
          case NGTCP2_ERR_STREAM_SHUT_WR:
            // Sources never offer a stream they reset themselves, so the peer's STOP_SENDING
            // shut it: ngtcp2 0.12 answers that frame on its own and has no callback for it.
            stopped_by_peer_.push_back(chunk.stream_id);
            src.blocked(chunk.stream_id);
            continue;
          case NGTCP2_ERR_STREAM_NOT_FOUND:
            src.blocked(chunk.stream_id);  // closed; the source learns it from stream events
            continue;
          default:
            break;
        }
        if (ndatalen >= 0) {
          size_t total = 0;
          for (size_t i = 0; i < chunk.iovcnt; ++i)
            total += chunk.iov[i].iov_len;
          const auto n = static_cast<size_t>(ndatalen);
          src.written(chunk.stream_id, n, chunk.fin && n == total);
        }
      }
      if (nwrite == NGTCP2_ERR_WRITE_MORE) continue;
    }
    if (nwrite < 0) {
      st = on_engine_error(static_cast<int>(nwrite));
      return false;
    }
    if (nwrite == 0) return true;  // nothing more, congestion or pacing limited

    const auto n = static_cast<size_t>(nwrite);
    bytes_written_ += n;
    if (b.count == 0) {
      copy_addr(b.local, ps.path.local);
      copy_addr(b.remote, ps.path.remote);
      b.ecn = static_cast<uint8_t>(pi.ecn);
      b.segment = n;
    } else if (!same_addr(b.remote, ps.path.remote) || !same_addr(b.local, ps.path.local) ||
               pi.ecn != b.ecn || n > b.segment) {
      // Cannot join the run: hand it back as the odd packet and end this batch.
      copy_addr(b.extra_local, ps.path.local);
      copy_addr(b.extra_remote, ps.path.remote);
      b.extra_ecn = static_cast<uint8_t>(pi.ecn);
      b.extra_len = n;
      return false;
    }
    b.len += n;
    ++b.count;
    // A short packet ends a GSO run; so does the segment cap.
    if (n < b.segment || b.count >= max_segments) return false;
  }
}

bool QuicConn::handshake_completed() const noexcept {
  return ngtcp2_conn_get_handshake_completed(conn_) != 0;
}

std::string QuicConn::alpn() const {
  if (!tls_session_ || (early_offered_ && !handshake_completed())) return alpn_;
  return TlsContext::negotiated_alpn(static_cast<gnutls_session_t>(tls_session_));
}

bool QuicConn::resumed() const {
  if (!tls_session_) return resumed_;
  return TlsContext::resumed(static_cast<gnutls_session_t>(tls_session_));
}

std::vector<quic::Cid> QuicConn::scids() const {
  std::vector<ngtcp2_cid> raw(ngtcp2_conn_get_num_scid(conn_));
  raw.resize(ngtcp2_conn_get_scid(conn_, raw.data()));
  std::vector<quic::Cid> out;
  out.reserve(raw.size());
  for (const auto& c : raw)
    out.emplace_back(c.data, c.datalen);
  return out;
}

net::Address QuicConn::local_address() const {
  net::Address a;
  copy_addr(a, ngtcp2_conn_get_path(conn_)->local);
  return a;
}

net::Address QuicConn::remote_address() const {
  net::Address a;
  copy_addr(a, ngtcp2_conn_get_path(conn_)->remote);
  return a;
}

int64_t QuicConn::open_stream(bool bidi, std::error_code& ec) {
  int64_t id = -1;
  const int rv = bidi ? ngtcp2_conn_open_bidi_stream(conn_, &id, nullptr)
                      : ngtcp2_conn_open_uni_stream(conn_, &id, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) {
    ec = make_error_code(errc::stream_limit);
    return -1;
  }
  if (rv != 0) {
    ec = make_error_code(errc::internal);
    return -1;
  }
  open_streams_.insert(id);
  return id;
}

uint64_t QuicConn::streams_left(bool bidi) const noexcept {
  return bidi ? ngtcp2_conn_get_streams_bidi_left(conn_) : ngtcp2_conn_get_streams_uni_left(conn_);
}

void QuicConn::extend_stream_offset(int64_t id, size_t n) {
  if (n == 0) return;
  ngtcp2_conn_extend_max_stream_offset(conn_, id, n);
  ngtcp2_conn_extend_max_offset(conn_, n);
}

void QuicConn::shutdown_write(int64_t id, uint64_t code, std::error_code& ec) {
  if (ngtcp2_conn_shutdown_stream_write(conn_, id, code) != 0) {
    ec = make_error_code(errc::stream_not_found);
  }
}

void QuicConn::shutdown_read(int64_t id, uint64_t code, std::error_code& ec) {
  if (ngtcp2_conn_shutdown_stream_read(conn_, id, code) != 0) {
    ec = make_error_code(errc::stream_not_found);
  }
}

bool QuicConn::is_local_stream(int64_t id) const noexcept {
  return ngtcp2_conn_is_local_stream(conn_, id) != 0;
}

size_t QuicConn::max_datagram_size() const noexcept {
  const ngtcp2_transport_params* rp = ngtcp2_conn_get_remote_transport_params(conn_);
  if (!rp || rp->max_datagram_frame_size == 0) return 0;
  // A DATAGRAM frame with a length field costs 1 type byte + up to 8 length bytes; the packet
  // around it must also fit the path.
  constexpr size_t kFrameOverhead = 9;
  constexpr size_t kPacketOverhead = 1 + NGTCP2_MAX_CIDLEN + 4 + 16;  // header + AEAD tag
  const size_t by_frame = rp->max_datagram_frame_size > kFrameOverhead
                              ? rp->max_datagram_frame_size - kFrameOverhead
                              : 0;
  const size_t path = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
  const size_t by_path =
      path > kPacketOverhead + kFrameOverhead ? path - kPacketOverhead - kFrameOverhead : 0;
  return std::min(by_frame, by_path);
}

uint64_t QuicConn::smoothed_rtt_ns() const {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_, &cs);
  return cs.smoothed_rtt;
}

void QuicConn::fill_stats(ConnectionStats& s) const {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_, &cs);
  s.smoothed_rtt = std::chrono::nanoseconds(cs.smoothed_rtt);
  s.min_rtt = std::chrono::nanoseconds(cs.min_rtt == UINT64_MAX ? 0 : cs.min_rtt);
  s.latest_rtt = std::chrono::nanoseconds(cs.latest_rtt);
  s.rtt_variance = std::chrono::nanoseconds(cs.rttvar);
  s.cwnd = cs.cwnd;
  s.bytes_in_flight = cs.bytes_in_flight;
  s.delivery_rate = cs.delivery_rate_sec;
  s.pto_count = cs.pto_count;
  s.max_udp_payload = ngtcp2_conn_get_path_max_tx_udp_payload_size(conn_);
  uint64_t lost = lost_on_closed_streams_;
  for (int64_t id : open_streams_)
    lost += ngtcp2_conn_get_stream_loss_count(conn_, id);
  s.packets_lost = lost;
  s.datagrams_lost = datagrams_lost_;
}

bool QuicConn::migrate(const net::Address& new_local, uint64_t ts, std::error_code& ec) {
  if (!confirmed_) return false;
  const net::Address remote = remote_address();
  const ngtcp2_path path = make_path(new_local, remote);
  const int rv = ngtcp2_conn_initiate_immediate_migration(conn_, &path, ts);
  if (rv == NGTCP2_ERR_CONN_ID_BLOCKED) return false;
  if (rv != 0) ec = make_error_code(errc::invalid_argument);
  return rv == 0;
}

}  // namespace asioquic::engine
