// The JSON artifact: evidence for a PR or a release that someone else can
// read, compare (--compare-baseline) and trust. Every figure comes with the
// command, build, machine and source that produced it, with each sample and
// its spread, and with a summary that says when the evidence is thin (one
// sample) or tainted (errors).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "bench/run_record.h"

namespace pounce::bench {

// Bumped when a field changes meaning; readers check it.
constexpr const char* kArtifactSchema = "pounce-bench-artifact/1";

// `self` is the pounce-host binary (its directory locates the git checkout).
nlohmann::json make_artifact(const RunRecord& run, const std::string& self);

nlohmann::json sample_json(const Sample& s);
nlohmann::json spread_json(const Spread& s);

// Writes `j` (indented) to `path`; false with a reason on failure.
bool write_json_file(const std::string& path, const nlohmann::json& j,
                     std::string* error);
bool read_json_file(const std::string& path, nlohmann::json* j,
                    std::string* error);

// "https" with --tls, else "http".
std::string transport_of(const BenchOptions& o);
// "http/1.1", or with --h2 "h2c" (cleartext) / "h2" (TLS).
std::string protocol_of(const BenchOptions& o);
// "keep-alive", "new connection per request" or "new connection per
// request, TLS resumed".
std::string connection_mode(const BenchOptions& o);

// Shell-quoted for display: pounce-host bench --workload 'a b'.
std::string shell_join(const std::vector<std::string>& argv);

}  // namespace pounce::bench
