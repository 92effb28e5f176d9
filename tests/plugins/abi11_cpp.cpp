// ABI 1.1 through pounce.hpp (tests/integration/abi11_test.cpp): the request
// accessors that HTTP/2 needs, and the upgrade's user handed back through
// on_ws_upgrade_abandoned.
#include <pounce/pounce.hpp>

#include <string>

namespace {

class Abi11Cpp : public pounce::Plugin {
 public:
  explicit Abi11Cpp(const pounce::InitArgs&) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    // Appended piece by piece: GCC 12 warns (-Wrestrict, a false positive)
    // on "literal" + std::string chains.
    std::string body;
    body.append("major=").append(std::to_string(req.version_major()));
    body.append(" minor=").append(std::to_string(req.version_minor()));
    body.append(" scheme=").append(req.scheme());
    body.append(" authority=").append(req.authority());
    body.append(" cookies=");
    for (std::string_view v : req.header_values("Cookie")) {
      body.append("[").append(v).append("]");
    }
    res.body(body);
  }

  void on_ws_upgrade(const pounce::Request& req,
                     pounce::WsUpgrade& up) override {
    up.set_user(new std::string(req.path_info()));
    if (req.path_info() == "/ws-badproto") up.choose_protocol(7);
  }
  void on_ws_upgrade_abandoned(void* user) override {
    auto* tag = static_cast<std::string*>(user);
    log(POUNCE_LOG_WARN, "cpp upgrade abandoned, freeing user of " + *tag);
    delete tag;
  }
  void on_ws_close(pounce::WebSocket ws, uint16_t, std::string_view) override {
    delete ws.user<std::string>();
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(Abi11Cpp,
                  pounce::PluginInfo{.name = "abi11-cpp", .websocket = true})
