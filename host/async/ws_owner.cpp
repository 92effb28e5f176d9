#include "async/ws_owner.h"

#include "async/ws_session.h"
#include "net/event_loop.h"

namespace pounce {

bool ws_owner_add_timer(EventLoop* loop, uint64_t owner, uint64_t timer) {
  auto* s = static_cast<WsSession*>(
      loop->handles().lookup(owner, HandleKind::WebSocket));
  if (!s) return false;
  s->add_timer(timer);
  return true;
}

void ws_owner_remove_timer(EventLoop* loop, uint64_t owner, uint64_t timer) {
  auto* s = static_cast<WsSession*>(
      loop->handles().lookup(owner, HandleKind::WebSocket));
  if (s) s->remove_timer(timer);
}

}  // namespace pounce
