// A thread of the async pool: an EventLoop that adopts connections handed off
// by workers and runs async plugins and WebSockets on them.
#pragma once

#include <uv.h>

#include <mutex>
#include <vector>

#include "net/event_loop.h"
#include "net/handoff.h"

namespace pounce {

class AsyncLoop : public EventLoop {
 public:
  AsyncLoop(const Config& config, unsigned index, unsigned async_index,
            std::function<void(AsyncLoop*)> on_finished);
  ~AsyncLoop() override;

  // Any thread. Returns false once the loop has finished; the caller then
  // still owns the handoff (closes the fd; the pin goes with the handoff).
  bool adopt(Handoff&& handoff);

  // The main thread allows the loop to end once no worker can hand anything
  // over any more (all workers finished).
  void allow_finish();

 protected:
  void on_finish() override;
  bool may_finish() const override { return finish_allowed_; }

 private:
  static void on_adopt(uv_async_t* a);

  uv_async_t adopt_async_{};
  // Guards incoming_ and closed_: workers append, this loop drains.
  std::mutex mutex_;
  std::vector<Handoff> incoming_;
  bool closed_ = false;
  bool finish_allowed_ = false;  // loop thread only
  std::function<void(AsyncLoop*)> on_finished_;
};

}  // namespace pounce
