// How many bytes of WebSocket message buffers one loop may hold, summed over
// its sockets.
//
// --ws-max-message-size bounds one message, not how many sockets hold one
// half-received: a client that sends a non-final fragment that inflates to
// just under the limit, then only answers pings, pins that much per socket
// (60 such sockets: 1 GB). Each MessageAssembler keeps a small buffer of its
// own (MessageAssembler::kRetainedCapacity, bounded per socket like the read
// buffer) and takes everything beyond it from its loop's budget, giving it
// back when the buffer shrinks or the socket goes. A socket whose message
// would take the budget past its limit fails with 1008, and the others go
// on. With the per-socket retained part free, the common small message
// never touches the budget.
//
// There is no cap on the inflation ratio: deflate reaches about 1030:1 on
// legitimately repetitive data (zeros, repeated JSON), so any cap would
// refuse real messages, while the memory such a cap would protect is what
// this budget bounds, and the work of one inflate is bounded by
// --ws-max-message-size. An unfinished message also has a deadline
// (--ws-message-timeout, in the WsSession), so that a budget taken cannot
// be held for ever.
//
// One per loop, used on that loop's thread only: no locking.
#pragma once

#include <cstdint>

namespace pounce::ws {

class MessageBudget {
 public:
  explicit MessageBudget(uint64_t limit = UINT64_MAX) : limit_(limit) {}
  MessageBudget(const MessageBudget&) = delete;
  MessageBudget& operator=(const MessageBudget&) = delete;

  void set_limit(uint64_t limit) { limit_ = limit; }
  uint64_t limit() const { return limit_; }
  uint64_t used() const { return used_; }

  // Takes `n` bytes, or nothing and returns false when that would pass the
  // limit.
  bool take(uint64_t n) {
    if (n > limit_ - used_ || used_ > limit_) return false;
    used_ += n;
    return true;
  }
  void give_back(uint64_t n) { used_ -= n; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
};

}  // namespace pounce::ws
