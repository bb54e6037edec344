// DemoSite: the built-in demo page served when no --root is given — HTML, a stylesheet, a
// script and several images, so a browser fetches many resources over one connection.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace asioquic::tools {

class DemoSite {
 public:
  struct Resource {
    std::string_view content_type;
    std::shared_ptr<const std::string> body;
  };

  /// Builds every resource once; requests then share them.
  DemoSite();

  /// The resource at a request path ("/" is the page), or null if there is none.
  const Resource* find(std::string_view path) const;

 private:
  std::map<std::string, Resource, std::less<>> resources_;
};

}  // namespace asioquic::tools
