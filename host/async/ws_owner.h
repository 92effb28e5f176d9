// The WebSocket side of timer ownership, so that timers.cpp does not depend
// on the WebSocket session's internals.
#pragma once

#include <cstdint>

namespace pounce {

class EventLoop;

// Whether `owner` is a live WebSocket of `loop`; if so, the timer is
// registered with it.
bool ws_owner_add_timer(EventLoop* loop, uint64_t owner, uint64_t timer);
void ws_owner_remove_timer(EventLoop* loop, uint64_t owner, uint64_t timer);

}  // namespace pounce
