// client_tls(): the TLS contexts of client connections, shared by every connection with the
// same TLS settings, and kept for a while after the last of them closed.
#pragma once

#include <memory>
#include <system_error>

#include "asioquic/settings.hpp"
#include "engine/tls_context.hpp"

namespace asioquic::quic {

/// The client TLS context for `t`: the one already in use by a connection with the same
/// settings, or one of the last kRecentClientTls created (kept alive, so that a program that
/// connects again after closing does not load the system trust store again: ~55 M
/// instructions, ~10 ms), else a new one. Thread-safe. On failure returns null and sets `ec`
/// as engine::TlsContext::create does.
std::shared_ptr<const engine::TlsContext> client_tls(const TlsSettings& t, std::error_code& ec);

inline constexpr size_t kRecentClientTls = 4;

}  // namespace asioquic::quic
