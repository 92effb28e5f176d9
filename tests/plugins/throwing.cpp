// A C++ plugin whose handler throws on /throw: pounce.hpp must turn that into
// a 500 without the exception crossing the C ABI.
#include <pounce/pounce.hpp>
#include <stdexcept>

namespace {

class Throwing : public pounce::Plugin {
 public:
  explicit Throwing(const pounce::InitArgs&) {}
  void handle(const pounce::Request& req, pounce::Response& res) override {
    if (req.path_info() == "/throw") throw std::runtime_error("deliberate");
    res.body("no throw");
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(Throwing, pounce::PluginInfo{.name = "throwing"})
