// Reports and produces what the HTTP/2 tests (issue 13) check, over either
// protocol: the request view as the plugin sees it, response headers the
// test chooses, trailers both ways, and a request body read as it arrives.
//
//   /view                sync: the view, one "key=value" per line (see below)
//   /blocking/view       the same from a blocking-mode route
//   /async/view          the same from an async route (on_request)
//   /set?name=N&value=V  sync: a 200 with the response header N: V
//   /big?n=N             sync: N bytes of compressible text
//   /async/trailers      async: "hello world" and the trailer
//                        x-checksum: 42 (stream_end with trailers)
//   /async/body          async: reads the body through on_body, answers
//                        "bytes=N calls=C" at its end
//   /async/slow?n=N      async: N chunks "chunk i\n", one per 20 ms
//
// The view lines: major, minor, method, target, path, query, scheme,
// authority, one "header=name: value" per field, body_len, one
// "trailer=name: value" per trailer.
#include <pounce/pounce.hpp>

#include <charconv>
#include <memory>
#include <string>

namespace {

std::string describe(const pounce::Request& req) {
  std::string out;
  auto line = [&out](std::string_view k, std::string_view v) {
    out.append(k).append("=").append(v).append("\n");
  };
  line("major", std::to_string(req.version_major()));
  line("minor", std::to_string(req.version_minor()));
  line("method", req.method());
  line("target", req.target());
  line("path", req.path());
  line("query", req.query());
  line("scheme", req.scheme());
  line("authority", req.authority());
  for (const pounce_header_t& h : req.headers()) {
    line("header", std::string(pounce::to_sv(h.name)) + ": " +
                       std::string(pounce::to_sv(h.value)));
  }
  line("body_len", std::to_string(req.body().size()));
  for (const pounce_header_t& t : req.trailers()) {
    line("trailer", std::string(pounce::to_sv(t.name)) + ": " +
                        std::string(pounce::to_sv(t.value)));
  }
  return out;
}

uint64_t number(const pounce::Request& req, std::string_view key,
                uint64_t fallback) {
  auto v = req.query_param(key);
  uint64_t n = fallback;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

struct BodyState {
  std::string kind;
  uint64_t bytes = 0;
  uint64_t calls = 0;
  uint64_t left = 0;  // /async/slow
  pounce::Timer timer;
};

class H2Probe : public pounce::Plugin {
 public:
  explicit H2Probe(const pounce::InitArgs&) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    std::string_view path = req.path_info();
    if (path == "/view" || path == "/blocking/view") {
      res.header("Content-Type", "text/plain");
      res.body(describe(req));
    } else if (path == "/set") {
      res.header(req.query_param("name").value_or("x-none"),
                 req.query_param("value").value_or(""));
      res.header("Content-Type", "text/plain");
      res.body("set\n");
    } else if (path == "/big") {
      std::string body;
      const uint64_t n = number(req, "n", 100000);
      while (body.size() < n) body.append("the quick brown fox jumps. ");
      body.resize(n);
      res.header("Content-Type", "text/plain");
      res.body(body);
    } else {
      res.status(404);
      res.body("no such probe\n");
    }
  }

  void on_request(pounce::Stream stream, const pounce::Request& req) override {
    std::string_view path = req.path_info();
    if (path == "/async/view") {
      std::string body = describe(req);
      stream.start(200, {{"Content-Type", "text/plain"}});
      stream.write(body);
      stream.end();
    } else if (path == "/async/trailers") {
      stream.start(200, {{"Content-Type", "text/plain"}});
      stream.write("hello ");
      stream.write("world");
      stream.end({{"X-Checksum", "42"}});
    } else if (path == "/async/body") {
      auto* s = new BodyState;
      s->kind = "body";
      stream.set_user(s);
    } else if (path == "/async/slow") {
      auto* s = new BodyState;
      s->kind = "slow";
      s->left = number(req, "n", 5);
      stream.set_user(s);
      stream.start(200, {{"Content-Type", "text/plain"}});
      s->timer.start(stream.handle(), 20, 20, [stream, s]() mutable {
        if (s->left == 0) {
          s->timer.stop();
          stream.end();
          return;
        }
        --s->left;
        stream.write("chunk " + std::to_string(s->left) + "\n");
      });
    } else {
      stream.start(404, {{"Content-Type", "text/plain"}});
      stream.write("no such probe\n");
      stream.end();
    }
  }

  void on_body(pounce::Stream stream, std::string_view data,
               bool last) override {
    auto* s = stream.user<BodyState>();
    if (!s || s->kind != "body") return;
    s->bytes += data.size();
    ++s->calls;
    if (!last) return;
    std::string answer = "bytes=" + std::to_string(s->bytes) +
                         " calls=" + std::to_string(s->calls) + "\n";
    stream.start(200, {{"Content-Type", "text/plain"}});
    stream.write(answer);
    stream.end();
  }

  void on_close(pounce::Stream stream, pounce_close_reason_t reason) override {
    log(POUNCE_LOG_INFO, std::string("h2probe on_close reason=") +
                             std::to_string(static_cast<int>(reason)));
    delete stream.user<BodyState>();
  }
};

}  // namespace

POUNCE_CPP_PLUGIN(H2Probe, pounce::PluginInfo{
                               .name = "h2-probe",
                               .mode = POUNCE_MODE_SYNC,
                               .routes = {{"/async", POUNCE_MODE_ASYNC},
                                          {"/blocking", POUNCE_MODE_BLOCKING}}})
