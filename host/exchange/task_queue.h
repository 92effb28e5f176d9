// Cross-thread work for one libuv loop: any thread posts a closure, the
// loop's thread runs it. uv_async_send coalesces wake-ups, so every callback
// drains the whole queue.
#pragma once

#include <uv.h>

#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>
#include <vector>

namespace pounce {

// A move-only closure. Unlike std::function it may own what must be released
// exactly once (a GenerationPin): the task releases it when it is destroyed,
// whether it ran or was dropped.
class Task {
 public:
  template <typename F,
            typename = std::enable_if_t<!std::is_same_v<std::decay_t<F>, Task>>>
  Task(F&& f)  // NOLINT(google-explicit-constructor): lambdas convert
      : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}
  Task(Task&&) noexcept = default;
  Task& operator=(Task&&) noexcept = default;

  void operator()() { impl_->run(); }

 private:
  struct Base {
    virtual ~Base() = default;
    virtual void run() = 0;
  };
  template <typename F>
  struct Impl final : Base {
    template <typename G>
    explicit Impl(G&& g) : fn(std::forward<G>(g)) {}
    void run() override { fn(); }
    F fn;
  };
  std::unique_ptr<Base> impl_;
};

class TaskQueue {
 public:
  // Call on the loop's thread, or before the loop runs.
  void init(uv_loop_t* loop);
  // Stops accepting tasks and closes the async handle (loop thread).
  void close();
  // Runs `fn` on the loop's thread. Any thread. Returns false (and drops
  // `fn`) once the queue is closed.
  bool post(Task fn);

 private:
  static void on_async(uv_async_t* a);

  uv_async_t async_{};
  // Guards tasks_ and closed_: posters on any thread, the loop drains.
  std::mutex mutex_;
  std::vector<Task> tasks_;
  bool closed_ = false;
};

}  // namespace pounce
