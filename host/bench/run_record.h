// Everything one `pounce-host bench` invocation did and measured: the input
// of the table, the artifact and the SVG report.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/options.h"
#include "bench/results.h"
#include "bench/targets.h"
#include "bench/tls_cert.h"

namespace pounce::bench {

struct Skip {
  std::string workload;
  std::string server;
  std::string reason;  // shown as "n/a (reason)"
};

struct RunRecord {
  BenchOptions options;
  std::vector<Target> targets;  // pounce first, then the peers as requested
  std::vector<Sample> samples;
  std::vector<Skip> skipped;
  // --tls: the run's throwaway certificate (its files are gone after the
  // run; the fingerprint stays in the artifact).
  std::optional<TlsCertificate> certificate;
  std::string h2load_version;      // --h2: `h2load --version`
  std::vector<std::string> notes;  // said once, on stderr and in the summary
  bool aborted = false;            // SIGINT during the run
  double wall_s = 0;

  const Target* target(const std::string& name) const {
    for (const Target& t : targets) {
      if (t.name == name) return &t;
    }
    return nullptr;
  }
};

}  // namespace pounce::bench
