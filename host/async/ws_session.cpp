#include "async/ws_session.h"

#include <cstring>

#include "async/timers.h"
#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "log/logger.h"
#include "pipeline/access_log.h"
#include "plugin/generation.h"
#include "server/crash_report.h"
#include "ws/close_codes.h"
#include "ws/frame_writer.h"
#include "ws/utf8_validator.h"

namespace pounce {

namespace {

ws::AssemblerConfig assembler_config(Loop* loop) {
  ws::AssemblerConfig a;
  a.max_message_size = loop->config().ws_max_message_size;
  a.budget = &loop->ws_message_budget();
  return a;
}

void close_timer(uv_timer_t* t) {
  uv_timer_stop(t);
  uv_close(reinterpret_cast<uv_handle_t*>(t),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
}

// With context takeover a socket keeps its zlib state between messages:
// about 300 KiB (15-bit windows both ways, docs/performance.md). Up to this
// many compressed sockets per loop may keep it (~77 MB at worst); later ones
// negotiate no context takeover both ways, which keeps nothing between
// messages at the price of a lower ratio on small, repetitive messages.
constexpr size_t kWsTakeoverSocketsPerLoop = 256;

// The codec settings (level, memory level); takeover and windows come from
// the handshake's negotiated parameters.
ws::DeflateConfig deflate_config(const Config& cfg) {
  ws::DeflateConfig d;
  d.enabled = cfg.ws_compression;
  d.level = cfg.ws_compression_level;
  return d;
}

}  // namespace

WsSession::WsSession(exchange::Exchange* ex, const Mount* mount,
                     GenerationPin pin, const ws::DeflateNegotiation& deflate,
                     void* user)
    : pin_(std::move(pin)),
      ex_(ex),
      loop_(ex->loop()),
      mount_(mount),
      user_(user),
      deflate_(deflate.accepted
                   ? std::make_unique<ws::PerMessageDeflate>(
                         deflate.params, deflate_config(loop_->config()))
                   : nullptr),
      assembler_(assembler_config(loop_), deflate_.get()) {
  if (deflate_) ++loop_->ws_deflate_sockets;
  handle_ =
      loop_->handles().allocate(this, HandleKind::WebSocket, generation());
}

WsSession::~WsSession() {
  if (deflate_) --loop_->ws_deflate_sockets;
  if (ping_timer_) close_timer(ping_timer_);
  if (message_timer_) close_timer(message_timer_);
}

size_t WsSession::memory_bytes() const {
  return (deflate_ ? deflate_->memory_usage() : 0) + assembler_.memory_usage();
}

void WsSession::open() {
  opened_ = true;
  const Config& cfg = loop_->config();
  if (cfg.ws_ping_interval_ms > 0) {
    ping_timer_ = new uv_timer_t;
    uv_timer_init(loop_->uv(), ping_timer_);
    ping_timer_->data = this;
    uv_timer_start(ping_timer_, on_ping_timer, cfg.ws_ping_interval_ms,
                   cfg.ws_ping_interval_ms);
  }
  const pounce_plugin_t& d = mount_->module->desc();
  if (d.on_ws_open) {
    try {
      crash::PluginCallScope scope(mount_, "on_ws_open");
      d.on_ws_open(mount_->instance, handle_, user_);
    } catch (...) {
      LOG_ERROR("plugin %s: exception escaped on_ws_open",
                mount_->module->name().c_str());
      close(ws::close_code::kInternalError, "internal error");
    }
  }
}

void WsSession::on_ping_timer(uv_timer_t* t) {
  auto* s = static_cast<WsSession*>(t->data);
  if (s->state_ != State::Open || !s->ex_) return;
  if (s->ping_outstanding_ && !s->heard_since_ping_) {
    // Two intervals without a byte from the peer: it is gone.
    LOG_INFO("WebSocket peer silent for two ping intervals; dropping it");
    s->ex_->drop();
    return;
  }
  // A constant payload within the 125-byte limit: the write cannot fail.
  if (!ws::append_ping(s->ex_->tunnel_output(), "pounce")) return;
  s->heard_since_ping_ = false;
  s->ping_outstanding_ = true;
  s->ex_->flush();
}

void WsSession::feed(char* data, size_t len) {
  // One write for everything this read makes us send (see cork()). The
  // exchange outlives this call even if the session is detached from it
  // meanwhile (exchange/exchange.h).
  exchange::Exchange* ex = ex_;
  ex->cork();
  feed_frames(data, len);
  watch_unfinished_message();
  ex->uncork();
}

// A message that spans reads must end within --ws-message-timeout, counted
// from the read that left it unfinished first: without a deadline a client
// could hold its buffer (up to --ws-max-message-size, from the loop's
// budget) for as long as it answers pings. Messages that arrive whole in
// one read, the common case, never touch the timer.
void WsSession::watch_unfinished_message() {
  const uint64_t limit_ms = loop_->config().ws_message_timeout_ms;
  if (limit_ms == 0) return;
  const bool unfinished =
      ex_ && state_ == State::Open && assembler_.in_message();
  if (!unfinished) {
    if (message_timer_armed_) uv_timer_stop(message_timer_);
    message_timer_armed_ = false;
    return;
  }
  // Still the message the timer runs for: its deadline stands.
  if (message_timer_armed_ && timed_message_ == assembler_.messages_begun()) {
    return;
  }
  message_timer_armed_ = true;
  timed_message_ = assembler_.messages_begun();
  if (!message_timer_) {
    message_timer_ = new uv_timer_t;
    uv_timer_init(loop_->uv(), message_timer_);
    message_timer_->data = this;
  }
  uv_timer_start(message_timer_, on_message_timer, limit_ms, 0);
}

void WsSession::on_message_timer(uv_timer_t* t) {
  auto* s = static_cast<WsSession*>(t->data);
  s->message_timer_armed_ = false;
  if (s->state_ != State::Open || !s->ex_ || !s->assembler_.in_message()) {
    return;
  }
  LOG_INFO(
      "WebSocket message unfinished after --ws-message-timeout; closing "
      "(1008)");
  s->fail(ws::close_code::kPolicyViolation);
}

// Fails the connection (RFC 6455 §7.1.7): our close frame, then the TCP
// close. The plugin learns the code we failed with.
void WsSession::fail(uint16_t code) {
  // One close frame per direction (RFC 6455 §5.5.1): if ours is out
  // already, only the TCP close is left to do.
  if (state_ == State::Open) send_close(code, {});
  close_code_ = code;
  close_reason_.clear();
  code_decided_ = true;
  ex_->close_after_output();
}

void WsSession::feed_frames(char* data, size_t len) {
  heard_since_ping_ = true;
  ping_outstanding_ = false;
  const pounce_plugin_t& d = mount_->module->desc();
  size_t off = 0;
  while (ex_ && state_ != State::Closed && !overflowed_) {
    ws::Event ev;
    off += assembler_.feed(data + off, len - off, &ev);
    switch (ev.type) {
      case ws::EventType::None:
        if (off >= len) return;
        break;
      case ws::EventType::Message:
        if (state_ == State::Open && d.on_ws_message) {
          try {
            crash::PluginCallScope scope(mount_, "on_ws_message");
            d.on_ws_message(mount_->instance, handle_, user_,
                            ev.opcode == ws::Opcode::Text ? POUNCE_WS_TEXT
                                                          : POUNCE_WS_BINARY,
                            ev.data.data(), ev.data.size());
          } catch (...) {
            LOG_ERROR("plugin %s: exception escaped on_ws_message",
                      mount_->module->name().c_str());
            close(ws::close_code::kInternalError, "internal error");
          }
        }
        break;
      case ws::EventType::Ping:
        if (state_ == State::Open) {
          ws::append_pong(ex_->tunnel_output(), ev.data);
          ex_->flush();
          if (!ex_ || over_output_limit("pongs")) return;
        }
        break;
      case ws::EventType::Pong:
        break;
      case ws::EventType::Close:
        // The peer's close: answer it (unless we sent ours first), then the
        // server closes the TCP connection (RFC 6455 §7.1.1).
        if (state_ == State::Open) send_close(ev.code, std::string_view());
        if (!ex_ || over_output_limit("its close frame")) return;
        close_code_ = ev.code;
        close_reason_.assign(ev.data.data(), ev.data.size());
        code_decided_ = true;
        ex_->close_after_output();
        return;
      case ws::EventType::Error:
        // Fail the connection (RFC 6455 §7.1.7): our close, then the TCP
        // close. The plugin learns the code we failed with.
        LOG_INFO("WebSocket protocol error (%u): %.*s",
                 static_cast<unsigned>(ev.code),
                 static_cast<int>(ev.data.size()), ev.data.data());
        fail(ev.code);
        return;
    }
  }
}

void WsSession::send_close(uint16_t code, std::string_view reason) {
  // Callers pass what append_close accepts (check_close, or a code the frame
  // parser validated). Should one ever not, the peer still gets a close
  // frame: 1011 without a reason is always valid.
  if (!ws::append_close(ex_->tunnel_output(), code, reason)) {
    LOG_ERROR(
        "WebSocket close code %u refused by the frame writer; sending "
        "1011",
        static_cast<unsigned>(code));
    if (!ws::append_close(ex_->tunnel_output(), ws::close_code::kInternalError,
                          {})) {
      return;
    }
  }
  if (state_ == State::Open) state_ = State::Closing;
  ex_->flush();
}

bool WsSession::over_output_limit(const char* what) {
  const Config& cfg = loop_->config();
  size_t q = ex_->queued_output();
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (q <= cfg.stream_max_buffer) return false;
  // Every byte we queue counts: the plugin's messages and our own replies
  // to the peer's control frames alike, or a peer that sends pings and
  // never reads would make us buffer without bound.
  LOG_WARN(
      "plugin %s: WebSocket over --stream-max-buffer (%zu bytes queued, "
      "last by %s); closing it",
      mount_->module->name().c_str(), q, what);
  overflowed_ = true;
  close_code_ = ws::close_code::kPolicyViolation;
  code_decided_ = true;
  ex_->drop();
  return true;
}

int WsSession::after_send() {
  if (!ex_ || overflowed_) return POUNCE_ERR_CLOSED;
  if (over_output_limit("the plugin")) return POUNCE_ERR_CLOSED;
  const Config& cfg = loop_->config();
  size_t q = ex_->queued_output();
  if (q > cfg.stream_high_water) {
    want_writable_ = true;
    return POUNCE_HIGH_WATER;
  }
  return POUNCE_OK;
}

int WsSession::check_send(pounce_ws_opcode_t opcode, const void* data,
                          size_t len) {
  if (opcode != POUNCE_WS_TEXT && opcode != POUNCE_WS_BINARY) {
    return POUNCE_ERR_INVALID;
  }
  if (!data && len) return POUNCE_ERR_INVALID;
  if (opcode == POUNCE_WS_TEXT &&
      !ws::is_valid_utf8({static_cast<const char*>(data), len})) {
    return POUNCE_ERR_INVALID;  // a text frame must carry UTF-8 (§5.6)
  }
  return POUNCE_OK;
}

int WsSession::check_ping(const void* data, size_t len) {
  return len > ws::kMaxControlPayload || (!data && len) ? POUNCE_ERR_INVALID
                                                        : POUNCE_OK;
}

int WsSession::check_close(uint16_t code, std::string_view reason) {
  return ws::is_valid_close_code(code) &&
                 reason.size() <= ws::kMaxCloseReason &&
                 ws::is_valid_utf8(reason)
             ? POUNCE_OK
             : POUNCE_ERR_INVALID;
}

int WsSession::send(pounce_ws_opcode_t opcode, const void* data, size_t len) {
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  if (state_ != State::Open) return POUNCE_ERR_STATE;
  if (int rc = check_send(opcode, data, len); rc != POUNCE_OK) return rc;
  PluginCallDepth::Scope scope(calls_);
  std::string_view payload(static_cast<const char*>(data), len);
  ws::PerMessageDeflate* deflate =
      deflate_ && deflate_->should_compress(len) ? deflate_.get() : nullptr;
  if (!ws::append_message(
          ex_->tunnel_output(),
          opcode == POUNCE_WS_TEXT ? ws::Opcode::Text : ws::Opcode::Binary,
          payload, deflate)) {
    return POUNCE_ERR_NOMEM;
  }
  ex_->flush();
  return after_send();
}

int WsSession::ping(const void* data, size_t len) {
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  if (state_ != State::Open) return POUNCE_ERR_STATE;
  if (int rc = check_ping(data, len); rc != POUNCE_OK) return rc;
  PluginCallDepth::Scope scope(calls_);
  if (!ws::append_ping(ex_->tunnel_output(),
                       std::string_view(static_cast<const char*>(data), len))) {
    return POUNCE_ERR_INVALID;  // check_ping() refused it already
  }
  ex_->flush();
  return after_send();
}

int WsSession::close(uint16_t code, std::string_view reason) {
  if (!ex_ || state_ == State::Closed) return POUNCE_ERR_CLOSED;
  if (state_ != State::Open) return POUNCE_OK;  // already closing
  if (int rc = check_close(code, reason); rc != POUNCE_OK) return rc;
  PluginCallDepth::Scope scope(calls_);
  send_close(code, reason);
  // The peer answers; until then, on_ws_close waits. The loop's
  // --shutdown-timeout or the peer leaving bounds the wait.
  ex_->await_close();
  return POUNCE_OK;
}

void WsSession::on_output(size_t q) {
  loop_->handles().publish_queued(handle_, static_cast<int64_t>(q));
  if (!want_writable_ || state_ != State::Open ||
      q >= loop_->config().stream_high_water / 2) {
    return;
  }
  if (in_plugin_call()) {
    // Drained by the plugin's own send: on_ws_writable must not run inside
    // ws_send. The next turn looks again.
    defer_writable();
    return;
  }
  want_writable_ = false;
  const pounce_plugin_t& d = mount_->module->desc();
  if (d.on_ws_writable) {
    try {
      crash::PluginCallScope scope(mount_, "on_ws_writable");
      d.on_ws_writable(mount_->instance, handle_, user_);
    } catch (...) {
      LOG_ERROR("plugin %s: exception escaped on_ws_writable",
                mount_->module->name().c_str());
    }
  }
}

void WsSession::want_writable() {
  if (!ex_ || state_ != State::Open) return;
  want_writable_ = true;
  on_output(ex_->queued_output());
}

void WsSession::defer_writable() {
  if (writable_deferred_) return;  // one look-again is enough
  Loop* loop = loop_;
  uint64_t h = handle_;
  writable_deferred_ = loop->post([loop, h] {
    auto* s = static_cast<WsSession*>(
        loop->handles().lookup(h, HandleKind::WebSocket));
    if (!s) return;
    s->writable_deferred_ = false;
    if (s->ex_) s->on_output(s->ex_->queued_output());
  });
}

void WsSession::finish() {
  // Without a close frame from the peer (and no failure of ours), the
  // connection closed abnormally (RFC 6455 §7.1.5).
  if (!code_decided_) {
    close_code_ = ws::close_code::kAbnormal;
    close_reason_.clear();
  }
  finish(close_code_, close_reason_);
}

void WsSession::go_away() {
  if (!ex_ || state_ != State::Open) return;
  send_close(ws::close_code::kGoingAway, "server going away");
  ex_->await_close();
}

void abandon_ws_upgrade(const Mount* mount, void* user) {
  const pounce_plugin_t& d = mount->module->desc();
  // A descriptor shorter than 1.1 has the hook zeroed ("absent").
  if (!d.on_ws_upgrade_abandoned) return;
  try {
    crash::PluginCallScope scope(mount, "on_ws_upgrade_abandoned");
    d.on_ws_upgrade_abandoned(mount->instance, user);
  } catch (...) {
    LOG_ERROR("plugin %s: exception escaped on_ws_upgrade_abandoned",
              mount->module->name().c_str());
  }
}

void WsSession::finish(uint16_t code, std::string_view reason) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  // As in AsyncStream::close: the handle dies before the hook runs, so that
  // nothing the hook asks of it (a timer, a post, a send) outlives it.
  loop_->handles().release(handle_);
  timers_.stop_all(loop_);
  const pounce_plugin_t& d = mount_->module->desc();
  if (opened_ && d.on_ws_close) {
    try {
      crash::PluginCallScope scope(mount_, "on_ws_close");
      d.on_ws_close(mount_->instance, handle_, user_, code,
                    {reason.data(), reason.size()});
    } catch (...) {
      LOG_ERROR("plugin %s: exception escaped on_ws_close",
                mount_->module->name().c_str());
    }
  } else if (!opened_) {
    // Closed before the 101 reached the client: on_ws_open never ran, so
    // on_ws_close will not hand `user` back.
    abandon_ws_upgrade(mount_, user_);
  }
}

ws::DeflateConfig websocket_deflate_policy(const Loop& loop) {
  ws::DeflateConfig d;
  d.enabled = loop.config().ws_compression;
  d.level = loop.config().ws_compression_level;
  if (loop.ws_deflate_sockets >= kWsTakeoverSocketsPerLoop) {
    d.server_no_context_takeover = true;
    d.client_no_context_takeover = true;
  }
  return d;
}

WsSession* upgrade_websocket(exchange::Exchange& ex,
                             const http::RequestHead& head, Route& r,
                             const ws::Handshake& hs) {
  // The plugin decides before the acceptance: a subprotocol, or a refusal.
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
    fill_view(ex, head, r, {}, &view);
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
    // The plugin's refusal: its status, with nothing else to say.
    int status = up.reject_status <= 599 ? up.reject_status : 500;
    ex.refuse_websocket(status);
    pipeline::record_response(ex, &head, r.mount->metrics_index, status, 0);
    return nullptr;
  }
  // The acceptance is queued, or the upgrade refused: a session never starts
  // without its handshake. The exchange refuses any index that is neither
  // -1 nor one of the offered subprotocols (a plugin may only choose what
  // the client offered).
  if (!ex.accept_websocket(hs, up.chosen_protocol)) {
    LOG_ERROR(
        "plugin %s: chose subprotocol %d of %zu offered; refusing the "
        "upgrade",
        r.mount->module->name().c_str(), up.chosen_protocol, hs.protocol_count);
    abandon_ws_upgrade(r.mount, up.user);
    ex.respond_error(http::ErrorCode::PluginError, &head);
    return nullptr;
  }
  // The acceptance's status: 101 on HTTP/1.1, 200 to an extended CONNECT
  // (RFC 8441 §5).
  pipeline::record_response(ex, &head, r.mount->metrics_index,
                            ex.http_major() >= 2 ? 200 : 101, 0);
  // The session keeps its generation until it is freed.
  GenerationPin pin = r.pin ? std::move(r.pin) : GenerationPin(r.generation);
  return new WsSession(&ex, r.mount, std::move(pin), hs.deflate, up.user);
}

void WsSession::release(WsSession* s) {
  s->ex_ = nullptr;
  // on_ws_close, then the session's memory and, with it, its pin.
  auto finalize = [s] {
    s->finish();
    delete s;
  };
  if (s->in_plugin_call()) {
    // Never call on_ws_close from inside the plugin's own call.
    if (s->loop_->post(finalize)) return;
  }
  finalize();
}

}  // namespace pounce
