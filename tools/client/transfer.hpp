// Transfer: one URL — its request, its response and where the body goes.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <asio/awaitable.hpp>

#include "client/exit_codes.hpp"
#include "client/output_sink.hpp"
#include "client/run_context.hpp"
#include "client/url.hpp"

namespace asioquic::tools {

class Session;

struct Transfer {
  std::string text;  // the URL as given
  Url url;
  std::string prefix;  // for -v lines: "[N] " when there are several URLs
  OutputSink sink;
  std::optional<size_t> stdout_ticket;  // set when the body goes to stdout
  ExitCode result = kExitOk;
};

/// Runs one transfer on `session`'s connection: sends the request (body streamed from -d),
/// retries on a new connection when the server is going away or rejected the request unseen,
/// and writes the response (headers with -I, else the body as it arrives) to the sink. The
/// outcome is in t.result; failures are reported through ctx. Always releases the transfer's
/// stdout turn.
asio::awaitable<void> run_transfer(RunContext& ctx, Session& session, Transfer& t);

}  // namespace asioquic::tools
