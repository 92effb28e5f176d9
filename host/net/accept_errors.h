// Logs failed accepts once per episode rather than once per attempt. Out of
// descriptors (EMFILE, ENFILE), every retry fails the same way until a
// connection closes: a line per retry would flood the log (about 100 lines a
// second with the distributor's 10 ms back-off) and say nothing new. So the
// first failure of an episode is logged with what happens to the clients
// meanwhile, and its end with how many attempts failed and for how long.
//
// Owned and used by one thread (a worker's loop, or the accept distributor).
#pragma once

#include <chrono>
#include <cstdint>

namespace pounce {

class AcceptErrors {
 public:
  // `consequence` says what happens to pending clients while accepts fail,
  // e.g. "new connections wait in the backlog".
  explicit AcceptErrors(const char* consequence) : consequence_(consequence) {}

  // An accept failed with `code` (an errno or a libuv code), `text` its
  // description.
  void failed(int code, const char* text);
  // An accept succeeded, or found nothing pending: descriptors are free.
  void succeeded() {
    if (failures_ != 0) end();
  }

 private:
  void end();

  const char* consequence_;
  int code_ = 0;
  const char* text_ = "";  // strerror / uv_strerror: static strings
  uint64_t failures_ = 0;  // in the current episode; 0 = none
  std::chrono::steady_clock::time_point started_;
};

}  // namespace pounce
