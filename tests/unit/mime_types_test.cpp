// asioquic-server's content types by file name extension.
#include "server/mime_types.hpp"

#include <gtest/gtest.h>

namespace asioquic::tools {
namespace {

TEST(ContentTypeFor, KnownExtensionsInAnyCase) {
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("INDEX.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("photo.JpEg"), "image/jpeg");
  EXPECT_EQ(content_type_for("font.woff2"), "font/woff2");
  EXPECT_EQ(content_type_for("font.woff"), "font/woff");  // not a prefix match of woff2
}

TEST(ContentTypeFor, OnlyTheLastSegmentAndExtensionCount) {
  EXPECT_EQ(content_type_for("/srv/www/app.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("/srv/site.html/data"), "application/octet-stream");
  EXPECT_EQ(content_type_for("archive.tar.gz"), "application/gzip");
}

TEST(ContentTypeFor, UnknownOrMissingExtension) {
  EXPECT_EQ(content_type_for("README"), "application/octet-stream");
  EXPECT_EQ(content_type_for(".htaccess"), "application/octet-stream");  // a dot file
  EXPECT_EQ(content_type_for("data.bin"), "application/octet-stream");
  EXPECT_EQ(content_type_for("trailing."), "application/octet-stream");
  EXPECT_EQ(content_type_for("x.htmlx"), "application/octet-stream");
  EXPECT_EQ(content_type_for(""), "application/octet-stream");
}

}  // namespace
}  // namespace asioquic::tools
