#include "net/timeout_queue.h"

namespace pounce {

void TimeoutSet::init(uv_loop_t* loop,
                      const std::array<uint64_t, 7>& durations_ms,
                      ExpireFn on_expire, void* ctx) {
  loop_ = loop;
  on_expire_ = on_expire;
  ctx_ = ctx;
  for (size_t i = 0; i < queues_.size(); ++i) {
    queues_[i].head.prev = queues_[i].head.next = &queues_[i].head;
    durations_[i] = durations_ms[i];
  }
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  // The timer must not keep the loop alive on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

void TimeoutSet::close() {
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
}

void TimeoutSet::arm(TimeoutNode* node, TimeoutKind kind) {
  arm_at(node, kind, uv_now(loop_) + duration(kind));
}

void TimeoutSet::arm_at(TimeoutNode* node, TimeoutKind kind,
                        uint64_t deadline_ms) {
  disarm(node);
  Queue& q = queues_[static_cast<size_t>(kind)];
  node->kind = kind;
  node->deadline_ms = deadline_ms;
  TimeoutNode* after = q.head.prev;
  while (after != &q.head && after->deadline_ms > deadline_ms) {
    after = after->prev;
  }
  node->prev = after;
  node->next = after->next;
  after->next->prev = node;
  after->next = node;
  if (deadline_ms < armed_for_) schedule(deadline_ms);
}

void TimeoutSet::disarm(TimeoutNode* node) {
  if (!node->queued()) return;
  node->prev->next = node->next;
  node->next->prev = node->prev;
  node->prev = node->next = nullptr;
  node->kind = TimeoutKind::Count;
  // The timer may now fire early for nothing; expire() re-arms it. Cheaper
  // than recomputing the minimum on every disarm.
}

void TimeoutSet::schedule(uint64_t deadline_ms) {
  uint64_t now = uv_now(loop_);
  armed_for_ = deadline_ms;
  uv_timer_start(&timer_, on_timer, deadline_ms > now ? deadline_ms - now : 0,
                 0);
}

void TimeoutSet::on_timer(uv_timer_t* t) {
  static_cast<TimeoutSet*>(t->data)->expire();
}

void TimeoutSet::expire() {
  armed_for_ = UINT64_MAX;
  uint64_t now = uv_now(loop_);
  uint64_t next = UINT64_MAX;
  for (Queue& q : queues_) {
    for (;;) {
      TimeoutNode* n = q.head.next;
      if (n == &q.head) break;
      if (n->deadline_ms > now) {
        if (n->deadline_ms < next) next = n->deadline_ms;
        break;
      }
      TimeoutKind kind = n->kind;
      disarm(n);
      on_expire_(n, kind, ctx_);
    }
  }
  // Callbacks may have armed nodes (and the timer) again.
  if (next < armed_for_) schedule(next);
}

}  // namespace pounce
