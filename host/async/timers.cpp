#include "async/timers.h"

#include <uv.h>

#include "async/stream.h"
#include "async/ws_session.h"
#include "exchange/loop.h"
#include "log/logger.h"
#include "plugin/generation.h"

namespace pounce {

namespace {

struct PluginTimer {
  uv_timer_t handle;
  // A deferred call into the plugin: its generation stays loaded until the
  // timer is freed (the owner's own pin would do today, since timers die
  // with their owner; this one does not depend on that).
  GenerationPin pin;
  Loop* loop;
  uint64_t id;
  uint64_t owner;
  pounce_timer_fn fn;
  void* user;
  uint64_t repeat_ms;  // 0: one-shot
  uint64_t due_ms;     // loop time of the next firing
};

// The owner (a stream or a WebSocket) keeps the list of its timers, to
// cancel them when it closes. An owner that is closing has no list any more
// (its handle died before its close hook ran), so a timer started from that
// hook is refused rather than outliving it.
struct Owner {
  OwnedTimers* timers = nullptr;
  Generation* generation = nullptr;
};
Owner owner_of(Loop* loop, uint64_t owner) {
  if (auto* s = static_cast<AsyncStream*>(
          loop->handles().lookup(owner, HandleKind::Stream))) {
    if (!s->closing()) {
      return {&s->timers(), s->generation()};
    }
  }
  if (auto* w = static_cast<WsSession*>(
          loop->handles().lookup(owner, HandleKind::WebSocket))) {
    if (!w->closing()) {
      return {&w->timers(), w->generation()};
    }
  }
  return {};
}

void on_fire(uv_timer_t* t) {
  auto* pt = static_cast<PluginTimer*>(t->data);
  Loop* loop = pt->loop;
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

uint64_t start_timer(Loop* loop, uint64_t owner, uint64_t delay_ms,
                     uint64_t repeat_ms, pounce_timer_fn fn, void* user) {
  if (!loop || !fn) return 0;
  Owner o = owner_of(loop, owner);
  if (!o.timers) return 0;
  auto* pt = new PluginTimer{};
  pt->loop = loop;
  pt->owner = owner;
  pt->fn = fn;
  pt->user = user;
  pt->repeat_ms = repeat_ms;
  pt->id = loop->handles().allocate(pt, HandleKind::Timer);
  if (!pt->id) {
    delete pt;
    return 0;
  }
  pt->pin = GenerationPin(o.generation);
  o.timers->add(pt->id);
  uv_timer_init(loop->uv(), &pt->handle);
  pt->handle.data = pt;
  pt->due_ms = uv_now(loop->uv()) + delay_ms;
  uv_timer_start(&pt->handle, on_fire, delay_ms, 0);
  return pt->id;
}

int stop_timer(Loop* loop, uint64_t timer) {
  if (!loop) return POUNCE_ERR_INVALID;
  auto* pt = static_cast<PluginTimer*>(
      loop->handles().lookup(timer, HandleKind::Timer));
  if (!pt) return POUNCE_OK;
  loop->handles().release(timer);
  if (OwnedTimers* list = owner_of(loop, pt->owner).timers) list->remove(timer);
  uv_timer_stop(&pt->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&pt->handle),
           [](uv_handle_t* h) { delete static_cast<PluginTimer*>(h->data); });
  return POUNCE_OK;
}

}  // namespace pounce
