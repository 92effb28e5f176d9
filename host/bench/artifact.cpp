#include "bench/artifact.h"

#include <openssl/crypto.h>
#include <uv.h>

#include <fstream>

#include "bench/environment.h"
#include "bench/workload.h"

namespace pounce::bench {

using nlohmann::json;

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    bool plain = !a.empty() && a.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyz"
                                   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                   "-_./=:,+@%") == std::string::npos;
    if (plain) {
      out += a;
    } else {
      out += '\'';
      for (char c : a) {
        if (c == '\'') {
          out += "'\\''";
        } else {
          out += c;
        }
      }
      out += '\'';
    }
  }
  return out;
}

std::string transport_of(const BenchOptions& o) {
  return o.tls ? "https" : "http";
}

std::string protocol_of(const BenchOptions& o) {
  if (!o.h2) return "http/1.1";
  return o.tls ? "h2" : "h2c";
}

std::string connection_mode(const BenchOptions& o) {
  if (!o.new_conn) return "keep-alive";
  return o.tls_resume ? "new connection per request, TLS resumed"
                      : "new connection per request";
}

json spread_json(const Spread& s) {
  return json{{"n", s.n},          {"min", s.min}, {"median", s.median},
              {"p95", s.p95},      {"max", s.max}, {"mean", s.mean},
              {"stddev", s.stddev}};
}

json sample_json(const Sample& s) {
  json j{{"workload", s.workload},
         {"server", s.server},
         {"round", s.round},
         {"order", s.order},
         {"elapsed_s", s.elapsed_s},
         {"completed", s.completed},
         {"good", s.good},
         {"req_per_s", s.per_second},
         {"answered_per_s", s.answered_per_second},
         {"response_bytes", s.response_bytes},
         {"latency_us",
          {{"p50", s.p50_us},
           {"p95", s.p95_us},
           {"p99", s.p99_us},
           {"p99_9", s.p999_us},
           {"max", s.max_us},
           {"mean", s.mean_us},
           {"samples", s.latency_samples},
           {"p99_9_thin", s.latency_samples < kP999MinSamples}}},
         {"errors",
          {{"total", s.errors()},
           {"socket", s.socket_errors()},
           {"non_2xx", s.non_2xx},
           {"wrong_body", s.wrong_body},
           {"connect", s.connect_errors},
           {"read", s.read_errors},
           {"write", s.write_errors},
           {"protocol", s.protocol_errors}}},
         {"peak_rss_kib", s.peak_rss_kib},
         {"all_connected", s.all_connected},
         {"load_cpu_percent", s.load_cpu_percent}};
  j["protocol"] = s.protocol;
  if (s.idle_bytes_per_conn >= 0 || s.workload == "idle") {
    j["idle"] = {{"connections", s.completed},
                 {"rss_before_kib", s.idle_rss_before_kib},
                 {"rss_after_kib", s.idle_rss_after_kib}};
    j["idle"]["bytes_per_connection"] = s.idle_bytes_per_conn >= 0
                                            ? json(s.idle_bytes_per_conn)
                                            : json(nullptr);
  }
  j["cpu_us_per_req"] =
      s.cpu_us_per_req >= 0 ? json(s.cpu_us_per_req) : json(nullptr);
  if (!s.tls_version.empty() || s.tls_handshakes || !s.tls_error.empty()) {
    j["tls"] = {{"version", s.tls_version},
                {"cipher", s.tls_cipher},
                {"group", s.tls_group},
                {"server_key", s.tls_peer_key},
                {"server_certificate_sha256", s.tls_peer_cert_sha256},
                {"handshakes", s.tls_handshakes},
                {"resumed", s.tls_resumed}};
    if (!s.tls_error.empty()) j["tls"]["first_error"] = s.tls_error;
  }
  if (s.unsent) j["unsent"] = s.unsent;
  if (s.abandoned) j["abandoned"] = s.abandoned;
  return j;
}

namespace {

json target_json(const Target& t) {
  json j{{"name", t.name}, {"available", t.available}};
  if (!t.available) {
    j["reason"] = t.unavailable_reason;
    return j;
  }
  j["version"] = t.version;
  j["binary"] = t.binary;
  j["command"] = shell_join(t.command.argv);
  j["command_argv"] = t.command.argv;
  j["workloads"] = t.workloads;
  json differences = json::object();
  for (const auto& [workload, why] : t.differences) differences[workload] = why;
  j["not_equivalent"] = differences;
  return j;
}

json config_json(const BenchOptions& o) {
  std::string list;
  for (const std::string& w : o.workloads)
    list += (list.empty() ? "" : ",") + w;
  return json{{"workload", list},
              {"workloads", o.workloads},
              {"workers", o.workers},
              {"duration_s", o.duration_s},
              {"warmup_s", o.warmup_s},
              {"connections", o.connections},
              {"pipeline", o.pipeline},
              {"rate", o.rate},
              {"mode", o.rate > 0 ? "open loop (fixed rate)" : "closed loop"},
              {"repeat", o.repeat},
              {"load_threads", o.load_threads},
              {"pin", o.pin},
              {"sse_interval_ms", o.sse_interval_ms},
              {"sse_burst", o.sse_burst},
              {"echo_body_size", o.echo_body_size},
              {"compare", o.compare},
              {"tls", o.tls},
              {"tls_version", o.tls ? o.tls_version : ""},
              {"new_conn", o.new_conn},
              {"tls_resume", o.tls_resume},
              {"h2", o.h2},
              {"streams", o.h2 ? o.streams : 0},
              {"protocol", protocol_of(o)},
              {"connection_mode", connection_mode(o)}};
}

json summary_json(const RunRecord& run, const std::vector<Group>& groups,
                  const std::vector<Ratio>& ratios) {
  json s;
  s["samples"] = run.samples.size();
  s["rounds"] = run.options.repeat;
  bool thin = run.options.repeat < 2;
  // idle is measured once, on fresh servers (runner.cpp).
  for (const Group& g : groups) {
    if (g.workload != "idle") thin = thin || g.insufficient();
  }
  s["insufficient_evidence"] = thin;
  s["evidence"] =
      thin ? "insufficient: one sample per server and workload proves "
             "nothing on a shared machine; use --repeat 5"
           : "ok: " + std::to_string(run.options.repeat) +
                 " rounds per server and workload, alternating order";
  json errors = json::array();
  bool pounce_errors = false;
  for (const Sample& smp : run.samples) {
    if (smp.errors() == 0) continue;
    // The server under test: pounce, or the --url target.
    if (smp.server == "pounce" || smp.server == "external") {
      pounce_errors = true;
    }
    errors.push_back({{"workload", smp.workload},
                      {"server", smp.server},
                      {"round", smp.round},
                      {"socket", smp.socket_errors()},
                      {"non_2xx", smp.non_2xx},
                      {"wrong_body", smp.wrong_body}});
  }
  s["errors"] = !errors.empty();
  s["pounce_errors"] = pounce_errors;
  s["error_runs"] = errors;
  // A ratio won or lost with wrong answers is no evidence either way.
  json void_ratios = json::array();
  for (const Ratio& r : ratios) {
    if (!r.counts) {
      void_ratios.push_back(
          {{"workload", r.workload}, {"peer", r.peer}, {"why", r.why_not}});
    }
  }
  s["ratios_do_not_count"] = void_ratios;
  json lines = json::array();
  for (const Group& g : groups) {
    auto rps = g.metrics.find("req_per_s");
    auto cpu = g.metrics.find("cpu_us_per_req");
    char buf[256];
    snprintf(buf, sizeof buf, "%s %s: median %.0f/s, %.2f us CPU/req%s",
             g.workload.c_str(), g.server.c_str(),
             rps == g.metrics.end() ? 0.0 : rps->second.median,
             cpu == g.metrics.end() ? -1.0 : cpu->second.median,
             g.errors ? " (ERRORS: figures do not count)" : "");
    lines.push_back(buf);
  }
  for (const Ratio& r : ratios) {
    char buf[256];
    snprintf(buf, sizeof buf,
             "%s pounce/%s: req/s x%.3f (min %.3f, max %.3f), CPU/req "
             "x%.3f%s",
             r.workload.c_str(), r.peer.c_str(), r.req_per_s.median,
             r.req_per_s.min, r.req_per_s.max, r.cpu_per_req.median,
             r.counts ? "" : " (DOES NOT COUNT: wrong answers)");
    lines.push_back(buf);
  }
  s["headline"] = lines;
  s["notes"] = run.notes;
  s["aborted"] = run.aborted;
  return s;
}

}  // namespace

json make_artifact(const RunRecord& run, const std::string& self) {
  json a;
  a["schema"] = kArtifactSchema;
  a["artifact_id"] = make_artifact_id();
  a["created_at"] = utc_timestamp();
  bool dirty = false;
  std::string sha = git_sha(dir_of(self), &dirty);
  a["git_sha"] = sha;
  if (sha != "unknown") a["git_dirty"] = dirty;
  a["command"] = shell_join(run.options.command);
  a["command_argv"] = run.options.command;
  const Target* pounce = run.target("pounce");
  if (pounce) {
    a["server_command"] = shell_join(pounce->command.argv);
    a["server_command_argv"] = pounce->command.argv;
  }
  a["build"] = build_info();
  a["host"] = host_info();
  a["config"] = config_json(run.options);
  // Flat copies of the run shape, so that a reader need not know `config`.
  a["workload"] = a["config"]["workload"];
  a["workers"] = run.options.workers;
  a["duration_s"] = run.options.duration_s;
  a["connections"] = run.options.connections;
  a["pipeline"] = run.options.pipeline;
  // Never to be read as cleartext figures (nor compared with them: the
  // baseline rule checks these two).
  a["transport"] = transport_of(run.options);
  a["connection_mode"] = connection_mode(run.options);
  a["protocol"] = protocol_of(run.options);
  if (run.options.tls) {
    json tls{{"client_version", run.options.h2 ? "h2load's default offer"
                                : run.options.tls_version == "1.2" ? "TLSv1.2"
                                                                   : "TLSv1.3"},
             {"resume", run.options.tls_resume},
             {"library", OpenSSL_version(OPENSSL_VERSION)},
             {"client_verifies_certificate", false}};
    if (run.certificate) {
      tls["certificate"] = {{"kind", run.certificate->description},
                            {"sha256", run.certificate->sha256},
                            {"throwaway", true}};
    }
    // What the handshakes agreed on, per server (the first sample's).
    json negotiated = json::object();
    for (const Sample& s : run.samples) {
      if (s.tls_version.empty() || negotiated.contains(s.server)) continue;
      negotiated[s.server] = {{"version", s.tls_version},
                              {"cipher", s.tls_cipher},
                              {"group", s.tls_group},
                              {"server_key", s.tls_peer_key}};
    }
    tls["negotiated"] = negotiated;
    a["tls"] = tls;
  }
  if (run.options.h2) {
    a["load_tool"] = {{"name", "h2load"},
                      {"kind", "nghttp2's h2load, one run per sample"},
                      {"version", run.h2load_version},
                      {"connections", run.options.connections},
                      {"streams_per_connection", run.options.streams},
                      {"threads", run.options.load_threads},
                      {"body_check", "size of the DATA received"},
                      {"latency_percentiles", false}};
  } else {
    a["load_tool"] = {{"name", "pounce-host bench"},
                      {"kind", "built-in load generator (libuv, keep-alive)"},
                      {"version", POUNCE_VERSION},
                      {"libuv", uv_version_string()},
                      {"threads", run.options.load_threads}};
  }
  json targets = json::array();
  json comparison = json::array();
  for (const Target& t : run.targets) {
    targets.push_back(target_json(t));
    if (t.name != "pounce") comparison.push_back(target_json(t));
  }
  a["targets"] = targets;
  a["comparison"] = {{"requested", run.options.compare},
                     {"targets", comparison}};
  json skipped = json::array();
  for (const Skip& s : run.skipped) {
    skipped.push_back(
        {{"workload", s.workload}, {"server", s.server}, {"reason", s.reason}});
  }
  a["skipped"] = skipped;
  json samples = json::array();
  for (const Sample& s : run.samples) samples.push_back(sample_json(s));
  a["samples"] = samples;

  std::vector<Group> groups = group_samples(run.samples);
  json jg = json::array();
  for (const Group& g : groups) {
    json m;
    for (const auto& [name, spread] : g.metrics) m[name] = spread_json(spread);
    jg.push_back({{"workload", g.workload},
                  {"server", g.server},
                  {"samples", g.samples},
                  {"insufficient_evidence", g.insufficient()},
                  {"errors", g.errors},
                  {"socket_errors", g.socket_errors},
                  {"non_2xx", g.non_2xx},
                  {"wrong_body", g.wrong_body},
                  {"response_bytes", g.response_bytes},
                  {"metrics", m}});
  }
  a["groups"] = jg;
  std::vector<Ratio> ratios = pounce_peer_ratios(run.samples);
  json jr = json::array();
  for (const Ratio& r : ratios) {
    jr.push_back({{"workload", r.workload},
                  {"peer", r.peer},
                  {"req_per_s", spread_json(r.req_per_s)},
                  {"cpu_per_req", spread_json(r.cpu_per_req)},
                  {"counts", r.counts},
                  {"why_not", r.why_not}});
  }
  a["ratios"] = jr;
  a["summary"] = summary_json(run, groups, ratios);
  a["wall_s"] = run.wall_s;
  return a;
}

bool write_json_file(const std::string& path, const json& j,
                     std::string* error) {
  std::ofstream out(path, std::ios::trunc);
  out << j.dump(2) << "\n";
  if (!out.good()) {
    *error = "cannot write " + path;
    return false;
  }
  return true;
}

bool read_json_file(const std::string& path, json* j, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read " + path;
    return false;
  }
  try {
    *j = json::parse(in);
  } catch (const json::exception& e) {
    *error = path + ": " + e.what();
    return false;
  }
  return true;
}

}  // namespace pounce::bench
