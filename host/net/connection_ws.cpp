// The WebSocket side of a Connection: the opening handshake on the async
// loop, then the session's life (RFC 6455).
#include <cstring>

#include "async/ws_session.h"
#include "http/status_text.h"
#include "log/logger.h"
#include "net/connection.h"
#include "net/event_loop.h"
#include "plugin/generation.h"
#include "server/crash_report.h"
#include "ws/handshake.h"

namespace pounce {

namespace {

// With context takeover a socket keeps its zlib state between messages:
// about 300 KiB (15-bit windows both ways, docs/performance.md). Up to this
// many compressed sockets per loop may keep it (~77 MB at worst); later ones
// negotiate no context takeover both ways, which keeps nothing between
// messages at the price of a lower ratio on small, repetitive messages.
constexpr size_t kWsTakeoverSocketsPerLoop = 256;

ws::DeflateConfig deflate_policy(const EventLoop& loop) {
  ws::DeflateConfig d;
  d.enabled = loop.config().ws_compression;
  d.level = loop.config().ws_compression_level;
  if (loop.ws_deflate_sockets >= kWsTakeoverSocketsPerLoop) {
    d.server_no_context_takeover = true;
    d.client_no_context_takeover = true;
  }
  return d;
}

}  // namespace

size_t Connection::start_websocket(const http::RequestHead& head, Route& r,
                                   char* data, size_t head_off, size_t len) {
  const Config& cfg = loop_->config();
  ws::Handshake hs = ws::validate_handshake(head, deflate_policy(*loop_));
  if (!hs.ok()) {
    LOG_INFO("refused WebSocket upgrade from %s: %s", peer_text().c_str(),
             hs.detail);
    respond_error(hs.error, &head);
    return len;
  }

  // The plugin decides before the 101: a subprotocol, or a refusal.
  pounce_ws_upgrade_t up{};
  up.size = sizeof up;
  up.offered_protocols = hs.protocols;
  up.offered_count = hs.protocol_count;
  up.chosen_protocol = -1;
  up.reject_status = 0;
  up.user = nullptr;
  const pounce_plugin_t& d = r.mount->module->desc();
  if (d.on_ws_upgrade) {
    pounce_request_view_t view;
    fill_view(head, r, {}, &view);
    int rc;
    try {
      crash::PluginCallScope scope(r.mount, "on_ws_upgrade", head.method,
                                   r.path);
      rc = d.on_ws_upgrade(r.mount->instance, &view, &up);
    } catch (...) {
      LOG_ERROR("plugin %s: exception escaped on_ws_upgrade",
                r.mount->module->name().c_str());
      rc = -1;
    }
    if (rc != 0 && up.reject_status < 400) up.reject_status = 500;
  }
  if (up.reject_status >= 400) {
    int status = up.reject_status <= 599 ? up.reject_status : 500;
    // The plugin's refusal: its status, with nothing else to say.
    ByteBuffer& out = loop_->out();
    out.append(http::status_line(status));
    out.append(loop_->date().date_header());
    out.append(
        "Server: pounce\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    if (cfg.access_log) access_log(&head, status, 0);
    close_after_write_ = true;
    phase_ = Phase::Idle;
    return len;
  }
  // The 101 is written, or the upgrade refused: a session never starts
  // without its handshake. append_101_response() refuses any index that is
  // neither -1 nor one of the offered subprotocols (a plugin may only choose
  // what the client offered).
  if (!ws::append_101_response(loop_->out(), hs, up.chosen_protocol)) {
    LOG_ERROR(
        "plugin %s: chose subprotocol %d of %zu offered; refusing the "
        "upgrade",
        r.mount->module->name().c_str(), up.chosen_protocol, hs.protocol_count);
    abandon_ws_upgrade(r.mount, up.user);
    respond_error(http::ErrorCode::PluginError, &head);
    return len;
  }
  if (cfg.access_log) access_log(&head, 101, 0);
  // The session keeps its generation until it is freed.
  GenerationPin pin = r.pin ? std::move(r.pin) : GenerationPin(r.generation);
  auto* s = new WsSession(this, r.mount, std::move(pin), hs.deflate, up.user);
  s->set_handle(
      loop_->handles().allocate(s, HandleKind::WebSocket, s->generation()));
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

namespace {

// on_ws_close, then the session's memory and, with it, its pin.
void finalize_ws(WsSession* s) {
  s->finish();
  delete s;
}

}  // namespace

void Connection::release_ws() {
  WsSession* s = ws_;
  if (!s) return;
  ws_ = nullptr;
  s->detach();
  if (s->in_plugin_call()) {
    // Never call on_ws_close from inside the plugin's own call.
    if (loop_->post([s] { finalize_ws(s); })) return;
  }
  finalize_ws(s);
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
