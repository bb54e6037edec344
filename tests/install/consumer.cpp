// Links against an installed asio-quic and exercises one call from each layer's headers.
#include <asioquic/asioquic.hpp>
#include <asioquic/h3/h3.hpp>

#include <iostream>

int main() {
  std::error_code ec;
  const auto cert = asioquic::make_self_signed_certificate({"localhost"}, ec);
  const auto pin = asioquic::spki_pin_sha256(cert.cert_pem, ec);
  const auto fields = asioquic::h3::request_fields("GET", "localhost", "/");
  asioquic::ServerSettings s;
  s.tls.alpn = {"h3"};
  s.tls.cert_pem = cert.cert_pem;
  s.tls.key_pem = cert.key_pem;
  if (ec || pin.empty() || fields.size() != 4 || asioquic::validate(s)) {
    std::cerr << "consumer: failed\n";
    return 1;
  }
  std::cout << "consumer: ok\n";
}
