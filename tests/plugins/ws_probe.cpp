// A WebSocket plugin for tests. Built twice (VERSION_TEXT v1 / v2).
//
//   upgrade at /forbidden      -> refused with 403 before the 101
//   upgrade at /greet          -> on_ws_open sends "hello from on_ws_open"
//   Sec-WebSocket-Protocol     -> picks "chat" when offered
//   text "version"             -> answers VERSION_TEXT
//   text "close-me"            -> closes with 4000 "bye"
//   text "from-thread"         -> three messages sent from another thread
//   text "ping"                -> pings with "plugin-ping"
//   text "thread-ping"         -> pings with "thread-ping" from another thread
//   text "thread-close"        -> closes with 4001 "from thread" from another
//                                 thread
//   text "invalid-calls"       -> makes invalid send/ping/close calls on the
//                                 loop, answers "loop:" and their codes
//   text "thread-invalid-calls"-> the same from another thread ("thread:")
//   text "flood"               -> sends 16 KiB binary messages until a send
//                                 answers POUNCE_HIGH_WATER, then the text
//                                 "high-water"; its on_ws_writable then sends
//                                 "writable"
//   anything else              -> echoed
// It logs "<version> ws on_ws_close code=N", "<version> ws draining",
// "<version> ws flood: high water after N sends" and
// "<version> ws on_ws_writable".
#include <pounce/pounce.hpp>

#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#ifndef VERSION_TEXT
#define VERSION_TEXT "v1"
#endif

namespace {

// Socket user data: markers, never dereferenced.
char kGreet;
char kFlooded;

// Invalid calls, each of which the host must refuse with POUNCE_ERR_INVALID
// whichever thread makes it; returns their codes separated by spaces.
std::string invalid_calls(pounce_ws_t h) {
  const pounce_host_api_t& api = pounce::host();
  pounce::WebSocket ws(h, nullptr);
  const std::string long_ping(126, 'p');
  const std::string long_reason(124, 'r');
  int rcs[] = {
      ws.send_text("bad \xff utf-8"),
      ws.send_text("cut \xc3"),                 // a sequence left unfinished
      ws.send(POUNCE_WS_TEXT, "\xed\xa0\x80"),  // a UTF-16 surrogate
      api.ws_send(h, static_cast<pounce_ws_opcode_t>(9), "x", 1),
      api.ws_send(h, POUNCE_WS_BINARY, nullptr, 4),
      ws.ping(long_ping),
      api.ws_ping(h, nullptr, 3),
      ws.close(1005),
      ws.close(1000, long_reason),
      ws.close(1000, "\xff"),
  };
  std::string out;
  for (int rc : rcs) {
    if (!out.empty()) out += ' ';
    out += std::to_string(rc);
  }
  return out;
}

class WsProbe : public pounce::Plugin {
 public:
  explicit WsProbe(const pounce::InitArgs&) {}

  // shutdown(): the code is unmapped right after, so every thread ends here.
  ~WsProbe() override {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      threads.swap(threads_);
    }
    for (std::thread& t : threads) t.join();
  }

  void handle(const pounce::Request&, pounce::Response& res) override {
    res.body(VERSION_TEXT " plain http");
  }

  void on_ws_upgrade(const pounce::Request& req,
                     pounce::WsUpgrade& up) override {
    if (req.path_info() == "/forbidden") {
      up.reject(403);
      return;
    }
    if (req.path_info() == "/greet") up.set_user(&kGreet);
    auto offered = up.offered_protocols();
    for (size_t i = 0; i < offered.size(); ++i) {
      if (pounce::to_sv(offered[i]) == "chat") up.choose_protocol(i);
    }
  }

  void on_ws_open(pounce::WebSocket ws) override {
    if (ws.user<char>() == &kGreet) ws.send_text("hello from on_ws_open");
  }

  void on_ws_message(pounce::WebSocket ws, pounce_ws_opcode_t op,
                     std::string_view data) override {
    const pounce_ws_t h = ws.handle();
    if (op != POUNCE_WS_TEXT) {
      ws.send(op, data);
    } else if (data == "version") {
      ws.send_text(VERSION_TEXT);
    } else if (data == "close-me") {
      ws.close(4000, "bye");
    } else if (data == "from-thread") {
      spawn([h] {
        pounce::WebSocket remote(h, nullptr);
        for (int i = 0; i < 3; ++i)
          remote.send_text("thread " + std::to_string(i));
      });
    } else if (data == "ping") {
      ws.ping("plugin-ping");
    } else if (data == "thread-ping") {
      spawn([h] { pounce::WebSocket(h, nullptr).ping("thread-ping"); });
    } else if (data == "thread-close") {
      spawn([h] { pounce::WebSocket(h, nullptr).close(4001, "from thread"); });
    } else if (data == "invalid-calls") {
      ws.send_text("loop: " + invalid_calls(h));
    } else if (data == "thread-invalid-calls") {
      spawn([h] {
        pounce::WebSocket(h, nullptr).send_text("thread: " + invalid_calls(h));
      });
    } else if (data == "flood") {
      flood(ws);
    } else {
      ws.send(op, data);
    }
  }

  void on_ws_writable(pounce::WebSocket ws) override {
    if (ws.user<char>() != &kFlooded) return;
    log(POUNCE_LOG_INFO, VERSION_TEXT " ws on_ws_writable");
    ws.send_text("writable");
  }

  void on_ws_close(pounce::WebSocket, uint16_t code,
                   std::string_view reason) override {
    log(POUNCE_LOG_INFO, std::string(VERSION_TEXT " ws on_ws_close code=") +
                             std::to_string(code) +
                             " reason=" + std::string(reason));
  }

  void on_draining(pounce_drain_reason_t reason, uint64_t) override {
    log(POUNCE_LOG_INFO, std::string(VERSION_TEXT " ws draining reason=") +
                             std::to_string(static_cast<int>(reason)));
  }

 private:
  template <typename Fn>
  void spawn(Fn fn) {
    std::lock_guard<std::mutex> lock(mutex_);
    threads_.emplace_back(std::move(fn));
  }

  // Sends until the host says POUNCE_HIGH_WATER: the client is not reading,
  // so the kernel's buffers fill and then the host's queue.
  void flood(pounce::WebSocket ws) {
    ws.set_user(&kFlooded);
    const std::string block(16384, 'f');
    for (int i = 1; i <= 20000; ++i) {
      int rc = ws.send_binary(block);
      if (rc == POUNCE_HIGH_WATER) {
        log(POUNCE_LOG_INFO, VERSION_TEXT " ws flood: high water after " +
                                 std::to_string(i) + " sends");
        ws.send_text("high-water");
        return;
      }
      if (rc != POUNCE_OK) {
        ws.send_text("flood failed: " + std::to_string(rc));
        return;
      }
    }
    ws.send_text("flood: no high water");
  }

  std::mutex mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace

POUNCE_CPP_PLUGIN(WsProbe, pounce::PluginInfo{.name = "ws-probe",
                                              .version = VERSION_TEXT,
                                              .websocket = true})
