// asioquic-server's --secret-file: exactly 64 hex digits, white space around them allowed.
#include "server/secret_file.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace {

using asioquic::tools::read_secret_file;

class SecretFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/asioquic-secret-XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = name;
  }
  void TearDown() override { std::remove(path_.c_str()); }

  void write(const std::string& text) { std::ofstream(path_) << text; }

  std::string path_;
};

TEST_F(SecretFileTest, ReadsSixtyFourHexDigits) {
  write("  00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF\n");
  std::string error;
  const auto secret = read_secret_file(path_, error);
  ASSERT_TRUE(secret) << error;
  EXPECT_EQ((*secret)[0], 0x00);
  EXPECT_EQ((*secret)[15], 0xff);
  EXPECT_EQ((*secret)[31], 0xff);
}

TEST_F(SecretFileTest, RejectsAnythingElse) {
  for (const char* text :
       {"", "0011", "zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00",
        "00112233445566778899aabbccddeeff 00112233445566778899aabbccddeeff"}) {
    write(text);
    std::string error;
    EXPECT_FALSE(read_secret_file(path_, error)) << text;
    EXPECT_NE(error.find("64 hex digits"), std::string::npos) << error;
  }
}

TEST_F(SecretFileTest, MissingFileIsReported) {
  std::string error;
  EXPECT_FALSE(read_secret_file("/nonexistent-dir/secret", error));
  EXPECT_NE(error.find("/nonexistent-dir/secret"), std::string::npos) << error;
}

}  // namespace
