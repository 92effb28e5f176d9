// Reports what the host handed to the plugin, one "key=value" per line, so
// that routing, normalization and request access can be asserted.
#include <pounce/pounce.hpp>
#include <string>

namespace {

class Inspect : public pounce::Plugin {
 public:
  explicit Inspect(const pounce::InitArgs& args)
      : config_(args.config_json),
        prefix_(args.mount_prefix),
        hits_(pounce::Metric::define(
            args, POUNCE_METRIC_COUNTER, "inspect_requests_total",
            "Requests the inspect plugin answered.", {"method"})) {}

  void handle(const pounce::Request& req, pounce::Response& res) override {
    std::string out;
    auto line = [&out](std::string_view k, std::string_view v) {
      out.append(k).append("=").append(v).append("\n");
    };
    line("method", req.method());
    line("target", req.target());
    line("path", req.path());
    line("mount_prefix", req.mount_prefix());
    line("path_info", pounce::to_sv(req.c_view()->path_info));
    line("query", req.query());
    line("version", req.version_minor() ? "1.1" : "1.0");
    line("scheme", req.scheme());
    line("config", config_);
    line("init_prefix", prefix_);
    line("host", req.header("host").value_or("-"));
    line("headers", std::to_string(req.headers().size()));
    line("body_len", std::to_string(req.body().size()));
    line("trailers", std::to_string(req.trailers().size()));
    for (const pounce_header_t& t : req.trailers()) {
      line("trailer", std::string(pounce::to_sv(t.name)) + ": " +
                          std::string(pounce::to_sv(t.value)));
    }
    if (auto a = req.remote_address()) line("remote", a->host);
    line("request_id", req.header("x-request-id").value_or("-"));
    if (hits_) hits_->add(1, {req.method()});
    res.header("Content-Type", "text/plain");
    res.body(out);
  }

 private:
  std::string config_;
  std::string prefix_;
  std::optional<pounce::Metric> hits_;  // ABI 1.1 plugin metrics
};

}  // namespace

// Built a second time as inspect_blocking (INSPECT_MODE=POUNCE_MODE_BLOCKING):
// the same report from the blocking pool.
#ifndef INSPECT_MODE
#define INSPECT_MODE POUNCE_MODE_SYNC
#endif
POUNCE_CPP_PLUGIN(Inspect,
                  pounce::PluginInfo{.name = "inspect", .mode = INSPECT_MODE})
