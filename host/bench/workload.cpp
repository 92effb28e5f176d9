#include "bench/workload.h"

#include "bench/ws_client.h"

namespace pounce::bench {

namespace {

const char* connection_header(const WorkloadParams& p) {
  return p.close_connection ? "Connection: close\r\n" : "";
}

std::string get(const WorkloadParams& p, const std::string& target) {
  return "GET " + (p.target.empty() ? target : p.target) +
         " HTTP/1.1\r\nHost: " + p.host_header + "\r\n" + connection_header(p) +
         "\r\n";
}

std::string hello_request(const WorkloadParams& p) {
  return get(p, "/hello");
}

std::string json_request(const WorkloadParams& p) {
  return get(p, "/json");
}

std::string big_request(const WorkloadParams& p) {
  return get(p, "/big");
}

// Idle connections send no request; the target is what the peers' configs
// answer, for a reader of the artifact.
std::string idle_request(const WorkloadParams& p) {
  return get(p, "/hello");
}

// The hello plugin's bodies (plugins/hello/hello.c), which the peers
// reproduce.
std::string hello_body(const WorkloadParams&) {
  return "Hello, World!";
}

std::string json_body(const WorkloadParams&) {
  return "{\"message\":\"Hello, World!\"}";
}

// plugins/hello/hello.c's /big: 64 KiB, more than HTTP/2's default
// stream window, so that flow control is in play.
std::string big_body(const WorkloadParams&) {
  std::string body(65536, 'a');
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + i % 26);
  }
  return body;
}

std::string echo_body(const WorkloadParams& p) {
  std::string body(p.echo_body_size, 'x');
  // Varied letters rather than one repeated byte: any future layer that
  // compresses or dedups would otherwise make the body unrealistically cheap.
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + i % 26);
  }
  return body;
}

std::string echo_request(const WorkloadParams& p) {
  std::string body = echo_body(p);
  return "POST " + (p.target.empty() ? "/echo" : p.target) +
         " HTTP/1.1\r\nHost: " + p.host_header + "\r\n" + connection_header(p) +
         "Content-Type: application/octet-stream\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string sse_request(const WorkloadParams& p) {
  // count=0: endless, so that a connection measures for the whole window.
  return get(p, "/sse/events?count=0&interval_ms=" +
                    std::to_string(p.sse_interval_ms) + "&stamp=1");
}

// Any path under the echo plugin's mount upgrades to its WebSocket echo.
std::string ws_plain_request(const WorkloadParams& p) {
  return ws_upgrade_request(p.host_header,
                            p.target.empty() ? "/echo/ws" : p.target, false);
}

std::string ws_deflate_request(const WorkloadParams& p) {
  return ws_upgrade_request(p.host_header,
                            p.target.empty() ? "/echo/ws" : p.target, true);
}

constexpr char kH2NoStream[] =
    "h2load counts finished responses only; an endless event stream never "
    "finishes";
constexpr char kH2NoWebSocket[] =
    "h2load cannot open an RFC 8441 WebSocket (extended CONNECT)";

}  // namespace

const std::vector<Workload>& all_workloads() {
  static const std::vector<Workload> kWorkloads = {
      {"hello", "GET /hello: 13-byte text/plain", true, "", ClientKind::Http,
       "libhello.so", true, "req", hello_request, hello_body},
      {"json", "GET /json: a JSON object serialized per request", true, "",
       ClientKind::Http, "libhello.so", true, "req", json_request, json_body},
      {"echo", "POST /echo with a 1 KiB body, echoed back", true, "",
       ClientKind::Http, "libecho.so", false, "req", echo_request, echo_body},
      {"big", "GET /big: 64 KiB text/plain (flow control in play over h2)",
       true, "", ClientKind::Http, "libhello.so", true, "req", big_request,
       big_body},
      {"sse", "GET /sse/events?stamp=1: events/s and delivery latency", true,
       "", ClientKind::EventStream, "libsse.so", false, "events", sse_request,
       nullptr, 0, false, kH2NoStream},
      {"ws-64", "WebSocket echo of 64-byte text messages", true, "",
       ClientKind::WebSocket, "libecho.so", false, "msg", ws_plain_request,
       nullptr, 64, false, kH2NoWebSocket},
      {"ws-512", "WebSocket echo of 512-byte text messages", true, "",
       ClientKind::WebSocket, "libecho.so", false, "msg", ws_plain_request,
       nullptr, 512, false, kH2NoWebSocket},
      {"ws-64-deflate", "ws-64 with permessage-deflate (context takeover)",
       true, "", ClientKind::WebSocket, "libecho.so", false, "msg",
       ws_deflate_request, nullptr, 64, true, kH2NoWebSocket},
      {"ws-512-deflate", "ws-512 with permessage-deflate (context takeover)",
       true, "", ClientKind::WebSocket, "libecho.so", false, "msg",
       ws_deflate_request, nullptr, 512, true, kH2NoWebSocket},
      // Not in "all": it measures memory, not throughput.
      {"idle",
       "--connections idle connections (with --h2: preface and SETTINGS "
       "exchanged): server RSS per connection",
       true, "", ClientKind::Idle, "libhello.so", true, "conn", idle_request},
  };
  return kWorkloads;
}

const Workload* find_workload(std::string_view name) {
  for (const Workload& w : all_workloads()) {
    if (name == w.name) return &w;
  }
  return nullptr;
}

std::vector<std::string> workload_group(std::string_view name) {
  if (name == "ws") {
    return {"ws-64", "ws-512", "ws-64-deflate", "ws-512-deflate"};
  }
  return {};
}

}  // namespace pounce::bench
