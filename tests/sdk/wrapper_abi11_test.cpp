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

#include <map>
#include <memory>
#include <thread>
#include <vector>

namespace {

struct FakeTimer {
  pounce_timer_fn fn;
  void* user;
  uint64_t repeat_ms;
};

struct FakeLoop {
  std::thread::id loop_thread = std::this_thread::get_id();
  std::map<pounce_timer_t, FakeTimer> timers;
  pounce_timer_t next_id = 1;
  std::vector<std::pair<pounce_callback_fn, void*>> posted;
  bool owner_alive = true;
  int set_user_rc = POUNCE_OK;

  bool on_loop() const { return std::this_thread::get_id() == loop_thread; }
  void fire_all() {
    std::vector<pounce_timer_t> due;
    for (const auto& [id, t] : timers) due.push_back(id);
    for (pounce_timer_t id : due) {
      auto it = timers.find(id);
      if (it == timers.end()) continue;
      FakeTimer t = it->second;
      t.fn(t.user, id);
      if (t.repeat_ms == 0) timers.erase(id);
    }
  }
  void run_posted() {
    while (!posted.empty()) {
      auto [fn, user] = posted.front();
      posted.erase(posted.begin());
      fn(user);
    }
  }
};

FakeLoop* g_loop = nullptr;

pounce_timer_t fake_timer_start(uint64_t, uint64_t, uint64_t repeat_ms,
                                pounce_timer_fn fn, void* user) {
  if (!g_loop->on_loop()) return 0;
  pounce_timer_t id = g_loop->next_id++;
  g_loop->timers[id] = {fn, user, repeat_ms};
  return id;
}

int fake_timer_stop(pounce_timer_t id) {
  if (!g_loop->on_loop()) return POUNCE_ERR_STATE;
  g_loop->timers.erase(id);
  return POUNCE_OK;
}

// Called from the test's other thread only while the loop thread waits in
// join(): the fake needs no lock.
int fake_post(uint64_t, pounce_callback_fn fn, void* user) {
  if (!g_loop->owner_alive) return POUNCE_ERR_CLOSED;
  g_loop->posted.emplace_back(fn, user);
  return POUNCE_OK;
}

int fake_set_user(uint64_t, void*) {
  return g_loop->on_loop() ? g_loop->set_user_rc : POUNCE_ERR_STATE;
}

class WrapperAbi11 : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.size = sizeof api_;
    api_.timer_start = fake_timer_start;
    api_.timer_stop = fake_timer_stop;
    api_.post = fake_post;
    api_.stream_set_user = fake_set_user;
    api_.ws_set_user = fake_set_user;
    g_loop = &loop_;
    pounce::detail::g_host = &api_;
  }
  void TearDown() override {
    g_loop = nullptr;
    pounce::detail::g_host = nullptr;
  }
  template <typename F>
  static void on_other_thread(F f) {
    std::thread t(f);
    t.join();
  }

  pounce_host_api_t api_{};
  FakeLoop loop_;
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
