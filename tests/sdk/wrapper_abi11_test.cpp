// pounce.hpp against the ABI 1.1 rules (issue 11 #4), with a fake host that
// knows which thread is "the loop", as the real one does: calls marked
// "owning loop only" answer POUNCE_ERR_STATE elsewhere.
//  - Stream/WebSocket::set_user keep the old value when the host refused;
//  - a Timer destroyed (or stopped) on another thread never calls back into
//    freed memory, and its stop reaches the loop;
//  - the descriptor's size is POUNCE_PLUGIN_SIZE.
// Run it in the ASan build: a callback through a dangling Timer is a
// heap-use-after-free report, a core never freed a leak.
#include <gtest/gtest.h>
#include <pounce/pounce.hpp>

#include "fake_host.h"

#include <map>
#include <memory>
#include <thread>
#include <vector>

namespace {

using namespace pounce_test;

class WrapperAbi11 : public FakeHostTest {
 protected:
  template <typename F>
  static void on_other_thread(F f) {
    std::thread t(f);
    t.join();
  }
};

TEST_F(WrapperAbi11, SetUserKeepsTheOldValueWhenTheHostRefuses) {
  int a = 0, b = 0;
  pounce::Stream s(7, &a);
  loop_.set_user_rc = POUNCE_ERR_CLOSED;
  EXPECT_EQ(s.set_user(&b), POUNCE_ERR_CLOSED);
  EXPECT_EQ(s.user<int>(), &a);
  on_other_thread([&] { EXPECT_EQ(s.set_user(&b), POUNCE_ERR_STATE); });
  EXPECT_EQ(s.user<int>(), &a);
  loop_.set_user_rc = POUNCE_OK;
  EXPECT_EQ(s.set_user(&b), POUNCE_OK);
  EXPECT_EQ(s.user<int>(), &b);

  pounce::WebSocket w(9, &a);
  loop_.set_user_rc = POUNCE_ERR_STATE;
  EXPECT_EQ(w.set_user(&b), POUNCE_ERR_STATE);
  EXPECT_EQ(w.user<int>(), &a);
}

TEST_F(WrapperAbi11, ATimerDestroyedOffTheLoopNeverCallsBack) {
  int calls = 0;
  auto* t = new pounce::Timer;
  ASSERT_TRUE(t->start(1, 10, 10, [&] { ++calls; }));
  loop_.fire_all();
  EXPECT_EQ(calls, 1);
  on_other_thread([&] { delete t; });
  // The host's timer is still armed until the loop runs the posted stop:
  // firing it now must reach neither the freed Timer nor the callback.
  ASSERT_EQ(loop_.timers.size(), 1u);
  loop_.fire_all();
  EXPECT_EQ(calls, 1);
  loop_.run_posted();
  EXPECT_TRUE(loop_.timers.empty());
  loop_.fire_all();
  EXPECT_EQ(calls, 1);
}

TEST_F(WrapperAbi11, ATimerDestroyedOffTheLoopAfterItsOwnerClosedFreesAll) {
  auto* t = new pounce::Timer;
  ASSERT_TRUE(t->start(1, 10, 0, [] {}));
  // The owner closed: the host stopped its timers, and refuses posts.
  loop_.timers.clear();
  loop_.owner_alive = false;
  on_other_thread([&] { delete t; });
  EXPECT_TRUE(loop_.posted.empty());  // nothing left behind (ASan: no leak)
}

TEST_F(WrapperAbi11, ATimerStoppedOffTheLoopIsStoppedOnTheLoop) {
  int calls = 0;
  pounce::Timer t;
  ASSERT_TRUE(t.start(1, 10, 10, [&] { ++calls; }));
  on_other_thread([&] { t.stop(); });
  EXPECT_FALSE(t.active());
  loop_.run_posted();
  EXPECT_TRUE(loop_.timers.empty());
  loop_.fire_all();
  EXPECT_EQ(calls, 0);
}

TEST_F(WrapperAbi11, ATimerStartedOffTheLoopFails) {
  pounce::Timer t;
  on_other_thread([&] { EXPECT_FALSE(t.start(1, 10, 0, [] {})); });
  EXPECT_TRUE(loop_.timers.empty());
}

TEST_F(WrapperAbi11, ATimerDestroyedByItsOwnCallbackStillWorks) {
  auto* t = new pounce::Timer;
  int calls = 0;
  ASSERT_TRUE(t->start(1, 10, 10, [&] {
    ++calls;
    delete t;
  }));
  loop_.fire_all();
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(loop_.timers.empty());
}

class Probe : public pounce::Plugin {
 public:
  explicit Probe(const pounce::InitArgs&) {}
};

TEST(WrapperDescriptor, SizeIsPouncePluginSize) {
  const pounce_plugin_t* d = pounce::detail::Adapter<Probe>::descriptor(
      pounce::PluginInfo{.name = "probe", .websocket = true});
  EXPECT_EQ(d->size, POUNCE_PLUGIN_SIZE);
  EXPECT_EQ(d->size, sizeof(pounce_plugin_t));
  EXPECT_NE(d->on_ws_upgrade_abandoned, nullptr);
}

}  // namespace
