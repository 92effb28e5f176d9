// An async plugin that probes how the host keeps a generation loaded: what a
// closing owner may still ask for, and calls into the plugin that run later
// than the hook that asked for them. Every line it logs starts with
// "pin-probe <generation>", so that tests can tell generations apart.
//
//   /hold                  starts a stream and keeps it open; a request body
//                          is allowed. When its last byte arrives, on_body
//                          logs "on_body sleeping", blocks its loop for
//                          ?sleep_ms= (default 2000), then posts a callback
//                          to its own stream ("posted rc=N"), from a thread
//                          of its own with ?from=thread; the callback logs
//                          "posted callback ran"
//   /slowbody              starts a stream ("slowbody started"); when its
//                          body's last byte arrives, blocks its loop for
//                          ?sleep_ms= (default 1500), then ends the stream
//   /closing               starts a stream and keeps it open. Its on_close
//                          asks for a repeating timer, a post and a write,
//                          and logs "on_close calls: timer=T post=P
//                          write=W"; the timer and the callback log "fired
//                          after close" if they ever run
//   WebSocket, any path    on_ws_close asks for the same (with a send) and
//                          logs "on_ws_close calls: timer=T post=P send=S".
//                          ?protocol=N chooses subprotocol index N (may be
//                          out of range) before the 101
//
// shutdown() logs "pin-probe <generation> shutdown".
#include <pounce/pounce.hpp>

#include <charconv>
#include <chrono>
#include <string>
#include <thread>

namespace {

int64_t number(const pounce::Request& req, std::string_view key,
               int64_t fallback) {
  auto v = req.query_param(key);
  int64_t n = fallback;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

struct Flow {
  std::string kind;
  int64_t sleep_ms = 0;
  bool post_from_thread = false;
};

class PinProbe : public pounce::Plugin {
 public:
  explicit PinProbe(const pounce::InitArgs& args)
      : prefix_("pin-probe " + std::to_string(args.generation) + " ") {}
  ~PinProbe() override { say("shutdown"); }

  void on_request(pounce::Stream stream, const pounce::Request& req) override {
    auto* f =
        new Flow{std::string(req.path_info()), number(req, "sleep_ms", 2000)};
    stream.set_user(f);
    f->post_from_thread = req.query_param("from").value_or("") == "thread";
    if (f->kind == "/slowbody") {
      f->sleep_ms = number(req, "sleep_ms", 1500);
      say("slowbody started");
    }
    stream.start(200, {{"Content-Type", "text/plain"}});
    stream.write(f->kind + " started\n");
  }

  void on_body(pounce::Stream stream, std::string_view, bool last) override {
    Flow* f = stream.user<Flow>();
    if (!f || !last) return;
    if (f->kind == "/hold") {
      say("on_body sleeping");
      std::this_thread::sleep_for(std::chrono::milliseconds(f->sleep_ms));
      int rc = 0;
      auto post = [&] {
        rc = pounce::host().post(stream.handle(), &PinProbe::posted, this);
      };
      if (f->post_from_thread) {
        std::thread(post).join();
      } else {
        post();
      }
      say("posted rc=" + std::to_string(rc));
    } else if (f->kind == "/slowbody") {
      std::this_thread::sleep_for(std::chrono::milliseconds(f->sleep_ms));
      stream.write("done\n");
      stream.end();
    }
  }

  void on_close(pounce::Stream stream, pounce_close_reason_t) override {
    Flow* f = stream.user<Flow>();
    if (f && f->kind == "/closing") {
      const pounce_host_api_t& api = pounce::host();
      uint64_t timer =
          api.timer_start(stream.handle(), 10, 10, &PinProbe::late_timer, this);
      int post = api.post(stream.handle(), &PinProbe::late_post, this);
      int write = api.stream_write(stream.handle(), "x", 1);
      say("on_close calls: timer=" + std::to_string(timer) +
          " post=" + std::to_string(post) + " write=" + std::to_string(write));
    }
    delete f;
  }

  void on_ws_upgrade(const pounce::Request& req,
                     pounce::WsUpgrade& up) override {
    if (req.query_param("protocol")) {
      up.choose_protocol(static_cast<size_t>(number(req, "protocol", -1)));
    }
  }

  void on_ws_close(pounce::WebSocket ws, uint16_t, std::string_view) override {
    const pounce_host_api_t& api = pounce::host();
    uint64_t timer =
        api.timer_start(ws.handle(), 10, 10, &PinProbe::late_timer, this);
    int post = api.post(ws.handle(), &PinProbe::late_post, this);
    int send = api.ws_send(ws.handle(), POUNCE_WS_TEXT, "x", 1);
    say("on_ws_close calls: timer=" + std::to_string(timer) +
        " post=" + std::to_string(post) + " send=" + std::to_string(send));
  }

 private:
  void say(const std::string& what) { log(POUNCE_LOG_INFO, prefix_ + what); }
  static void posted(void* self) {
    static_cast<PinProbe*>(self)->say("posted callback ran");
  }
  static void late_timer(void* self, pounce_timer_t) {
    static_cast<PinProbe*>(self)->say("timer fired after close");
  }
  static void late_post(void* self) {
    static_cast<PinProbe*>(self)->say("post fired after close");
  }

  std::string prefix_;
};

}  // namespace

POUNCE_CPP_PLUGIN(PinProbe, pounce::PluginInfo{.name = "pin-probe",
                                               .version = "1.0.0",
                                               .mode = POUNCE_MODE_ASYNC,
                                               .websocket = true})
