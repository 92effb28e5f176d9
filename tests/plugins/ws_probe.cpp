// A WebSocket plugin for tests. Built twice (VERSION_TEXT v1 / v2).
//
//   upgrade at /forbidden      -> refused with 403 before the 101
//   Sec-WebSocket-Protocol     -> picks "chat" when offered
//   text "version"             -> answers VERSION_TEXT
//   text "close-me"            -> closes with 4000 "bye"
//   text "from-thread"         -> three messages sent from another thread
//   anything else              -> echoed
// It logs "<version> ws on_ws_close code=N" and "<version> ws draining".
#include <pounce/pounce.hpp>

#include <string>
#include <thread>

#ifndef VERSION_TEXT
#define VERSION_TEXT "v1"
#endif

namespace {

class WsProbe : public pounce::Plugin {
 public:
  explicit WsProbe(const pounce::InitArgs&) {}

  void handle(const pounce::Request&, pounce::Response& res) override {
    res.body(VERSION_TEXT " plain http");
  }

  void on_ws_upgrade(const pounce::Request& req,
                     pounce::WsUpgrade& up) override {
    if (req.path_info() == "/forbidden") {
      up.reject(403);
      return;
    }
    auto offered = up.offered_protocols();
    for (size_t i = 0; i < offered.size(); ++i) {
      if (pounce::to_sv(offered[i]) == "chat") up.choose_protocol(i);
    }
  }

  void on_ws_message(pounce::WebSocket ws, pounce_ws_opcode_t op,
                     std::string_view data) override {
    if (op == POUNCE_WS_TEXT && data == "version") {
      ws.send_text(VERSION_TEXT);
    } else if (op == POUNCE_WS_TEXT && data == "close-me") {
      ws.close(4000, "bye");
    } else if (op == POUNCE_WS_TEXT && data == "from-thread") {
      pounce_ws_t h = ws.handle();
      std::thread([h] {
        pounce::WebSocket remote(h, nullptr);
        for (int i = 0; i < 3; ++i)
          remote.send_text("thread " + std::to_string(i));
      }).detach();
    } else {
      ws.send(op, data);
    }
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
};

}  // namespace

POUNCE_CPP_PLUGIN(WsProbe, pounce::PluginInfo{.name = "ws-probe",
                                              .version = VERSION_TEXT,
                                              .websocket = true})
