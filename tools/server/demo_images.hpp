// The images of the demo page: SVGs drawn in code and two tiny PNGs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace asioquic::tools {

struct DemoImage {
  std::string path;  // request path, e.g. "/img/circle.svg"
  std::string_view content_type;
  std::string bytes;
  std::string alt;
};

/// The demo page's images, in page order. Never fails.
std::vector<DemoImage> demo_images();

}  // namespace asioquic::tools
