// 103 Early Hints through pounce.hpp (tests/integration/early_hints_test.cpp):
// every request gets a 103 with one Link, then a 200 whose X-Hints-Rc is
// Response::early_hints()'s result.
#include <pounce/pounce.hpp>

#include <string>

namespace {

class EarlyHintsCpp : public pounce::Plugin {
 public:
  explicit EarlyHintsCpp(const pounce::InitArgs&) {}

  void handle(const pounce::Request&, pounce::Response& res) override {
    const int rc =
        res.early_hints({{"Link", "</app.js>; rel=preload; as=script"}});
    res.header("X-Hints-Rc", std::to_string(rc));
    res.body("cpp\n");
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(EarlyHintsCpp, pounce::PluginInfo{.name = "early_hints_cpp"})
