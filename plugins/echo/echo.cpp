// echo: answers every request with exactly its body, and echoes every
// WebSocket message back. Written with pounce.hpp.
//
//   any method, any path -> 200, the request body, the request's
//                           Content-Type (or application/octet-stream)
//   WebSocket upgrade    -> every text and binary message sent back
#include <pounce/pounce.hpp>

namespace {

class Echo : public pounce::Plugin {
 public:
  explicit Echo(const pounce::InitArgs&) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    res.header("Content-Type",
               req.header("Content-Type").value_or("application/octet-stream"));
    res.body(req.body());
  }

  void on_ws_message(pounce::WebSocket ws, pounce_ws_opcode_t op,
                     std::string_view data) override {
    ws.send(op, data);
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(Echo, pounce::PluginInfo{.name = "echo",
                                           .version = "1.0.0",
                                           .mode = POUNCE_MODE_SYNC,
                                           .websocket = true})
