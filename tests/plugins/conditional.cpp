// A plugin with a validator, for the HEAD/GET and 304 header tests: the
// same 8000-byte HTML page with ETag "v1", sync at /page and streamed with
// a declared length at /stream. A request whose If-None-Match names the tag
// (weak comparison, RFC 9110 §13.1.2) gets a 304 carrying the ETag and the
// Content-Type of the 200.
#include <pounce/pounce.hpp>

#include <string>

namespace {

const std::string& page() {
  static const std::string body = [] {
    std::string b;
    while (b.size() < 8000) b += "<p>The same paragraph, again and again.</p>";
    b.resize(8000);
    return b;
  }();
  return body;
}

// Weak comparison: W/"v1" and "v1" both match.
bool not_modified(const pounce::Request& req) {
  auto inm = req.header("If-None-Match");
  return inm && (*inm == "\"v1\"" || *inm == "W/\"v1\"");
}

class Conditional : public pounce::Plugin {
 public:
  explicit Conditional(const pounce::InitArgs&) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    res.header("Content-Type", "text/html").header("ETag", "\"v1\"");
    if (not_modified(req)) {
      res.status(304);
      return;
    }
    res.body(page());
  }

  void on_request(pounce::Stream s, const pounce::Request& req) override {
    if (not_modified(req)) {
      s.start(304, {{"Content-Type", "text/html"}, {"ETag", "\"v1\""}}, 0);
      s.end();
      return;
    }
    s.start(200, {{"Content-Type", "text/html"}, {"ETag", "\"v1\""}},
            static_cast<int64_t>(page().size()));
    s.write(page());
    s.end();
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(Conditional, pounce::PluginInfo{
                                   .name = "conditional",
                                   .routes = {{"/stream", POUNCE_MODE_ASYNC}},
                               })
