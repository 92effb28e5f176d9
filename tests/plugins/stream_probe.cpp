// An async plugin for testing the streaming pipeline. It logs what the host
// tells it, so that tests can wait for those lines. Built twice, with
// VERSION_TEXT "v1" and "v2", for reload tests.
//
//   /tick?count=N&interval_ms=M  N chunks "<version> tick i\n" (0 = endless)
//   /flood?mode=polite|rude      writes 16 KiB chunks as fast as it may;
//                                polite pauses at POUNCE_HIGH_WATER until
//                                on_writable (4 MiB in all), rude ignores it
//   /thread                      three chunks written from another thread
//   /thread-flood                4 MiB in 16 KiB chunks from another thread,
//                                which waits for on_writable at every
//                                POUNCE_HIGH_WATER (up to 10 s, then "stalled")
//   /never                       never starts a response
//   /length?n=N                  declares Content-Length N, writes N bytes
//   /png                         16 KiB of image/png (not compressible)
//   /encoded                     Content-Encoding: identity set by the plugin
//   /echo                        streams the request body back as it arrives
//   /fail                        on_request returns an error
#include <pounce/pounce.hpp>

#include <charconv>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#ifndef VERSION_TEXT
#define VERSION_TEXT "v1"
#endif

namespace {

uint64_t number(const pounce::Request& req, std::string_view key,
                uint64_t fallback) {
  auto v = req.query_param(key);
  uint64_t n = fallback;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

struct State {
  std::string kind;
  pounce::Stream stream;
  pounce::Timer timer;
  uint64_t count = 0;
  uint64_t sent = 0;
  bool rude = false;
  uint64_t flooded = 0;
  std::thread writer;
  // /thread-flood: on_writable (loop thread) wakes the writer thread.
  std::mutex mutex;
  std::condition_variable cv;
  bool writable = false;  // guarded by mutex
  ~State() {
    if (writer.joinable()) writer.join();
  }
};

class Probe : public pounce::Plugin {
 public:
  explicit Probe(const pounce::InitArgs&) {}

  void on_request(pounce::Stream stream, const pounce::Request& req) override {
    std::string_view path = req.path_info();
    if (path == "/fail") throw std::runtime_error("deliberate");
    auto st = std::make_unique<State>();
    st->kind = std::string(path);
    st->stream = stream;
    State* s = st.release();
    stream.set_user(s);
    s->stream.set_user(s);
    if (path == "/tick") {
      s->count = number(req, "count", 3);
      uint64_t interval = number(req, "interval_ms", 50);
      stream.start(200, {{"Content-Type", "text/plain"}});
      tick(s);
      s->timer.start(stream.handle(), interval, interval,
                     [this, s] { tick(s); });
    } else if (path == "/flood") {
      s->rude = req.query_param("mode").value_or("polite") == "rude";
      stream.start(200, {{"Content-Type", "application/octet-stream"}});
      flood(s);
    } else if (path == "/thread") {
      stream.start(200, {{"Content-Type", "text/plain"}});
      pounce_stream_t h = stream.handle();
      s->writer = std::thread([h] {
        pounce::Stream remote(h, nullptr);
        for (int i = 0; i < 3; ++i) remote.write("from a thread\n");
        remote.end();
      });
    } else if (path == "/thread-flood") {
      stream.start(200, {{"Content-Type", "application/octet-stream"}});
      pounce_stream_t h = stream.handle();
      s->writer = std::thread([h, s] {
        pounce::Stream remote(h, nullptr);
        const std::string chunk(16384, 'T');
        for (int i = 0; i < 256; ++i) {
          int rc = remote.write(chunk);
          if (rc < 0) return;  // closed: on_close follows
          if (rc != POUNCE_HIGH_WATER) continue;
          std::unique_lock lock(s->mutex);
          if (!s->cv.wait_for(lock, std::chrono::seconds(10),
                              [s] { return s->writable; })) {
            remote.write("stalled");
            break;
          }
          s->writable = false;
        }
        remote.end();
      });
    } else if (path == "/never") {
      // The host answers 500 at --request-timeout.
    } else if (path == "/length") {
      uint64_t n = number(req, "n", 10);
      stream.start(200, {{"Content-Type", "text/plain"}},
                   static_cast<int64_t>(n));
      stream.write(std::string(n, 'L'));
      stream.end();
    } else if (path == "/png") {
      stream.start(200, {{"Content-Type", "image/png"}});
      stream.write(std::string(16384, 'P'));
      stream.end();
    } else if (path == "/encoded") {
      stream.start(200, {{"Content-Type", "text/plain"},
                         {"Content-Encoding", "identity"}});
      stream.write(std::string(4096, 'E'));
      stream.end();
    } else if (path == "/echo") {
      stream.start(200, {{"Content-Type", "application/octet-stream"}});
    } else {
      stream.start(404, {{"Content-Type", "text/plain"}}, 10);
      stream.write("Not Found\n");
      stream.end();
    }
  }

  void on_body(pounce::Stream stream, std::string_view data,
               bool last) override {
    State* s = stream.user<State>();
    if (!s || s->kind != "/echo") return;
    if (!data.empty()) stream.write(data);
    if (last) stream.end();
  }

  void on_writable(pounce::Stream stream) override {
    State* s = stream.user<State>();
    if (!s) return;
    log(POUNCE_LOG_INFO, "on_writable");
    if (s->kind == "/flood") flood(s);
    if (s->kind == "/thread-flood") {
      std::lock_guard lock(s->mutex);
      s->writable = true;
      s->cv.notify_one();
    }
  }

  void on_close(pounce::Stream stream, pounce_close_reason_t reason) override {
    log(POUNCE_LOG_INFO, std::string(VERSION_TEXT " on_close reason=") +
                             std::to_string(static_cast<int>(reason)));
    delete stream.user<State>();
  }

  void on_draining(pounce_drain_reason_t reason, uint64_t) override {
    log(POUNCE_LOG_INFO, std::string(VERSION_TEXT " draining reason=") +
                             std::to_string(static_cast<int>(reason)));
  }

 private:
  void tick(State* s) {
    if (s->count != 0 && s->sent >= s->count) {
      s->timer.stop();
      s->stream.end();
      return;
    }
    s->stream.write(std::string(VERSION_TEXT " tick ") +
                    std::to_string(s->sent++) + "\n");
  }

  void flood(State* s) {
    static const std::string chunk(16384, 'F');
    // A rude flood writes far more than the kernel's socket buffers take,
    // so that the host's queue must pass --stream-max-buffer.
    const uint64_t total = s->rude ? (256ull << 20) : (4ull << 20);
    while (s->flooded < total) {
      int rc = s->stream.write(chunk);
      s->flooded += chunk.size();
      if (rc < 0) return;  // closed (a rude flood ends here)
      if (rc == POUNCE_HIGH_WATER && !s->rude) {
        log(POUNCE_LOG_INFO, "high water");
        return;  // on_writable resumes
      }
    }
    s->stream.end();
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(Probe, pounce::PluginInfo{.name = "stream-probe",
                                            .version = VERSION_TEXT,
                                            .mode = POUNCE_MODE_ASYNC})
