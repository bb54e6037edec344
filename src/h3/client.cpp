// Client face of the HTTP/3 driver: request_fields, ClientResponse, ClientRequest,
// ClientH3Controller, ClientH3Driver and async_connect().

#include "h3/driver.hpp"

namespace asioquic::h3 {

using detail::Driver;

Fields request_fields(std::string_view method, std::string_view authority, std::string_view path,
                      Fields extra, std::string_view scheme) {
  Fields f;
  f.reserve(4 + extra.size());
  f.push_back({":method", std::string(method)});
  f.push_back({":scheme", std::string(scheme)});
  f.push_back({":authority", std::string(authority)});
  f.push_back({":path", std::string(path)});
  for (auto& e : extra)
    f.push_back(std::move(e));
  return f;
}

int ClientResponse::status() const {
  return s_->status;
}

const Fields& ClientResponse::headers() const {
  return s_->headers;
}

void ClientRequest::response(
    const std::shared_ptr<detail::Stream>& s,
    asioquic::detail::Completion<void(std::error_code, ClientResponse)> c) {
  s->driver->post([s = s, c = std::move(c)]() mutable { s->driver->response(s, std::move(c)); });
}

asio::any_io_executor ClientH3Controller::executor_of(const std::shared_ptr<Driver>& d) {
  return d->executor();
}

void ClientH3Controller::request(
    const std::shared_ptr<Driver>& d, Fields f, std::optional<Buffer> b,
    asioquic::detail::Completion<void(std::error_code, ClientResponse)> c) {
  d->post([d = d, f = std::move(f), b = std::move(b), c = std::move(c)]() mutable {
    d->request(std::move(f), std::move(b), std::move(c));
  });
}

void ClientH3Controller::open(
    const std::shared_ptr<Driver>& d, Fields f,
    asioquic::detail::Completion<void(std::error_code, ClientRequest)> c) {
  d->post([d = d, f = std::move(f), c = std::move(c)]() mutable {
    d->open(std::move(f), std::move(c));
  });
}

void ClientH3Controller::shutdown() const {
  // A client has nothing to drain but its own requests: stop taking new ones and close when
  // the running ones are done.
  d_->post([d = d_] { d->shutdown(std::chrono::hours(24)); });
}

void ClientH3Controller::close(uint64_t code) const {
  d_->post([d = d_, code] { d->close(code); });
}

// ------------------------------------------------------------------ ClientH3Driver

ClientH3Driver::ClientH3Driver(const Settings& settings)
    : H3Driver(std::make_shared<Driver>(false, settings, asio::any_io_executor())) {}

ClientH3Controller ClientH3Driver::controller(ConnectionHandle conn) const {
  return detail::ClientOps::controller(d_, std::move(conn));
}

namespace detail {

void start_h3_connect(const asio::any_io_executor& ex, std::string host, uint16_t port,
                      const ClientSettings& quic, const Settings& h3,
                      asioquic::detail::Completion<void(std::error_code, ClientH3Controller)> c) {
  ClientSettings q = quic;
  if (q.tls.alpn.empty()) q.tls.alpn = {"h3"};
  auto driver = std::make_shared<ClientH3Driver>(h3);
  asioquic::detail::start_connect(
      ex, std::move(host), port, q, driver,
      asioquic::detail::Completion<void(std::error_code, ConnectionHandle)>(
          [driver, c = std::move(c)](std::error_code ec, ConnectionHandle conn) mutable {
            if (ec) return c.complete(ec, ClientH3Controller());
            c.complete({}, driver->controller(std::move(conn)));
          },
          ex));
}

}  // namespace detail
}  // namespace asioquic::h3
