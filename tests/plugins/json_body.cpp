// Serves the 58 KiB JSON document of tests/support/json_records.h, the body
// of the compression figures (issue 15 §4, docs/performance.md) and of the
// tests that check what the host makes of it:
//
//   /            sync: the whole body in one response
//   /blocking    the same from the blocking pool
//   /stream      async: the same bytes streamed in 4 KiB writes
#include <pounce/pounce.hpp>

#include <string>

#include "json_records.h"

namespace {

constexpr size_t kChunk = 4096;

class JsonBody : public pounce::Plugin {
 public:
  explicit JsonBody(const pounce::InitArgs&)
      : body_(pounce::testdata::json_records(pounce::testdata::kJsonBodySize)) {
  }

  void handle(const pounce::Request&, pounce::Response& res) override {
    res.header("Content-Type", "application/json").body(body_);
  }

  void on_request(pounce::Stream stream, const pounce::Request&) override {
    stream.start(200, {{"Content-Type", "application/json"}});
    for (size_t off = 0; off < body_.size(); off += kChunk) {
      stream.write(std::string_view(body_).substr(off, kChunk));
    }
    stream.end();
  }

 private:
  const std::string body_;
};

}  // namespace

POUNCE_CPP_PLUGIN(JsonBody, pounce::PluginInfo{
                                .name = "json_body",
                                .routes = {{"/blocking", POUNCE_MODE_BLOCKING},
                                           {"/stream", POUNCE_MODE_ASYNC}},
                            })
