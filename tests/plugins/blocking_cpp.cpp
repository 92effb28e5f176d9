// Blocking mode through pounce.hpp: PluginInfo::mode for the whole plugin,
// and a RouteInfo that keeps one route sync. Each response names the thread
// that ran handle(), so the test sees where it ran.
#include <pthread.h>

#include <pounce/pounce.hpp>
#include <string>

namespace {

class BlockingCpp : public pounce::Plugin {
 public:
  explicit BlockingCpp(const pounce::InitArgs&) {}

  void handle(const pounce::Request&, pounce::Response& res) override {
    char name[16] = {0};
    pthread_getname_np(pthread_self(), name, sizeof name);
    res.header("Content-Type", "text/plain").body(std::string(name));
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(BlockingCpp, pounce::PluginInfo{
                                   .name = "blocking_cpp",
                                   .mode = POUNCE_MODE_BLOCKING,
                                   .routes = {{"/inline", POUNCE_MODE_SYNC}},
                               })
