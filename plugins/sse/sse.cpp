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
// deadline; on shutdown it ends its streams cleanly.
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
    if (path == "/events") {
      flow->kind = Flow::Kind::Events;
      flow->count = query_number(req, "count", 10);
      flow->interval_ms = query_number(req, "interval_ms", 100);
      flow->stamp = query_number(req, "stamp", 0) == 1;
      stream.start(200, {{"Content-Type", "text/event-stream"},
                         {"Cache-Control", "no-cache"}});
    } else if (path == "/stream") {
      flow->kind = Flow::Kind::Html;
      flow->count = query_number(req, "chunks", 10);
      flow->chunk_size = query_number(req, "size", 1024);
      flow->interval_ms = query_number(req, "interval_ms", 10);
      if (flow->chunk_size == 0 || flow->chunk_size > (16u << 20)) {
        flow->chunk_size = 1024;
      }
      stream.start(200, {{"Content-Type", "text/html; charset=utf-8"}});
    } else {
      stream.start(404, {{"Content-Type", "text/plain"}}, 10);
      stream.write("Not Found\n");
      stream.end();
      return;
    }
    Flow* f = flow.get();
    f->stream.set_user(f);
    track(f->stream.handle(), true);
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
    track(stream.handle(), false);
    delete f;  // its Timer stops with it (the host already cancelled it)
  }

  void on_draining(pounce_drain_reason_t reason, uint64_t) override {
    // On a reload the old code keeps streaming until the host's deadline.
    // On shutdown, end every stream cleanly now (stream_end may be called
    // from any thread; the host queues it to the stream's loop).
    if (reason != POUNCE_DRAIN_SHUTDOWN) return;
    std::lock_guard lock(mutex_);
    for (auto& [handle, unused] : live_) {
      pounce::host().stream_end(handle, nullptr, 0);
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

  void track(pounce_stream_t handle, bool add) {
    std::lock_guard lock(mutex_);
    if (add) {
      live_[handle] = true;
    } else {
      live_.erase(handle);
    }
  }

  // Guards live_: the loops add and remove streams, on_draining (main
  // thread) reads it.
  std::mutex mutex_;
  std::unordered_map<pounce_stream_t, bool> live_;
};

}  // namespace

POUNCE_CPP_PLUGIN(Sse, pounce::PluginInfo{.name = "sse",
                                          .version = "1.0.0",
                                          .mode = POUNCE_MODE_ASYNC})
