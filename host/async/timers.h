// Plugin timers (host->timer_start / timer_stop): libuv timers on the loop
// that owns a stream or WebSocket, cancelled when that owner closes, so a
// callback never runs after on_close.
#pragma once

#include <pounce/pounce.h>

#include <cstdint>

namespace pounce {

class Loop;

// Owning loop only. Returns 0 when `owner` is not a live stream or WebSocket
// of `loop`, or is closing (called from its on_close / on_ws_close).
uint64_t start_timer(Loop* loop, uint64_t owner, uint64_t delay_ms,
                     uint64_t repeat_ms, pounce_timer_fn fn, void* user);
// Owning loop only. Stopping a fired one-shot or an unknown timer is
// harmless.
int stop_timer(Loop* loop, uint64_t timer);

}  // namespace pounce
