// One open WebSocket on an async loop: the codec of host/ws/ driven by the
// exchange's bytes, the plugin's hooks, and the close handshake.
//
// Life: on_ws_open once the 101 is out; on_ws_message per whole message;
// exactly one on_ws_close, with the peer's close code, the code we failed the
// connection with, or 1006 when the peer vanished. Pings from the peer are
// answered automatically; idle sockets get a ping every --ws-ping-interval,
// and one that stays silent for two intervals is dropped (1006). A message
// left unfinished for --ws-message-timeout fails the connection (1008), as
// does one whose buffer the loop's --ws-buffer-budget cannot cover.
#pragma once

#include <pounce/pounce.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "async/owner_state.h"
#include "plugin/dispatch.h"
#include "plugin/generation.h"
#include "ws/handshake.h"
#include "ws/message_assembler.h"
#include "ws/permessage_deflate.h"

namespace pounce {

namespace exchange {
class Exchange;
}  // namespace exchange
class Loop;
class Generation;
struct Mount;

class WsSession {
 public:
  enum class State : uint8_t {
    Open,     // messages flow both ways
    Closing,  // our close frame is sent; waiting for the peer's
    Closed,   // on_ws_close was called
  };

  // `pin` keeps the mount's generation loaded until the session is freed.
  // Takes a handle; opened (open()) once the exchange accepted the upgrade.
  WsSession(exchange::Exchange* ex, const Mount* mount, GenerationPin pin,
            const ws::DeflateNegotiation& deflate, void* user);
  ~WsSession();
  WsSession(const WsSession&) = delete;
  WsSession& operator=(const WsSession&) = delete;

  // ---- the plugin's calls (owning loop) ----
  int send(pounce_ws_opcode_t opcode, const void* data, size_t len);
  int ping(const void* data, size_t len);
  int close(uint16_t code, std::string_view reason);
  // Their argument checks, whatever the session's state: POUNCE_OK or
  // POUNCE_ERR_INVALID. Also made before a call from another thread is
  // queued, so that it answers as the call on the loop would.
  static int check_send(pounce_ws_opcode_t opcode, const void* data,
                        size_t len);
  static int check_ping(const void* data, size_t len);
  static int check_close(uint16_t code, std::string_view reason);

  // ---- the protocol's calls ----
  void open();  // after the acceptance: on_ws_open, ping timer
  // Consumes client bytes (all of them); events go to the plugin.
  void feed(char* data, size_t len);
  void on_output(size_t queued);
  // As AsyncStream::want_writable(), with on_ws_writable.
  void want_writable();
  // Shutdown or reload: close 1001 and wait for the peer's answer.
  void go_away();
  // Calls on_ws_close once (if it was opened) with the close code: the
  // peer's, the one we failed the connection with, or 1006 when neither
  // exists. Releases the plugin side.
  void finish();
  void finish(uint16_t code, std::string_view reason);
  // The exchange lets go of `s`: on_ws_close (on a later turn when inside
  // one of the plugin's calls), then it is freed. Every later call of the
  // plugin answers POUNCE_ERR_CLOSED.
  static void release(WsSession* s);
  // As AsyncStream::closing(): on_ws_close is due or running.
  bool closing() const { return !ex_ || state_ == State::Closed; }

  OwnedTimers& timers() { return timers_; }

  uint64_t handle() const { return handle_; }
  void* user() const { return user_; }
  void set_user(void* u) { user_ = u; }
  State state() const { return state_; }
  Generation* generation() const { return pin_.get(); }
  const Mount* mount() const { return mount_; }
  Loop* loop() const { return loop_; }
  bool in_plugin_call() const { return calls_.active(); }
  // Memory held by this socket's codec (deflate contexts and message
  // buffer), for the measurements in docs/performance.md.
  size_t memory_bytes() const;

 private:
  // on_writable found due inside the plugin's own call: look again on the
  // next turn of the loop (pounce.h: no hook runs inside a host call).
  void defer_writable();
  void feed_frames(char* data, size_t len);
  void watch_unfinished_message();
  void fail(uint16_t code);
  static void on_ping_timer(uv_timer_t* t);
  static void on_message_timer(uv_timer_t* t);
  void send_close(uint16_t code, std::string_view reason);
  int after_send();
  // Past --stream-max-buffer of queued output (`what` queued the last of
  // it): logs, fails the socket with 1008 and drops it; returns true.
  bool over_output_limit(const char* what);

  // First member, so that it is released last (see AsyncStream).
  GenerationPin pin_;
  exchange::Exchange* ex_;  // null once detached
  Loop* loop_;
  const Mount* mount_;
  uint64_t handle_ = 0;
  void* user_ = nullptr;
  State state_ = State::Open;
  bool opened_ = false;
  PluginCallDepth calls_;
  bool want_writable_ = false;
  bool writable_deferred_ = false;  // a look-again is posted
  bool overflowed_ = false;         // over_output_limit() dropped the socket

  std::unique_ptr<ws::PerMessageDeflate> deflate_;
  ws::MessageAssembler assembler_;

  // Keep-alive pings: a heap-allocated timer handle, closed asynchronously.
  uv_timer_t* ping_timer_ = nullptr;
  bool heard_since_ping_ = true;
  // --ws-message-timeout: created at the first message that spans reads.
  uv_timer_t* message_timer_ = nullptr;
  bool message_timer_armed_ = false;
  uint64_t timed_message_ = 0;  // the assembler's messages_begun() it runs for
  bool ping_outstanding_ = false;
  // Codes for on_ws_close: what the peer sent, or what we failed with.
  uint16_t close_code_ = 1006;
  std::string close_reason_;
  bool code_decided_ = false;
  OwnedTimers timers_;
};

// The plugin accepted an upgrade but no session opened (no 101, or none
// that reached the client): hands its upgrade `user` back through
// on_ws_upgrade_abandoned (ABI 1.1) so that it can be freed. The loop.
void abandon_ws_upgrade(const Mount* mount, void* user);

// permessage-deflate as this loop offers it now: past a number of sockets
// that keep their context, new ones negotiate no context takeover.
ws::DeflateConfig websocket_deflate_policy(const Loop& loop);

// The app side of an upgrade the protocol validated (`hs`): on_ws_upgrade
// decides (a subprotocol, or a refusal), the exchange answers, and on
// acceptance the session is made, not opened yet. nullptr when there is no
// session: the exchange answered otherwise (a refusal, an error).
WsSession* upgrade_websocket(exchange::Exchange& ex,
                             const http::RequestHead& head, Route& r,
                             const ws::Handshake& hs);

}  // namespace pounce
