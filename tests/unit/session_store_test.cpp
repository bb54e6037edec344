// The in-memory SessionStore: one ticket per key, taken once, the oldest key forgotten first.
#include <asioquic/session_store.hpp>

#include <gtest/gtest.h>

namespace {

using Ticket = std::vector<uint8_t>;

TEST(SessionStore, TakeReturnsTheLastTicketOnce) {
  auto store = asioquic::make_session_store();
  EXPECT_FALSE(store->take("a:443"));
  store->put("a:443", Ticket{1});
  store->put("a:443", Ticket{2});
  EXPECT_EQ(store->take("a:443"), Ticket{2});
  EXPECT_FALSE(store->take("a:443"));
}

TEST(SessionStore, KeysAreKeptApart) {
  auto store = asioquic::make_session_store();
  store->put("a:443", Ticket{1});
  store->put("b:443", Ticket{2});
  EXPECT_FALSE(store->take("a:8443"));
  EXPECT_EQ(store->take("b:443"), Ticket{2});
  EXPECT_EQ(store->take("a:443"), Ticket{1});
}

TEST(SessionStore, BeyondCapacityTheOldestStoredGoes) {
  auto store = asioquic::make_session_store(2);
  store->put("a", Ticket{1});
  store->put("b", Ticket{2});
  store->put("a", Ticket{3});  // a is now the newest
  store->put("c", Ticket{4});  // b goes
  EXPECT_FALSE(store->take("b"));
  EXPECT_EQ(store->take("a"), Ticket{3});
  EXPECT_EQ(store->take("c"), Ticket{4});
}

TEST(SessionStore, CapacityZeroStillKeepsOne) {
  auto store = asioquic::make_session_store(0);
  store->put("a", Ticket{1});
  store->put("b", Ticket{2});
  EXPECT_FALSE(store->take("a"));
  EXPECT_EQ(store->take("b"), Ticket{2});
}

}  // namespace
