#include "plugin/stream_api.h"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "async/stream.h"
#include "async/timers.h"
#include "async/ws_session.h"
#include "exchange/loop.h"
#include "log/logger.h"
#include "plugin/generation.h"
#include "plugin/request_response.h"

namespace pounce {

namespace {

// Header views copied for a call queued to another thread: the plugin's
// memory may be gone by the time the loop runs it.
struct OwnedHeaders {
  std::vector<std::string> strings;
  std::vector<pounce_header_t> headers;

  OwnedHeaders(const pounce_header_t* h, size_t n) {
    strings.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
      strings.emplace_back(h[i].name.data ? h[i].name.data : "",
                           h[i].name.data ? h[i].name.len : 0);
      strings.emplace_back(h[i].value.data ? h[i].value.data : "",
                           h[i].value.data ? h[i].value.len : 0);
    }
    for (size_t i = 0; i < n; ++i) {
      const std::string& name = strings[2 * i];
      const std::string& value = strings[2 * i + 1];
      headers.push_back(
          {{name.data(), name.size()}, {value.data(), value.size()}});
    }
  }
};

// The loop of a handle of `kind`; nullptr (the caller answers
// POUNCE_ERR_INVALID) for 0, a loop this host does not have, or a handle of
// another kind, which no thread may mistake for a live one of this kind.
Loop* owning_loop(uint64_t handle, HandleKind kind) {
  if (!handle || HandleTable::kind_of(handle) != kind) return nullptr;
  return handle_loop(handle);
}

// Timers and posts belong to a stream or a WebSocket.
Loop* owner_loop(uint64_t owner) {
  HandleKind k = HandleTable::kind_of(owner);
  if (k != HandleKind::Stream && k != HandleKind::WebSocket) return nullptr;
  return owner ? handle_loop(owner) : nullptr;
}

template <typename T>
constexpr HandleKind kind_of();
template <>
constexpr HandleKind kind_of<AsyncStream>() {
  return HandleKind::Stream;
}
template <>
constexpr HandleKind kind_of<WsSession>() {
  return HandleKind::WebSocket;
}

template <typename T>
T* object_here(Loop* loop, uint64_t handle) {
  return static_cast<T*>(loop->handles().lookup(handle, kind_of<T>()));
}

AsyncStream* stream_here(Loop* loop, uint64_t handle) {
  return object_here<AsyncStream>(loop, handle);
}

// Runs `op` on the object's loop: at once when called there, queued
// otherwise. A queued call answers POUNCE_OK when the object was alive when
// queued; if it closes before the call runs, the call does nothing (on_close
// tells the plugin).
template <typename T, typename Op>
int with_object(uint64_t handle, Op op) {
  Loop* loop = owning_loop(handle, kind_of<T>());
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() == loop) {
    T* s = object_here<T>(loop, handle);
    return s ? op(s) : POUNCE_ERR_CLOSED;
  }
  if (!loop->handles().alive(handle, kind_of<T>())) return POUNCE_ERR_CLOSED;
  bool posted = loop->post([loop, handle, op]() mutable {
    if (T* s = object_here<T>(loop, handle)) op(s);
  });
  return posted ? POUNCE_OK : POUNCE_ERR_CLOSED;
}

template <typename Op>
int with_stream(pounce_stream_t handle, Op op) {
  return with_object<AsyncStream>(handle, op);
}

int api_stream_start(pounce_stream_t stream, int status,
                     const pounce_header_t* headers, size_t count,
                     int64_t content_length) {
  Loop* loop = owning_loop(stream, HandleKind::Stream);
  if (loop && Loop::current() == loop) {
    AsyncStream* s = stream_here(loop, stream);
    return s ? s->start(status, headers, count, content_length)
             : POUNCE_ERR_CLOSED;
  }
  auto owned = std::make_shared<OwnedHeaders>(headers, headers ? count : 0);
  return with_stream(stream, [owned, status, content_length](AsyncStream* s) {
    return s->start(status, owned->headers.data(), owned->headers.size(),
                    content_length);
  });
}

// A write from a thread other than the owner's loop: the bytes are copied,
// counted as in transit (so that a producer there sees backpressure too),
// and queued to the loop, which applies them with `apply`.
template <typename T, typename Apply>
int queue_write(Loop* loop, uint64_t handle, const void* data, size_t len,
                Apply apply) {
  if (!data && len) return POUNCE_ERR_INVALID;
  HandleTable& handles = loop->handles();
  const int64_t n = static_cast<int64_t>(len);
  handles.add_in_transit(handle, n);
  auto bytes =
      std::make_shared<std::string>(static_cast<const char*>(data), len);
  int rc = with_object<T>(handle, [loop, handle, n, bytes, apply](T* s) {
    loop->handles().add_in_transit(handle, -n);
    return apply(s, *bytes);
  });
  if (rc != POUNCE_OK) {
    handles.add_in_transit(handle, -n);
    return rc;
  }
  if (handles.backlog(handle) <=
      static_cast<int64_t>(loop->config().stream_high_water)) {
    return POUNCE_OK;
  }
  // The producer will wait for on_writable / on_ws_writable: the loop must
  // know to send it, even if the socket takes every byte at once and no
  // write of its own ever sees the queue over the mark. Queued behind the
  // write, so it sees the queue as that write left it.
  with_object<T>(handle, [](T* s) {
    s->want_writable();
    return POUNCE_OK;
  });
  return POUNCE_HIGH_WATER;
}

int api_stream_write(pounce_stream_t stream, const void* data, size_t len) {
  Loop* loop = owning_loop(stream, HandleKind::Stream);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() == loop) {
    AsyncStream* s = stream_here(loop, stream);
    return s ? s->write(data, len) : POUNCE_ERR_CLOSED;
  }
  return queue_write<AsyncStream>(loop, stream, data, len,
                                  [](AsyncStream* s, const std::string& bytes) {
                                    return s->write(bytes.data(), bytes.size());
                                  });
}

// The descriptor is adopted (and checked) on the calling thread, whatever
// it is: the plugin gave it away with the call. From another thread the
// range is counted in transit, as stream_write's bytes are, and the
// reference travels in the queued task (moved, never copied: OpenFile's
// count is not atomic, and the queue orders this thread's last touch before
// the loop's first).
int api_stream_write_file(pounce_stream_t stream, int fd, uint64_t offset,
                          uint64_t length) {
  Loop* loop = owning_loop(stream, HandleKind::Stream);
  if (!loop) {
    if (fd >= 0) ::close(fd);  // ours in every case (pounce.h)
    return POUNCE_ERR_INVALID;
  }
  exchange::OpenFile* opened = nullptr;
  const char* why = nullptr;
  if (int rc = adopt_plugin_file(fd, offset, length, &opened, &why);
      rc != POUNCE_OK) {
    if (why) {
      LOG_ERROR(
          "plugin: stream_write_file with %s (fd %d, offset %llu, "
          "length %llu)",
          why, fd, static_cast<unsigned long long>(offset),
          static_cast<unsigned long long>(length));
    }
    return rc;
  }
  exchange::FileRef file(opened);
  if (Loop::current() == loop) {
    AsyncStream* s = stream_here(loop, stream);
    return s ? s->write_file(file.get(), offset, length) : POUNCE_ERR_CLOSED;
  }
  HandleTable& handles = loop->handles();
  if (!handles.alive(stream, HandleKind::Stream)) return POUNCE_ERR_CLOSED;
  // Counted in transit up to what the backlog can say: a range larger than
  // int64_t's range is over any mark anyway.
  const int64_t n = length > static_cast<uint64_t>(INT64_MAX)
                        ? INT64_MAX
                        : static_cast<int64_t>(length);
  handles.add_in_transit(stream, n);
  const bool posted = loop->post([loop, stream, n, offset, length,
                                  file = std::move(file)]() mutable {
    loop->handles().add_in_transit(stream, -n);
    // A refusal here cannot reach the plugin, which was told
    // POUNCE_OK: a body with a piece missing must not look complete.
    AsyncStream* s = stream_here(loop, stream);
    if (s && s->write_file(file.get(), offset, length) < 0 && s->exchange()) {
      s->abort();
    }
    file.reset();  // on the loop, before the task is freed
  });
  if (!posted) {
    handles.add_in_transit(stream, -n);
    return POUNCE_ERR_CLOSED;
  }
  if (handles.backlog(stream) <=
      static_cast<int64_t>(loop->config().stream_high_water)) {
    return POUNCE_OK;
  }
  // As queue_write: the loop must know to send on_writable.
  with_stream(stream, [](AsyncStream* s) {
    s->want_writable();
    return POUNCE_OK;
  });
  return POUNCE_HIGH_WATER;
}

int api_stream_end(pounce_stream_t stream, const pounce_header_t* trailers,
                   size_t count) {
  Loop* loop = owning_loop(stream, HandleKind::Stream);
  if (loop && Loop::current() == loop) {
    AsyncStream* s = stream_here(loop, stream);
    return s ? s->end(trailers, count) : POUNCE_ERR_CLOSED;
  }
  auto owned = std::make_shared<OwnedHeaders>(trailers, trailers ? count : 0);
  return with_stream(stream, [owned](AsyncStream* s) {
    return s->end(owned->headers.data(), owned->headers.size());
  });
}

int api_stream_abort(pounce_stream_t stream) {
  return with_stream(stream, [](AsyncStream* s) { return s->abort(); });
}

int api_stream_set_user(pounce_stream_t stream, void* user) {
  Loop* loop = owning_loop(stream, HandleKind::Stream);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() != loop) return POUNCE_ERR_STATE;
  AsyncStream* s = stream_here(loop, stream);
  if (!s) return POUNCE_ERR_CLOSED;
  s->set_user(user);
  return POUNCE_OK;
}

pounce_timer_t api_timer_start(uint64_t owner, uint64_t delay_ms,
                               uint64_t repeat_ms, pounce_timer_fn fn,
                               void* user) {
  Loop* loop = owner_loop(owner);
  if (!loop) return 0;
  if (Loop::current() != loop) {
    // The ABI can only answer 0, which also means "owner closing": say once
    // in the log what the plugin did wrong, without a line per call.
    // Relaxed: a flag that only limits logging, ordering nothing.
    static std::atomic<bool> logged{false};
    if (!logged.exchange(true, std::memory_order_relaxed)) {
      LOG_ERROR(
          "a plugin called timer_start from a thread other than the owner's "
          "loop; it returns 0 (post() to the loop and start the timer there). "
          "Logged once.");
    }
    return 0;
  }
  return start_timer(loop, owner, delay_ms, repeat_ms, fn, user);
}

int api_timer_stop(pounce_timer_t timer) {
  Loop* loop = owning_loop(timer, HandleKind::Timer);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() != loop) return POUNCE_ERR_STATE;
  return stop_timer(loop, timer);
}

// fn is plugin code that runs later, whatever becomes of its owner: the
// queued call holds a pin of the owner's generation, so that the generation
// is neither shut down nor unloaded before fn has run (or was dropped with
// the loop). A closing owner (inside on_close / on_ws_close) takes no post.
int api_post(uint64_t owner, pounce_callback_fn fn, void* user) {
  Loop* loop = owner_loop(owner);
  if (!loop || !fn) return POUNCE_ERR_INVALID;
  GenerationPin pin;
  if (Loop::current() == loop) {
    // On the owning loop: a live owner holds its own pin on this loop's
    // counter, so a plain pin here is exact.
    if (auto* s = stream_here(loop, owner)) {
      if (!s->closing()) {
        pin = GenerationPin(s->generation());
      }
    } else if (auto* w = object_here<WsSession>(loop, owner)) {
      if (!w->closing()) {
        pin = GenerationPin(w->generation());
      }
    }
  } else {
    pin = loop->handles().pin_generation(owner);
  }
  if (!pin) return POUNCE_ERR_CLOSED;
  bool posted = loop->post([fn, user, pin = std::move(pin)] {
    try {
      fn(user);
    } catch (...) {
      LOG_ERROR("a posted plugin callback threw; the exception was dropped");
    }
  });
  return posted ? POUNCE_OK : POUNCE_ERR_CLOSED;
}

// ---- WebSocket ----
//
// A call from another thread is queued and cannot see the session, so the
// argument checks of WsSession::send, ping and close (its check_*()) are
// made here first, with the same answers: a queued call that would be refused
// on the loop must not answer POUNCE_OK and then vanish. The session's state
// (closed, closing) is still decided on the loop.

int api_ws_send(pounce_ws_t ws, pounce_ws_opcode_t opcode, const void* data,
                size_t len) {
  Loop* loop = owning_loop(ws, HandleKind::WebSocket);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() == loop) {
    WsSession* s = object_here<WsSession>(loop, ws);
    return s ? s->send(opcode, data, len) : POUNCE_ERR_CLOSED;
  }
  if (!loop->handles().alive(ws, HandleKind::WebSocket)) {
    return POUNCE_ERR_CLOSED;
  }
  if (int rc = WsSession::check_send(opcode, data, len); rc != POUNCE_OK)
    return rc;
  return queue_write<WsSession>(
      loop, ws, data, len, [opcode](WsSession* s, const std::string& bytes) {
        return s->send(opcode, bytes.data(), bytes.size());
      });
}

int api_ws_ping(pounce_ws_t ws, const void* data, size_t len) {
  Loop* loop = owning_loop(ws, HandleKind::WebSocket);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() == loop) {
    WsSession* s = object_here<WsSession>(loop, ws);
    return s ? s->ping(data, len) : POUNCE_ERR_CLOSED;
  }
  if (!loop->handles().alive(ws, HandleKind::WebSocket)) {
    return POUNCE_ERR_CLOSED;
  }
  if (int rc = WsSession::check_ping(data, len); rc != POUNCE_OK) return rc;
  auto bytes = std::make_shared<std::string>(
      data ? static_cast<const char*>(data) : "", len);
  return with_object<WsSession>(ws, [bytes](WsSession* s) {
    return s->ping(bytes->data(), bytes->size());
  });
}

int api_ws_close(pounce_ws_t ws, uint16_t code, pounce_str_t reason) {
  Loop* loop = owning_loop(ws, HandleKind::WebSocket);
  if (!loop) return POUNCE_ERR_INVALID;
  std::string_view why(reason.data ? reason.data : "",
                       reason.data ? reason.len : 0);
  if (Loop::current() == loop) {
    WsSession* s = object_here<WsSession>(loop, ws);
    return s ? s->close(code, why) : POUNCE_ERR_CLOSED;
  }
  if (!loop->handles().alive(ws, HandleKind::WebSocket)) {
    return POUNCE_ERR_CLOSED;
  }
  if (int rc = WsSession::check_close(code, why); rc != POUNCE_OK) return rc;
  auto text = std::make_shared<std::string>(why);
  return with_object<WsSession>(
      ws, [text, code](WsSession* s) { return s->close(code, *text); });
}

int api_ws_set_user(pounce_ws_t ws, void* user) {
  Loop* loop = owning_loop(ws, HandleKind::WebSocket);
  if (!loop) return POUNCE_ERR_INVALID;
  if (Loop::current() != loop) return POUNCE_ERR_STATE;
  WsSession* s = object_here<WsSession>(loop, ws);
  if (!s) return POUNCE_ERR_CLOSED;
  s->set_user(user);
  return POUNCE_OK;
}

}  // namespace

void fill_stream_api(pounce_host_api_t* t) {
  t->stream_start = api_stream_start;
  t->stream_write = api_stream_write;
  t->stream_end = api_stream_end;
  t->stream_set_user = api_stream_set_user;
  t->stream_abort = api_stream_abort;
  t->stream_write_file = api_stream_write_file;
  t->ws_send = api_ws_send;
  t->ws_ping = api_ws_ping;
  t->ws_close = api_ws_close;
  t->ws_set_user = api_ws_set_user;
  t->timer_start = api_timer_start;
  t->timer_stop = api_timer_stop;
  t->post = api_post;
}

}  // namespace pounce
