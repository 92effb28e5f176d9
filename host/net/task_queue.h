// Cross-thread work for one libuv loop: any thread posts a closure, the
// loop's thread runs it. uv_async_send coalesces wake-ups, so every callback
// drains the whole queue.
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <vector>

namespace pounce {

class TaskQueue {
 public:
  // Call on the loop's thread, or before the loop runs.
  void init(uv_loop_t* loop);
  // Stops accepting tasks and closes the async handle (loop thread).
  void close();
  // Runs `fn` on the loop's thread. Any thread. Returns false (and drops
  // `fn`) once the queue is closed.
  bool post(std::function<void()> fn);

 private:
  static void on_async(uv_async_t* a);

  uv_async_t async_{};
  // Guards tasks_ and closed_: posters on any thread, the loop drains.
  std::mutex mutex_;
  std::vector<std::function<void()>> tasks_;
  bool closed_ = false;
};

}  // namespace pounce
