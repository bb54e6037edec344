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

asio::awaitable<void> StaticFiles::serve(const h3::ServerRequest& req, Reply& reply) const {
  const std::string_view raw = target_path(req.path());
  const auto decoded = percent_decode(raw);
  if (!decoded) co_return co_await fail(req, reply, 400, "malformed percent-encoding in path");
  const auto segments = safe_segments(*decoded);
  if (!segments) co_return co_await fail(req, reply, 400, "path leaves the served directory");

  std::filesystem::path path = root_;
  for (const auto& s : *segments)
    path /= s;
  if (auto cached = cache_->find(path, FileCache::Clock::now())) {
    const uint64_t size = cached->size();
    co_await send_ranged(reply, req, content_type_for(path.filename().string()), size,
                         memory_source(std::move(cached)));
    co_return;
  }
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec) co_return co_await fail(req, reply, status_for(ec), ec.message());
  if (!std::filesystem::is_directory(st)) co_return co_await serve_file(req, reply, path);

  // A directory: relative links on its page need the final '/'.
  if (!decoded->ends_with('/')) {
    std::string location = std::string(raw) + "/" + std::string(req.path().substr(raw.size()));
    h3::Fields fields{{"location", location}, {"content-type", "text/plain; charset=utf-8"}};
    co_await reply.respond(301, std::move(fields), "moved to " + location + "\n",
                           req.method() == "HEAD");
    co_return;
  }
  const auto index = path / "index.html";
  if (std::filesystem::is_regular_file(index, ec)) co_return co_await serve_file(req, reply, index);
  std::string html = directory_listing(path, *decoded, ec);
  if (ec) co_return co_await fail(req, reply, status_for(ec), ec.message());
  const auto type = content_type_for("index.html");
  auto body = std::make_shared<const std::string>(std::move(html));
  co_await send_ranged(reply, req, type, body->size(), memory_source(body));
}

asio::awaitable<void> StaticFiles::serve_file(const h3::ServerRequest& req, Reply& reply,
                                              const std::filesystem::path& file) const {
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
    cache_->store(file, contents, now);
    const uint64_t size = contents->size();
    co_await send_ranged(reply, req, type, size, memory_source(std::move(contents)));
    co_return;
  }
  ChunkSource source = [reader](uint64_t offset, size_t max, std::error_code& rec) {
    return reader->read(offset, max, rec);
  };
  co_await send_ranged(reply, req, type, reader->size(), source);
}

}  // namespace asioquic::tools
