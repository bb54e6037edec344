#include "server/router.hpp"

#include <chrono>

#include "common/numbers.hpp"
#include "server/ranged_body.hpp"
#include "server/upload.hpp"
#include "server/url_path.hpp"

namespace asioquic::tools {
namespace {

// The built-in endpoints, which dispatch() answers before files and the demo.
constexpr std::string_view kUploadPath = "/upload";
constexpr std::string_view kDiscardPath = "/discard";
constexpr std::string_view kBytesPrefix = "/bytes/";

// A short plain-text response; `allow`, if not empty, is sent as the `allow` field.
asio::awaitable<void> text(const h3::ServerRequest& req, Reply& reply, int status, std::string body,
                           std::string allow) {
  h3::Fields fields{{"content-type", "text/plain; charset=utf-8"}};
  if (!allow.empty()) fields.push_back({"allow", std::move(allow)});
  co_await reply.respond(status, std::move(fields), std::move(body) + "\n", req.method() == "HEAD");
}

// 405 naming the methods `allow`ed.
asio::awaitable<void> method_not_allowed(const h3::ServerRequest& req, Reply& reply,
                                         std::string allow) {
  std::string body = "method not allowed; use " + allow;
  co_await text(req, reply, 405, std::move(body), std::move(allow));
}

// GET or HEAD /bytes/N: `n` bytes of `pattern`, Range supported.
asio::awaitable<void> send_pattern(const h3::ServerRequest& req, Reply& reply,
                                   const BytePattern& pattern, uint64_t n) {
  const ChunkSource source = [&pattern](uint64_t offset, size_t max, std::error_code&) {
    return pattern.chunk(offset, max);
  };
  co_await send_ranged(reply, req, "application/octet-stream", n, source);
}

}  // namespace

Router::Router(std::optional<std::filesystem::path> root, RequestLog& log) : log_(log) {
  if (root) files_.emplace(std::move(*root));
}

asio::awaitable<void> Router::handle(h3::ServerRequest req, h3::ServerResponse res) const {
  const auto start = std::chrono::steady_clock::now();
  Reply reply(std::move(res));
  try {
    co_await dispatch(req, reply);
  } catch (const std::exception&) {
    reply.abort(make_error_code(errc::internal));
  }
  log_.write(req, reply, std::chrono::steady_clock::now() - start);
}

bool Router::answer_now(const h3::ServerRequest& req, const h3::ServerResponse& res) const {
  const std::string_view method = req.method();
  if (method != "GET" && method != "HEAD") return false;
  // Neither the cache nor the demo holds these paths; checked anyway, as dispatch() orders them.
  const std::string_view path = target_path(req.path());
  if (path == kUploadPath || path == kDiscardPath || path.starts_with(kBytesPrefix)) return false;
  std::optional<WholeResponse> w;
  if (files_) {
    if (auto hit = files_->cached(path); hit.contents)
      w = whole_response(req, hit.type, hit.contents);
  } else if (const DemoSite::Resource* r = demo_.find(path)) {
    w = whole_response(req, r->content_type, r->body);
  }
  if (!w) return false;
  if (!log_.enabled()) {  // nothing to report: no clock readings, nothing run at completion
    Reply::complete_detached(Reply(res), w->status, std::move(w->fields), std::move(w->body));
    return true;
  }
  const auto start = std::chrono::steady_clock::now();
  Reply::complete_then(Reply(res), w->status, std::move(w->fields), std::move(w->body),
                       [this, req, start](const Reply& reply) {
                         log_.write(req, reply, std::chrono::steady_clock::now() - start);
                       });
  return true;
}

// Not a coroutine: it returns the answering coroutine, so a request costs one frame fewer.
asio::awaitable<void> Router::dispatch(const h3::ServerRequest& req, Reply& reply) const {
  const std::string_view method = req.method();
  const std::string_view path = target_path(req.path());
  const bool get_or_head = method == "GET" || method == "HEAD";
  // Early data may be a replay: only what is safe to do twice is done before the handshake
  // completes (RFC 8470 §5.1); the client sends the rest again afterwards.
  if (req.early_data() && !get_or_head && method != "OPTIONS") {
    return text(req, reply, 425, "too early: send this request again after the handshake", "");
  }
  if (path == kUploadPath || path == kDiscardPath) {
    if (method != "POST" && method != "PUT") return method_not_allowed(req, reply, "POST, PUT");
    return serve_upload(req, reply, path == kUploadPath ? BodyDigest::sha256 : BodyDigest::none);
  }
  if (path.starts_with(kBytesPrefix)) {
    if (!get_or_head) return method_not_allowed(req, reply, "GET, HEAD");
    const auto n = parse_count(path.substr(kBytesPrefix.size()));
    if (!n) return text(req, reply, 400, "usage: /bytes/N with N a decimal count", "");
    return send_pattern(req, reply, pattern_, *n);
  }
  if (!get_or_head) return method_not_allowed(req, reply, "GET, HEAD");
  if (files_) return files_->serve(req, reply);
  const DemoSite::Resource* r = demo_.find(path);
  if (!r) return text(req, reply, 404, "not found", "");
  return send_ranged(reply, req, r->content_type, r->body);
}

}  // namespace asioquic::tools
