// pounce.hpp's wrappers called back into from their own callbacks: a Timer
// re-armed, stopped or destroyed by the closure it is running, and post()
// posting again. The host is a fake function table that fires timers when
// the test says so, as the real host does: on the loop, one callback at a
// time. Run in the ASan build, a closure freed while it runs is a
// heap-use-after-free report.
#include <gtest/gtest.h>
#include <pounce/pounce.hpp>

#include "fake_host.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

using namespace pounce_test;

class WrapperReentry : public FakeHostTest {};

// The "retry later" pattern: a one-shot timer whose callback arms it again,
// then goes on using what it captured.
TEST_F(WrapperReentry, OneShotTimerRearmedFromItsCallbackKeepsItsCaptures) {
  pounce::Timer timer;
  std::vector<std::string> seen;
  std::function<void()> arm;
  int tries = 0;
  arm = [&] {
    auto note = std::make_shared<std::string>(std::string(64, 'x'));
    std::string label = "attempt " + std::to_string(tries);
    timer.start(1, 10, 0, [&, note, label] {
      ++tries;
      if (tries < 3) arm();  // replaces the closure that is running
      seen.push_back(label + " " + *note);  // its captures, after the re-arm
    });
  };
  arm();
  for (int i = 0; i < 3; ++i) loop_.fire_all();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], "attempt 0 " + std::string(64, 'x'));
  EXPECT_EQ(seen[2], "attempt 2 " + std::string(64, 'x'));
  EXPECT_FALSE(timer.active());
}

// A repeating timer that re-arms itself with a new period from its callback.
TEST_F(WrapperReentry, RepeatingTimerRearmedFromItsCallback) {
  pounce::Timer timer;
  std::string log;
  auto tag = std::make_shared<std::string>("tick");
  timer.start(1, 10, 10, [&, tag] {
    timer.start(1, 20, 20, [&log] { log += "new;"; });
    log += *tag + ";";  // the old closure's capture, after it was replaced
  });
  loop_.fire_all();
  loop_.fire_all();
  loop_.fire_all();
  EXPECT_EQ(log, "tick;new;new;");
  EXPECT_EQ(loop_.timers.size(), 1u);
  EXPECT_TRUE(timer.active());
}

// A repeating timer keeps firing its closure when the callback leaves it
// alone, and stops for good when the callback stops it.
TEST_F(WrapperReentry, RepeatingTimerKeepsItsClosureAndStopsFromItsCallback) {
  pounce::Timer timer;
  int n = 0;
  auto payload = std::make_shared<std::string>("p");
  timer.start(1, 10, 10, [&, payload] {
    if (++n == 3) timer.stop();
    EXPECT_EQ(*payload, "p");
  });
  for (int i = 0; i < 5; ++i) loop_.fire_all();
  EXPECT_EQ(n, 3);
  EXPECT_FALSE(timer.active());
  EXPECT_TRUE(loop_.timers.empty());
}

// The callback frees the state that holds the Timer (an on_close-style
// cleanup), then still reads its own captures.
TEST_F(WrapperReentry, TimerDestroyedByItsOwnCallback) {
  struct State {
    pounce::Timer timer;
  };
  auto* st = new State;
  std::string out;
  auto name = std::make_shared<std::string>("gone");
  st->timer.start(1, 10, 10, [&, st, name] {
    delete st;
    out = *name;
  });
  loop_.fire_all();
  EXPECT_EQ(out, "gone");
  EXPECT_TRUE(loop_.timers.empty());
}

// A one-shot timer's captures are released once it has fired (nothing can
// call it again), not held until the Timer goes.
TEST_F(WrapperReentry, FiredOneShotTimerReleasesItsCaptures) {
  pounce::Timer timer;
  auto held = std::make_shared<int>(1);
  std::weak_ptr<int> watch = held;
  timer.start(1, 10, 0, [held] {});
  held.reset();
  EXPECT_FALSE(watch.expired());
  loop_.fire_all();
  EXPECT_TRUE(watch.expired());
}

// post() from a posted closure: each closure runs once and is freed after.
TEST_F(WrapperReentry, PostFromAPostedClosure) {
  std::string order;
  auto a = std::make_shared<std::string>("a");
  ASSERT_TRUE(pounce::post(1, [&, a] {
    ASSERT_TRUE(pounce::post(1, [&order] { order += "b"; }));
    order += *a;
  }));
  loop_.run_posted();
  EXPECT_EQ(order, "ab");
}

}  // namespace
