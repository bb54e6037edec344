// async_connect(): resolve, open a socket with its own router, create the client IoWorker and
// let its first turn send the Initial. The completion fires from the worker once the
// application's on_conn_established has run, or with the reason the handshake failed.
#include "asioquic/client.hpp"

#include <asio/ip/udp.hpp>
#include <asio/post.hpp>

#include "engine/tls_context.hpp"
#include "quic/client_tls_cache.hpp"
#include "quic/io_worker.hpp"

namespace asioquic::detail {
namespace {

using Done = Completion<void(std::error_code, ConnectionHandle)>;

struct ClientContext {
  ClientSettings settings;
  std::shared_ptr<const engine::TlsContext> tls;
};

// A server's key in the session store: the name its certificate is checked against, its port,
// and how the check is made, so that no ticket passes to a connection that would have verified
// the server differently.
std::string session_key(const std::string& host, uint16_t port, const TlsSettings& t) {
  std::string key = host + ':' + std::to_string(port);
  if (t.insecure_skip_verify) return key + " unverified";
  key += t.use_system_trust ? " system-trust" : " no-system-trust";
  if (!t.ca_file.empty()) key += " ca=" + t.ca_file;
  return key;
}

void fail(Done& done, std::error_code ec) {
  done.complete(ec, ConnectionHandle());
}

void connect_to(const asio::any_io_executor& ex, std::shared_ptr<ClientContext> ctx,
                const asio::ip::udp::endpoint& remote, std::string verify_host,
                std::shared_ptr<ApplicationOverQuic> app, Done done) {
  const ClientSettings& s = ctx->settings;
  asio::ip::udp::endpoint local(
      remote.address().is_v6() ? asio::ip::udp::v6() : asio::ip::udp::v4(), 0);
  if (!s.local_address.empty()) {
    asio::error_code aec;
    local.address(asio::ip::make_address(s.local_address, aec));
    if (aec) return fail(done, make_error_code(errc::invalid_argument));
  }
  std::error_code ec;
  auto sock = std::make_unique<net::UdpSocket>(
      ex, local, net::SocketOptions{s.socket_buffer, s.enable_gso, s.enable_gro}, ec);
  if (!ec) sock->connect(net::Address::from(remote), ec);
  if (ec) return fail(done, ec);
  const net::Address local_addr = sock->local_address();
  auto router = std::make_shared<quic::InboundPacketRouter>(
      quic::InboundPacketRouter::make_strand(ex), std::move(sock), quic::CidGenerator::kLength);
  // Everything that touches the router or worker happens on the router's strand.
  asio::post(router->executor(),
             [router, ctx, remote, local_addr, verify_host = std::move(verify_host),
              app = std::move(app), done = std::move(done)]() mutable {
               engine::ConnParams p;
               p.settings = &ctx->settings;
               p.server = false;
               p.local = local_addr;
               p.remote = net::Address::from(remote);
               p.dcid = quic::random_cid(18);
               p.scid = quic::random_cid(quic::CidGenerator::kLength);
               p.tls = ctx->tls;
               p.verify_host = verify_host;
               if (ctx->settings.session_store) {
                 p.session_store = ctx->settings.session_store.get();
                 p.session_key = session_key(verify_host, remote.port(), ctx->settings.tls);
                 p.early_data = ctx->settings.early_data;
               }
               p.initial_ts = engine::now_ns();

               quic::IoWorker::Config cfg;
               cfg.router = router;
               cfg.keepalive = ctx;
               cfg.app = std::move(app);
               std::error_code cec;
               auto w = quic::IoWorker::create(std::move(cfg), p, cec);
               if (!w) {
                 router->stop_accepting();
                 return fail(done, cec);
               }
               w->set_connect_waiter(std::move(done));
               router->start(nullptr);
               w->run_turn();  // sends the first Initial
             });
}

}  // namespace

void start_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                   const ClientSettings& settings, std::shared_ptr<ApplicationOverQuic> app,
                   Completion<void(std::error_code, ConnectionHandle)> done) {
  std::error_code ec;
  if (!app) ec = make_error_code(errc::invalid_argument);
  if (!ec) ec = validate(settings);
  auto ctx = std::make_shared<ClientContext>();
  if (!ec) {
    ctx->settings = settings;
    ctx->tls = quic::client_tls(settings.tls, ec);
  }
  if (ec) return fail(done, ec);

  std::string verify_host = settings.tls.server_name.empty() ? host : settings.tls.server_name;
  // An IP literal needs no resolver round trip.
  asio::error_code aec;
  const auto addr = asio::ip::make_address(host, aec);
  if (!aec) {
    return connect_to(ex, std::move(ctx), {addr, port}, std::move(verify_host), std::move(app),
                      std::move(done));
  }
  auto resolver = std::make_shared<asio::ip::udp::resolver>(ex);
  resolver->async_resolve(
      host, std::to_string(port),
      [resolver, ex, ctx = std::move(ctx), verify_host = std::move(verify_host),
       app = std::move(app), done = std::move(done)](
          const asio::error_code& rec, asio::ip::udp::resolver::results_type results) mutable {
        if (rec) return fail(done, rec);
        if (results.empty()) return fail(done, asio::error::host_not_found);
        // Prefer the family of a configured local address, else the first answer.
        auto pick = results.begin()->endpoint();
        if (!ctx->settings.local_address.empty()) {
          asio::error_code e;
          const bool want_v6 = asio::ip::make_address(ctx->settings.local_address, e).is_v6();
          for (const auto& r : results) {
            if (r.endpoint().address().is_v6() == want_v6) {
              pick = r.endpoint();
              break;
            }
          }
        }
        connect_to(ex, std::move(ctx), pick, std::move(verify_host), std::move(app),
                   std::move(done));
      });
}

}  // namespace asioquic::detail
