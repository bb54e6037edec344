// StaticFiles: GET and HEAD for the files under a directory (--root).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include <asio/awaitable.hpp>

#include <asioquic/h3/server.hpp>

#include "server/file_cache.hpp"
#include "server/reply.hpp"

namespace asioquic::tools {

class StaticFiles {
 public:
  explicit StaticFiles(std::filesystem::path root)
      : root_(std::move(root)), cache_(std::make_unique<FileCache>()) {}

  /// Answers a GET or HEAD from the files under the root: the file (content type from its
  /// extension, Range supported, streamed from disk), a directory's index.html or else a
  /// generated listing, a redirect from a directory path without its final '/'. Failures are
  /// answered too: 400 for a malformed or escaping path ("..", also percent-encoded), 403 when
  /// access is denied or the file is not a regular one, 404 when it does not exist, 500 for
  /// other errors. Send errors are kept in `reply`. Files up to 64 KiB are served from memory
  /// for up to a second after they were read (FileCache).
  asio::awaitable<void> serve(const h3::ServerRequest& req, Reply& reply) const;
  /// The cached contents for a request's `path` without its query (target_path(); a null
  /// `contents` if there are none): what serve() would send without reading the disk.
  FileCache::Hit cached(std::string_view path) const;

 private:
  // A request's path mapped under the root, or why it cannot be (status != 0).
  struct Target {
    int status = 0;
    std::string text;
    std::string_view raw;  // the request's path without its query, still percent-encoded
    std::string decoded;
    std::filesystem::path path;

    static Target rejected(int s, std::string why) {
      Target t;
      t.status = s;
      t.text = std::move(why);
      return t;
    }
  };

  Target resolve(std::string_view request_path) const;
  asio::awaitable<void> serve_uncached(const h3::ServerRequest& req, Reply& reply, Target t) const;
  // Sends `file`; a small one is cached under `cache_key` (the request's raw path).
  asio::awaitable<void> serve_file(const h3::ServerRequest& req, Reply& reply,
                                   const std::filesystem::path& file,
                                   std::string_view cache_key) const;

  std::filesystem::path root_;
  std::unique_ptr<FileCache> cache_;
};

}  // namespace asioquic::tools
