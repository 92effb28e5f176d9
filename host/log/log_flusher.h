// Flushes the calling loop thread's log sinks before the loop sleeps, and
// keeps retrying while a stalled reader leaves bytes behind: otherwise an idle
// loop would never write them. The retry starts at 10 ms and doubles, up to
// 1 s, while the reader takes nothing, so a reader stalled for good does not
// keep an idle loop waking 100 times a second. An output that failed for good
// (EPIPE) leaves nothing to retry: its sink drops lines without writing.
#pragma once

#include <uv.h>

namespace pounce::log {

class LogFlusher {
 public:
  void start(uv_loop_t* loop);
  void close();

 private:
  static void on_prepare(uv_prepare_t* p);
  static void on_retry(uv_timer_t* t);
  void flush();

  uv_prepare_t prepare_{};
  uv_timer_t retry_{};
  bool retrying_ = false;
  uint64_t delay_ms_;        // the next retry's delay
  size_t last_pending_ = 0;  // bytes left after the previous flush
};

}  // namespace pounce::log
