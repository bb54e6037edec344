#include "server/static_files.hpp"

#include "common/file_reader.hpp"
#include "server/directory_listing.hpp"
#include "server/mime_types.hpp"
#include "server/ranged_body.hpp"
#include "server/url_path.hpp"

namespace asioquic::tools {
namespace {

// An error page: status and a one-line explanation.
asio::awaitable<void> fail(const h3::ServerRequest& req, Reply& reply, int status,
                           std::string text) {
  h3::Fields fields{{"content-type", "text/plain; charset=utf-8"}};
  co_await reply.respond(status, std::move(fields), std::move(text) + "\n", req.method() == "HEAD");
}

// The HTTP status for a failure to find or open a file.
int status_for(const std::error_code& ec) {
  if (ec == std::errc::no_such_file_or_directory || ec == std::errc::not_a_directory) return 404;
  if (ec == std::errc::permission_denied || ec == std::errc::is_a_directory ||
      ec == std::errc::invalid_argument) {
    return 403;
  }
  return 500;
}

}  // namespace

StaticFiles::Target StaticFiles::resolve(std::string_view request_path) const {
  Target t;
  t.raw = target_path(request_path);
  auto decoded = percent_decode(t.raw);
  if (!decoded) return Target::rejected(400, "malformed percent-encoding in path");
  const auto segments = safe_segments(*decoded);
  if (!segments) return Target::rejected(400, "path leaves the served directory");
  t.decoded = std::move(*decoded);
  t.path = root_;
  for (const auto& s : *segments)
    t.path /= s;
  return t;
}

FileCache::Hit StaticFiles::cached(std::string_view path) const {
  return cache_->find(path, FileCache::Clock::now());
}

// Not a coroutine: it picks the one that answers, so a cached file costs a single frame (the
// memory send_ranged's) and the rarer paths (disk, directories, errors) live in
// serve_uncached's.
asio::awaitable<void> StaticFiles::serve(const h3::ServerRequest& req, Reply& reply) const {
  if (auto hit = cached(target_path(req.path())); hit.contents)
    return send_ranged(reply, req, hit.type, std::move(hit.contents));
  return serve_uncached(req, reply, resolve(req.path()));
}

asio::awaitable<void> StaticFiles::serve_uncached(const h3::ServerRequest& req, Reply& reply,
                                                  Target t) const {
  if (t.status != 0) co_return co_await fail(req, reply, t.status, std::move(t.text));
  std::error_code ec;
  const auto st = std::filesystem::status(t.path, ec);
  if (ec) co_return co_await fail(req, reply, status_for(ec), ec.message());
  if (!std::filesystem::is_directory(st)) co_return co_await serve_file(req, reply, t.path, t.raw);

  // A directory: relative links on its page need the final '/'.
  if (!t.decoded.ends_with('/')) {
    std::string location = std::string(t.raw) + "/" + std::string(req.path().substr(t.raw.size()));
    h3::Fields fields{{"location", location}, {"content-type", "text/plain; charset=utf-8"}};
    co_await reply.respond(301, std::move(fields), "moved to " + location + "\n",
                           req.method() == "HEAD");
    co_return;
  }
  const auto index = t.path / "index.html";
  if (std::filesystem::is_regular_file(index, ec)) {
    co_return co_await serve_file(req, reply, index, t.raw);
  }
  std::string html = directory_listing(t.path, t.decoded, ec);
  if (ec) co_return co_await fail(req, reply, status_for(ec), ec.message());
  const auto type = content_type_for("index.html");
  co_await send_ranged(reply, req, type, std::make_shared<const std::string>(std::move(html)));
}

asio::awaitable<void> StaticFiles::serve_file(const h3::ServerRequest& req, Reply& reply,
                                              const std::filesystem::path& file,
                                              std::string_view cache_key) const {
  std::error_code ec;
  auto reader = FileReader::open(file, ec);
  if (!reader) co_return co_await fail(req, reply, status_for(ec), ec.message());
  const auto type = content_type_for(file.filename().string());
  if (reader->size() <= cache_->max_file()) {
    const auto now = FileCache::Clock::now();
    Buffer all = reader->read(0, static_cast<size_t>(reader->size()), ec);
    if (ec) co_return co_await fail(req, reply, 500, ec.message());
    auto contents =
        std::make_shared<const std::string>(reinterpret_cast<const char*>(all.data()), all.size());
    cache_->store(cache_key, contents, type, now);
    co_await send_ranged(reply, req, type, std::move(contents));
    co_return;
  }
  ChunkSource source = [reader](uint64_t offset, size_t max, std::error_code& rec) {
    return reader->read(offset, max, rec);
  };
  co_await send_ranged(reply, req, type, reader->size(), source);
}

}  // namespace asioquic::tools
