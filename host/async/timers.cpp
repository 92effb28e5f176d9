#include "async/timers.h"

#include <uv.h>

#include "async/stream.h"
#include "async/ws_session.h"
#include "log/logger.h"
#include "net/event_loop.h"

namespace pounce {

namespace {

struct PluginTimer {
  uv_timer_t handle;
  EventLoop* loop;
  uint64_t id;
  uint64_t owner;
  pounce_timer_fn fn;
  void* user;
  uint64_t repeat_ms;  // 0: one-shot
  uint64_t due_ms;     // loop time of the next firing
};

// The owner (a stream or a WebSocket) keeps the list of its timers, to
// cancel them when it closes.
OwnedTimers* owner_timers(EventLoop* loop, uint64_t owner) {
  if (auto* s = static_cast<AsyncStream*>(
          loop->handles().lookup(owner, HandleKind::Stream))) {
    return &s->timers();
  }
  if (auto* w = static_cast<WsSession*>(
          loop->handles().lookup(owner, HandleKind::WebSocket))) {
    return &w->timers();
  }
  return nullptr;
}

void on_fire(uv_timer_t* t) {
  auto* pt = static_cast<PluginTimer*>(t->data);
  EventLoop* loop = pt->loop;
  uint64_t id = pt->id;
  try {
    pt->fn(pt->user, id);
  } catch (...) {
    LOG_ERROR("a plugin timer callback threw; the exception was dropped");
  }
  // The callback may have stopped this timer (then pt is being closed).
  if (loop->handles().lookup(id, HandleKind::Timer) != pt) return;
  if (pt->repeat_ms == 0) {
    stop_timer(loop, id);
    return;
  }
  // Repeats are due at start + k * period, not "period after the callback
  // ran": libuv's own repeat would drift by the loop's lateness every time
  // (an SSE stream at 10 ms would send ~25% fewer events). A timer that fell
  // behind by more than a period skips the missed ticks instead of bursting.
  uint64_t now = uv_now(loop->uv());
  pt->due_ms += pt->repeat_ms;
  if (pt->due_ms + pt->repeat_ms <= now) {
    pt->due_ms = now - (now - pt->due_ms) % pt->repeat_ms;
  }
  uv_timer_start(&pt->handle, on_fire, pt->due_ms > now ? pt->due_ms - now : 0,
                 0);
}

}  // namespace

uint64_t start_timer(EventLoop* loop, uint64_t owner, uint64_t delay_ms,
                     uint64_t repeat_ms, pounce_timer_fn fn, void* user) {
  if (!loop || !fn) return 0;
  auto* pt = new PluginTimer{};
  pt->loop = loop;
  pt->owner = owner;
  pt->fn = fn;
  pt->user = user;
  pt->repeat_ms = repeat_ms;
  pt->id = loop->handles().allocate(pt, HandleKind::Timer);
  OwnedTimers* list = pt->id ? owner_timers(loop, owner) : nullptr;
  if (!list) {
    if (pt->id) loop->handles().release(pt->id);
    delete pt;
    return 0;
  }
  list->add(pt->id);
  uv_timer_init(loop->uv(), &pt->handle);
  pt->handle.data = pt;
  pt->due_ms = uv_now(loop->uv()) + delay_ms;
  uv_timer_start(&pt->handle, on_fire, delay_ms, 0);
  return pt->id;
}

int stop_timer(EventLoop* loop, uint64_t timer) {
  if (!loop) return POUNCE_ERR_INVALID;
  auto* pt = static_cast<PluginTimer*>(
      loop->handles().lookup(timer, HandleKind::Timer));
  if (!pt) return POUNCE_OK;
  loop->handles().release(timer);
  if (OwnedTimers* list = owner_timers(loop, pt->owner)) list->remove(timer);
  uv_timer_stop(&pt->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&pt->handle),
           [](uv_handle_t* h) { delete static_cast<PluginTimer*>(h->data); });
  return POUNCE_OK;
}

}  // namespace pounce
