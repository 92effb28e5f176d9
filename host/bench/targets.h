// The servers a run measures: pounce-host itself, and the peers of
// --compare with generated configs that answer /hello and /json with the
// same bodies and content types as the hello plugin, and headers as close
// as each allows (what is left is in Target::differences).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/options.h"
#include "bench/server_process.h"
#include "bench/tls_cert.h"

namespace pounce::bench {

struct Target {
  std::string name;  // "pounce", "nginx", "h2o"
  bool available = false;
  std::string unavailable_reason;  // e.g. "nginx not found in PATH"
  std::string binary;
  std::string version;
  std::string version_text;  // all of what `--version` printed
  ServerCommand command;
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // peers: chosen before start; pounce: after
  std::string path;   // --url only: the request target to use
  bool tls = false;   // served over https
  std::vector<std::string> workloads;  // the ones it can serve
  // Workloads that exist but cannot run here, with why ("libsse.so not
  // built").
  std::vector<std::pair<std::string, std::string>> missing;
  // Workloads it serves, but not with the same work or bytes as pounce,
  // with how they differ (said under the table).
  std::vector<std::pair<std::string, std::string>> differences;

  bool serves(const std::string& workload) const;
};

// pounce-host at `self` with the built-in plugins that exist in
// `plugin_dir`: hello at /, echo at /echo, sse at /sse. With `cert`
// (--tls) it listens on https://127.0.0.1:0 with that certificate.
Target pounce_target(const std::string& self, const std::string& plugin_dir,
                     const BenchOptions& options, const std::string& work_dir,
                     const TlsCertificate* cert = nullptr);

// nginx or h2o, found through PATH. Writes its config under `work_dir`;
// with `cert` (--tls) its listener is TLS with that certificate.
Target peer_target(const std::string& name, const BenchOptions& options,
                   const std::string& work_dir,
                   const TlsCertificate* cert = nullptr);

// --url: a server that runs already. Serves every implemented workload
// (the user picks the one that fits the URL). `available` is false with a
// reason when the URL is not http[s]://IPV4:PORT/PATH.
Target external_target(const std::string& url);

// The directory part of a path ("a/b/c" -> "a/b").
std::string dir_of(const std::string& path);

}  // namespace pounce::bench
