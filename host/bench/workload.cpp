#include "bench/workload.h"

namespace pounce::bench {

namespace {

std::string get(const WorkloadParams& p, const std::string& target) {
  return "GET " + (p.target.empty() ? target : p.target) +
         " HTTP/1.1\r\nHost: " + p.host_header + "\r\n\r\n";
}

std::string hello_request(const WorkloadParams& p) {
  return get(p, "/hello");
}

std::string json_request(const WorkloadParams& p) {
  return get(p, "/json");
}

std::string echo_request(const WorkloadParams& p) {
  std::string body(p.echo_body_size, 'x');
  // Varied letters rather than one repeated byte: any future layer that
  // compresses or dedups would otherwise make the body unrealistically cheap.
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + i % 26);
  }
  return "POST " + (p.target.empty() ? "/echo" : p.target) +
         " HTTP/1.1\r\nHost: " + p.host_header +
         "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string sse_request(const WorkloadParams& p) {
  // count=0: endless, so that a connection measures for the whole window.
  return get(p, "/sse/events?count=0&interval_ms=" +
                    std::to_string(p.sse_interval_ms) + "&stamp=1");
}

std::string no_request(const WorkloadParams&) {
  return {};
}

}  // namespace

const std::vector<Workload>& all_workloads() {
  static const std::vector<Workload> kWorkloads = {
      {"hello", "GET /hello: 13-byte text/plain", true, "", ClientKind::Http,
       "libhello.so", true, "req", hello_request},
      {"json", "GET /json: a JSON object serialized per request", true, "",
       ClientKind::Http, "libhello.so", true, "req", json_request},
      {"echo", "POST /echo with a 1 KiB body, echoed back", true, "",
       ClientKind::Http, "libecho.so", false, "req", echo_request},
      {"sse", "GET /sse/events?stamp=1: events/s and delivery latency", true,
       "", ClientKind::EventStream, "libsse.so", false, "events", sse_request},
      {"ws", "WebSocket echo (msg/s)", false,
       "not available yet: comes with the WebSocket work", ClientKind::Http,
       "libecho.so", false, "msgs", no_request},
  };
  return kWorkloads;
}

const Workload* find_workload(std::string_view name) {
  for (const Workload& w : all_workloads()) {
    if (name == w.name) return &w;
  }
  return nullptr;
}

}  // namespace pounce::bench
