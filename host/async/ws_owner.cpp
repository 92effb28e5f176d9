#include "async/ws_owner.h"

namespace pounce {

// WebSocket sessions do not exist yet in this build: no handle is ever a
// live WebSocket.
bool ws_owner_add_timer(EventLoop*, uint64_t, uint64_t) { return false; }
void ws_owner_remove_timer(EventLoop*, uint64_t, uint64_t) {}

}  // namespace pounce
