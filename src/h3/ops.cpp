// The handles' operations: each one hops to the connection's executor and runs there.
// Handlers take `s = s`, not `[s]`: capturing the const reference by copy makes a const member,
// which every move of the handler inside Asio then copies (an atomic count each time).

#include "h3/driver.hpp"

namespace asioquic::h3::detail {

asio::any_io_executor Ops::executor(const std::shared_ptr<Stream>& s) {
  return s->driver->executor();
}

void Ops::read_some(const std::shared_ptr<Stream>& s, asio::mutable_buffer buf,
                    Completion<void(std::error_code, size_t)> c) {
  s->driver->post(
      [s = s, buf, c = std::move(c)]() mutable { s->driver->read_some(s, buf, std::move(c)); });
}

void Ops::read_all(const std::shared_ptr<Stream>& s, size_t limit,
                   Completion<void(std::error_code, std::string)> c) {
  s->driver->post(
      [s = s, limit, c = std::move(c)]() mutable { s->driver->read_all(s, limit, std::move(c)); });
}

void Ops::read_buffer(const std::shared_ptr<Stream>& s, size_t max,
                      Completion<void(std::error_code, Buffer)> c) {
  s->driver->post(
      [s = s, max, c = std::move(c)]() mutable { s->driver->read_buffer(s, max, std::move(c)); });
}

void Ops::write(const std::shared_ptr<Stream>& s, Buffer data,
                Completion<void(std::error_code)> c) {
  s->driver->post([s = s, d = std::move(data), c = std::move(c)]() mutable {
    s->driver->write(s, std::move(d), std::move(c));
  });
}

void Ops::finish(const std::shared_ptr<Stream>& s, Fields trailers,
                 Completion<void(std::error_code)> c) {
  s->driver->post([s = s, t = std::move(trailers), c = std::move(c)]() mutable {
    s->driver->finish(s, std::move(t), std::move(c));
  });
}

void Ops::send_headers(const std::shared_ptr<Stream>& s, int status, Fields fields,
                       Completion<void(std::error_code)> c) {
  s->driver->post([s = s, status, f = std::move(fields), c = std::move(c)]() mutable {
    s->driver->send_headers(s, status, std::move(f), std::move(c));
  });
}

void Ops::reset(const std::shared_ptr<Stream>& s, uint64_t code) {
  s->driver->post([s = s, code] { s->driver->reset_stream(s, code); });
}

void Ops::stop_reading(const std::shared_ptr<Stream>& s, uint64_t code) {
  s->driver->post([s = s, code] { s->driver->stop_reading(s, code); });
}

const Fields& Ops::trailers(const std::shared_ptr<Stream>& s) {
  return s->trailers;
}

uint64_t Ops::reset_code(const std::shared_ptr<Stream>& s) {
  return s->reset_code;
}

int64_t Ops::stream_id(const std::shared_ptr<Stream>& s) {
  return s->id;
}

}  // namespace asioquic::h3::detail
