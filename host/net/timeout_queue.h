// Connection timeouts without a timer per connection.
//
// Every timeout of one kind has the same duration, so a queue ordered by
// insertion time is also ordered by deadline: arming is an append, disarming
// an unlink, both O(1), and one uv_timer per loop waits for the earliest head
// of all queues. (nginx keeps an rbtree of timers; libev documents this
// "same timeout" list trick for the common case.)
#pragma once

#include <uv.h>

#include <array>
#include <cstdint>

namespace pounce {

enum class TimeoutKind : uint8_t {
  Header,         // from a head's first byte (or the accept) to its end
  KeepAlive,      // idle between requests
  Body,           // no body progress
  Write,          // no write progress
  Linger,         // the lingering close's read-and-discard window
  ResponseStart,  // an async request has not started its response
  WsClose,        // our WebSocket close frame waits for the peer's
  Count,
};

// What a timeout queues: an HTTP/1 connection, or an HTTP/2 stream (whose
// request and response timeouts are its own, not its connection's).
struct TimeoutNode {
  // Called by the loop when `kind` expired, after the node was unlinked.
  virtual void on_timeout(TimeoutKind) {}

  TimeoutNode* prev = nullptr;
  TimeoutNode* next = nullptr;
  uint64_t deadline_ms = 0;
  TimeoutKind kind = TimeoutKind::Count;  // Count: not queued
  bool queued() const { return kind != TimeoutKind::Count; }
};

class TimeoutSet {
 public:
  using ExpireFn = void (*)(TimeoutNode* node, TimeoutKind kind, void* ctx);

  // `durations_ms` per kind. `on_expire` is called for each expired node,
  // after it was unlinked.
  void init(uv_loop_t* loop, const std::array<uint64_t, 7>& durations_ms,
            ExpireFn on_expire, void* ctx);
  // Closes the timer handle; call once, before the loop ends.
  void close();

  // (Re)arms `node` for `kind`, counted from now.
  void arm(TimeoutNode* node, TimeoutKind kind);
  // Arms `node` for `kind` with an explicit deadline, kept in order (it is
  // usually the latest, so the walk from the tail stops at once).
  void arm_at(TimeoutNode* node, TimeoutKind kind, uint64_t deadline_ms);
  void disarm(TimeoutNode* node);

  uint64_t duration(TimeoutKind kind) const {
    return durations_[static_cast<size_t>(kind)];
  }

 private:
  struct Queue {
    TimeoutNode head;  // sentinel
  };

  static void on_timer(uv_timer_t* t);
  void schedule(uint64_t deadline_ms);
  void expire();

  uv_loop_t* loop_ = nullptr;
  uv_timer_t timer_{};
  std::array<Queue, static_cast<size_t>(TimeoutKind::Count)> queues_{};
  std::array<uint64_t, static_cast<size_t>(TimeoutKind::Count)> durations_{};
  uint64_t armed_for_ = UINT64_MAX;  // deadline the timer waits for
  ExpireFn on_expire_ = nullptr;
  void* ctx_ = nullptr;
};

}  // namespace pounce
