// The WebSocket side of a Connection: the opening handshake on the async
// loop, then the session's life (RFC 6455).
#include <cstring>

#include "async/ws_session.h"
#include "log/logger.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "ws/handshake.h"

namespace pounce {

size_t Connection::start_websocket(const http::RequestHead& head, Route& r,
                                   char* data, size_t head_off, size_t len) {
  ws::Handshake hs =
      ws::validate_handshake(head, websocket_deflate_policy(*loop_));
  if (!hs.ok()) {
    LOG_INFO("refused WebSocket upgrade from %s: %s", peer_text().c_str(),
             hs.detail);
    respond_error(hs.error, &head);
    return len;
  }
  WsSession* s = upgrade_websocket(*this, head, r, hs);
  if (!s) return len;  // refused: the answer is queued
  ws_ = s;
  phase_ = Phase::WebSocket;
  loop_->timeouts().disarm(this);
  send_output();
  if (phase_ != Phase::WebSocket) return len;
  s->open();
  // Frames the client sent right behind its request.
  size_t head_end = head_off + head.head_size;
  if (ws_ == s && head_end < len) s->feed(data + head_end, len - head_end);
  return len;
}

void Connection::release_ws() {
  WsSession* s = ws_;
  if (!s) return;
  ws_ = nullptr;
  WsSession::release(s);
}

void Connection::close_websocket_after_output() {
  close_after_write_ = true;
  no_linger_ = true;  // the close handshake is done: the server closes first
  if (!in_input_) after_input();
}

void Connection::await_websocket_close() {
  loop_->timeouts().arm(this, TimeoutKind::WsClose);
}

void Connection::abort_websocket() {
  if (in_input_) {
    // Inside the read callback: close as soon as it returns, without
    // waiting for the output (a peer that overflowed it may never read).
    abort_pending_ = true;
    return;
  }
  close_now();
}

}  // namespace pounce
