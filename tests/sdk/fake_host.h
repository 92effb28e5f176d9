// A fake pounce host table for the pounce.hpp wrapper tests: timers that fire
// when the test says so, on "the loop" (the thread that made the FakeLoop),
// one callback at a time, as the real host does; posted callbacks; and the
// "owning loop only" rule (POUNCE_ERR_STATE, or 0 from timer_start,
// elsewhere).
#pragma once

#include <gtest/gtest.h>
#include <pounce/pounce.hpp>

#include <map>
#include <thread>
#include <utility>
#include <vector>

namespace pounce_test {

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

inline FakeLoop* g_loop = nullptr;

inline pounce_timer_t fake_timer_start(uint64_t, uint64_t, uint64_t repeat_ms,
                                       pounce_timer_fn fn, void* user) {
  if (!g_loop->on_loop()) return 0;
  pounce_timer_t id = g_loop->next_id++;
  g_loop->timers[id] = {fn, user, repeat_ms};
  return id;
}

inline int fake_timer_stop(pounce_timer_t id) {
  if (!g_loop->on_loop()) return POUNCE_ERR_STATE;
  g_loop->timers.erase(id);
  return POUNCE_OK;
}

// Called from the test's other thread only while the loop thread waits in
// join(): the fake needs no lock.
inline int fake_post(uint64_t, pounce_callback_fn fn, void* user) {
  if (!g_loop->owner_alive) return POUNCE_ERR_CLOSED;
  g_loop->posted.emplace_back(fn, user);
  return POUNCE_OK;
}

inline int fake_set_user(uint64_t, void*) {
  return g_loop->on_loop() ? g_loop->set_user_rc : POUNCE_ERR_STATE;
}

// Installs the fake table as the wrapper's host for one test.
class FakeHostTest : public ::testing::Test {
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
    pounce::detail::g_host = nullptr;
    g_loop = nullptr;
  }
  pounce_host_api_t api_{};
  FakeLoop loop_;
};

}  // namespace pounce_test
