// asio-quic: QUIC and HTTP/3 for C++20 on Asio. Include this for everything.
#pragma once

#include "asioquic/application.hpp"
#include "asioquic/buffer.hpp"
#include "asioquic/certificate.hpp"
#include "asioquic/client.hpp"
#include "asioquic/connection.hpp"
#include "asioquic/connection_handle.hpp"
#include "asioquic/endpoint.hpp"
#include "asioquic/error.hpp"
#include "asioquic/listener.hpp"
#include "asioquic/session_store.hpp"
#include "asioquic/settings.hpp"
