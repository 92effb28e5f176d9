// The workloads `pounce-host bench` knows: what each sends, which plugin
// it needs, and whether nginx and h2o can serve the same thing. Adding one
// is a row here plus, when it speaks a new protocol, a ClientKind and its
// Connection subclass (as the WebSocket echo did: ws_client.h).
//
// A group name stands for several rows: "ws" is the WebSocket echo at
// 64 B and 512 B, each with and without permessage-deflate.
//
// With --h2 the same request goes over HTTP/2 through h2load (h2_load.h):
// its method, target, body and content type, taken from the HTTP/1 bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "bench/load_generator.h"

namespace pounce::bench {

struct WorkloadParams {
  std::string host_header;  // "127.0.0.1:PORT"
  size_t echo_body_size = 1024;
  unsigned sse_interval_ms = 10;
  std::string target;  // --url: replaces the workload's own request target
  // --new-conn: request/response workloads ask for Connection: close.
  bool close_connection = false;
};

struct Workload {
  const char* name;
  const char* description;
  // False: named by the CLI contract but not built yet; `reason` says why.
  bool implemented;
  const char* unavailable_reason;
  ClientKind client;
  // The plugin file the pounce server needs for it (in the plugin dir).
  const char* plugin_file;
  // nginx and h2o serve it, with the same body (targets.cpp; what differs
  // is in Target::differences).
  bool peers_serve;
  // The unit of "req/s" in the table: "req" or "events".
  const char* unit;
  std::string (*request)(const WorkloadParams& params);
  // The body every 2xx response must carry (Http workloads), or null when
  // the client cannot know it.
  std::string (*expected_body)(const WorkloadParams& params) = nullptr;
  // ClientKind::WebSocket: the message size and the deflate offer.
  size_t ws_message_size = 0;
  bool ws_deflate = false;
  // --h2: why h2load cannot run it (the row says n/a with this), or null
  // when it runs over HTTP/2 too.
  const char* h2_unavailable = nullptr;
};

const std::vector<Workload>& all_workloads();
const Workload* find_workload(std::string_view name);

// The rows a group name stands for ("ws"), or empty when `name` is none.
std::vector<std::string> workload_group(std::string_view name);

}  // namespace pounce::bench
