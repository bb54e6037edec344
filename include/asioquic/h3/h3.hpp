// asio-quic HTTP/3: include this for the server and client APIs.
#pragma once

#include "asioquic/h3/client.hpp"
#include "asioquic/h3/driver.hpp"
#include "asioquic/h3/fields.hpp"
#include "asioquic/h3/message.hpp"
#include "asioquic/h3/server.hpp"
#include "asioquic/h3/settings.hpp"
