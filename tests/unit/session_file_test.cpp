// asioquic-client's --session-file store: tickets survive a save and a load, the file is
// private to its owner, and what does not parse is skipped rather than fatal.
#include "client/session_file.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace {

using asioquic::tools::SessionFile;
using Ticket = std::vector<uint8_t>;

class SessionFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/asioquic-session-XXXXXX";
    const int fd = ::mkstemp(name);
    ASSERT_GE(fd, 0);
    ::close(fd);
    path_ = name;
    std::remove(path_.c_str());
  }
  void TearDown() override { std::remove(path_.c_str()); }

  std::string path_;
};

TEST_F(SessionFileTest, MissingFileIsAnEmptyStore) {
  SessionFile f;
  std::string error;
  ASSERT_TRUE(f.load(path_, error)) << error;
  EXPECT_FALSE(f.take("a:443 unverified"));
}

TEST_F(SessionFileTest, TicketsSurviveSaveAndLoad) {
  std::string error;
  {
    SessionFile f;
    ASSERT_TRUE(f.load(path_, error)) << error;
    f.put("example.org:443 system-trust", Ticket{0x00, 0xff, 0x10});
    f.put("127.0.0.1:4433 unverified", Ticket{0xab});
    ASSERT_TRUE(f.save(error)) << error;
  }
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  SessionFile g;
  ASSERT_TRUE(g.load(path_, error)) << error;
  EXPECT_EQ(g.take("example.org:443 system-trust"), (Ticket{0x00, 0xff, 0x10}));
  EXPECT_EQ(g.take("127.0.0.1:4433 unverified"), Ticket{0xab});
  EXPECT_FALSE(g.take("127.0.0.1:4433 unverified"));  // taken once
}

TEST_F(SessionFileTest, LinesThatDoNotParseAreSkipped) {
  {
    std::ofstream out(path_);
    out << "no tab here\n"
        << "\tabcd\n"                 // no key
        << "odd:1 unverified\tabc\n"  // odd hex length
        << "bad:1 unverified\tzz\n"   // not hex
        << "good:1 unverified\t0102\n";
  }
  SessionFile f;
  std::string error;
  ASSERT_TRUE(f.load(path_, error)) << error;
  EXPECT_FALSE(f.take("odd:1 unverified"));
  EXPECT_FALSE(f.take("bad:1 unverified"));
  EXPECT_EQ(f.take("good:1 unverified"), (Ticket{1, 2}));
}

TEST_F(SessionFileTest, UnwritablePathIsReported) {
  SessionFile f;
  std::string error;
  ASSERT_TRUE(f.load("/nonexistent-dir/session.txt", error)) << error;
  f.put("a:1 unverified", Ticket{1});
  EXPECT_FALSE(f.save(error));
  EXPECT_NE(error.find("/nonexistent-dir/session.txt"), std::string::npos) << error;
}

TEST_F(SessionFileTest, UnreadableFileIsReported) {
  SessionFile f;
  std::string error;
  // A directory opens but cannot be read as a file.
  EXPECT_FALSE(f.load("/", error));
  EXPECT_FALSE(error.empty());
}

}  // namespace
