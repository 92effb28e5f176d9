// A C++ plugin with an inline static and a template static: exactly the
// objects g++ marks STB_GNU_UNIQUE unless built with -fno-gnu-unique, which
// would keep glibc from ever unmapping an old copy after a hot reload.
#include <pounce/pounce.hpp>
#include <string>

namespace {

struct Counter {
  inline static int hits = 0;
};

template <typename T>
struct Tagged {
  static std::string& name() {
    static std::string n = "unique-static";
    return n;
  }
};

class UniqueStatic : public pounce::Plugin {
 public:
  explicit UniqueStatic(const pounce::InitArgs&) {}
  void handle(const pounce::Request&, pounce::Response& res) override {
    ++Counter::hits;
    res.body(Tagged<int>::name());
  }
};

}  // namespace

// Outside the anonymous namespace, so that the statics have vague linkage.
struct PublicCounter {
  inline static int total = 0;
};
template <typename T>
T& shared_instance() {
  static T value{};
  return value;
}
template int& shared_instance<int>();

POUNCE_CPP_PLUGIN(UniqueStatic, pounce::PluginInfo{.name = "unique-static"})
