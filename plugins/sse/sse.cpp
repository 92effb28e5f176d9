// sse: server-sent events and chunked streaming, on the async path.
//
//   GET /events?count=N&interval_ms=M[&stamp=1]
//       text/event-stream: N events "id: i\ndata: {"seq":i}\n\n", one every
//       M ms (defaults 10 and 100; count=0 streams until the client
//       leaves). stamp=1 adds "t":<CLOCK_MONOTONIC ns> to each event, so that
//       a client on the same machine can measure delivery latency.
//   GET /stream?chunks=N&size=B&interval_ms=M
//       chunked text/html: N chunks of B bytes (defaults 10, 1024, 10 ms),
//       for exercising compression.
//
// Driven by host timers on the stream's loop; never sleeps in a thread. It
// honours backpressure: when a write reports the high-water mark, it pauses
// until on_writable. On a reload it keeps streaming until the host's
// deadline. On shutdown it ends, cleanly, the streams that would not finish
// before the deadline (endless ones included), and lets the others run to
// their last event: a client must not take a cut stream for a whole one.
#include <pounce/pounce.hpp>

#include <charconv>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace {

uint64_t query_number(const pounce::Request& req, std::string_view key,
                      uint64_t fallback) {
  auto v = req.query_param(key);
  if (!v || v->empty()) return fallback;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || end != v->data() + v->size()) return fallback;
  return n;
}

// One running stream. Lives on its stream's loop, from on_request to
// on_close.
struct Flow {
  enum class Kind { Events, Html } kind = Kind::Events;
  pounce::Stream stream;
  pounce::Timer timer;
  uint64_t sent = 0;
  uint64_t count = 0;  // 0: endless (events only)
  uint64_t interval_ms = 0;
  uint64_t chunk_size = 0;
  bool stamp = false;
  bool paused = false;  // waiting for on_writable
  bool ended = false;
};

std::string html_chunk(uint64_t index, uint64_t size) {
  std::string out;
  out.reserve(size);
  char line[160];
  while (out.size() < size) {
    int n = snprintf(line, sizeof line,
                     "<li class=\"item\" data-chunk=\"%llu\"><a "
                     "href=\"/items/%zu\">Item %zu of the stream</a></li>\n",
                     static_cast<unsigned long long>(index), out.size(),
                     out.size());
    out.append(line, static_cast<size_t>(n));
  }
  out.resize(size);
  return out;
}

class Sse : public pounce::Plugin {
 public:
  explicit Sse(const pounce::InitArgs&) {}

  void on_request(pounce::Stream stream, const pounce::Request& req) override {
    auto flow = std::make_unique<Flow>();
    flow->stream = stream;
    std::string_view path = req.path_info();
    if (req.method() != "GET" && req.method() != "HEAD") {
      stream.start(
          405, {{"Content-Type", "text/plain"}, {"Allow", "GET, HEAD"}}, 19);
      stream.write("Method Not Allowed\n");
      stream.end();
      return;
    }
    const char* content_type;
    if (path == "/events") {
      flow->kind = Flow::Kind::Events;
      flow->count = query_number(req, "count", 10);
      flow->interval_ms = query_number(req, "interval_ms", 100);
      flow->stamp = query_number(req, "stamp", 0) == 1;
      content_type = "text/event-stream";
    } else if (path == "/stream") {
      flow->kind = Flow::Kind::Html;
      flow->count = query_number(req, "chunks", 10);
      flow->chunk_size = query_number(req, "size", 1024);
      flow->interval_ms = query_number(req, "interval_ms", 10);
      if (flow->chunk_size == 0 || flow->chunk_size > (16u << 20)) {
        flow->chunk_size = 1024;
      }
      content_type = "text/html; charset=utf-8";
    } else {
      stream.start(404, {{"Content-Type", "text/plain"}}, 10);
      stream.write("Not Found\n");
      stream.end();
      return;
    }
    // Tracked before the head goes out: a client that has seen the head may
    // have the server shut down at once, and on_draining must find this
    // stream then. One that cannot finish before a shutdown already under
    // way gets an empty, complete response.
    const bool fits =
        track(stream.handle(), due_ns(flow->count, flow->interval_ms));
    if (flow->kind == Flow::Kind::Events) {
      stream.start(
          200, {{"Content-Type", content_type}, {"Cache-Control", "no-cache"}});
    } else {
      stream.start(200, {{"Content-Type", content_type}});
    }
    if (!fits) {
      stream.end();
      return;
    }
    Flow* f = flow.get();
    f->stream.set_user(f);
    flow.release();  // owned by the stream until on_close
    resume(f);
  }

  void on_writable(pounce::Stream stream) override {
    Flow* f = stream.user<Flow>();
    if (!f || f->ended || !f->paused) return;
    f->paused = false;
    resume(f);
  }

  void on_close(pounce::Stream stream, pounce_close_reason_t) override {
    Flow* f = stream.user<Flow>();
    untrack(stream.handle());
    delete f;  // its Timer stops with it (the host already cancelled it)
  }

  void on_draining(pounce_drain_reason_t reason,
                   uint64_t deadline_ns) override {
    // On a reload the old code keeps streaming until the host's deadline.
    // On shutdown, a stream that cannot finish in time ends cleanly now
    // (stream_end may be called from any thread; the host queues it to the
    // stream's loop); one that can is left to send its last event.
    if (reason != POUNCE_DRAIN_SHUTDOWN) return;
    std::lock_guard lock(mutex_);
    shutdown_deadline_ns_ = deadline_ns;
    for (auto& [handle, ends_ns] : live_) {
      if (ends_ns > deadline_ns) pounce::host().stream_end(handle, nullptr, 0);
    }
  }

 private:
  // Sends the next event or chunk, then either keeps going (interval 0: as
  // fast as backpressure allows) or arms the interval timer.
  void resume(Flow* f) {
    if (f->interval_ms == 0) {
      while (!f->ended && !f->paused) send_next(f);
      return;
    }
    send_next(f);
    if (!f->ended && !f->paused) arm(f);
  }

  void arm(Flow* f) {
    f->timer.start(f->stream.handle(), f->interval_ms, f->interval_ms,
                   [this, f] {
                     send_next(f);
                     if (f->ended || f->paused) f->timer.stop();
                   });
  }

  // Sends one event or chunk, or ends the stream when all were sent.
  void send_next(Flow* f) {
    if (f->ended) return;
    if (f->count != 0 && f->sent >= f->count) {
      f->ended = true;
      f->stream.end();
      return;
    }
    int rc;
    if (f->kind == Flow::Kind::Events) {
      char event[128];
      int n =
          f->stamp
              ? snprintf(
                    event, sizeof event,
                    "id: %llu\ndata: {\"seq\":%llu,\"t\":%llu}\n\n",
                    static_cast<unsigned long long>(f->sent),
                    static_cast<unsigned long long>(f->sent),
                    static_cast<unsigned long long>(pounce::host().now_ns()))
              : snprintf(event, sizeof event,
                         "id: %llu\ndata: {\"seq\":%llu}\n\n",
                         static_cast<unsigned long long>(f->sent),
                         static_cast<unsigned long long>(f->sent));
      rc = f->stream.write(std::string_view(event, static_cast<size_t>(n)));
    } else {
      rc = f->stream.write(html_chunk(f->sent, f->chunk_size));
    }
    ++f->sent;
    if (rc == POUNCE_HIGH_WATER) {
      f->paused = true;  // on_writable resumes
    } else if (rc < 0) {
      f->ended = true;  // closed: on_close follows
    } else if (f->count != 0 && f->sent >= f->count) {
      f->ended = true;
      f->stream.end();
    }
  }

  static constexpr uint64_t kNever = UINT64_MAX;

  // now + count * interval, saturating: both come from the query string.
  static uint64_t due_ns(uint64_t count, uint64_t interval_ms) {
    if (count == 0) return kNever;
    const uint64_t now = pounce::host().now_ns();
    const uint64_t step = interval_ms * 1000000ull;
    if (interval_ms > kNever / 1000000ull ||
        (step != 0 && count > (kNever - now) / step)) {
      return kNever;
    }
    return now + count * step;
  }

  // Records a stream; false (and not recorded) when a shutdown is under way
  // and the stream would end after its deadline.
  bool track(pounce_stream_t handle, uint64_t ends_ns) {
    std::lock_guard lock(mutex_);
    if (ends_ns > shutdown_deadline_ns_) return false;
    live_[handle] = ends_ns;
    return true;
  }
  void untrack(pounce_stream_t handle) {
    std::lock_guard lock(mutex_);
    live_.erase(handle);
  }

  // Guards live_ and shutdown_deadline_ns_: the loops add and remove
  // streams, on_draining (main thread) reads them and sets the deadline.
  // Each stream maps to the now_ns() time its last event is due (kNever for
  // an endless one).
  std::mutex mutex_;
  std::unordered_map<pounce_stream_t, uint64_t> live_;
  uint64_t shutdown_deadline_ns_ = kNever;
};

}  // namespace

POUNCE_CPP_PLUGIN(Sse, pounce::PluginInfo{.name = "sse",
                                          .version = "1.0.0",
                                          .mode = POUNCE_MODE_ASYNC})
