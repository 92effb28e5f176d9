#include "bench/runner.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "bench/format.h"
#include "bench/load_generator.h"
#include "bench/proc_stats.h"
#include "bench/tls_cert.h"
#include "bench/workload.h"

namespace pounce::bench {

namespace {

constexpr auto kStartupTimeout = std::chrono::seconds(20);

// A load thread this busy may be what limits the figure.
constexpr double kClientBoundPercent = 90;

}  // namespace

Sample sample_of(const LoadResult& r, int64_t cpu_us) {
  Sample s;
  s.elapsed_s = r.elapsed_s;
  s.completed = r.counters.completed;
  s.good = r.counters.good();
  s.per_second = r.per_second();
  s.answered_per_second = r.answered_per_second();
  s.latency_samples = r.latency.count();
  s.wrong_body = r.counters.wrong_body;
  s.abandoned = r.counters.abandoned;
  s.response_bytes = r.counters.completed
                         ? static_cast<double>(r.counters.response_bytes) /
                               static_cast<double>(r.counters.completed)
                         : 0;
  s.p50_us = static_cast<double>(r.latency.quantile(0.50)) / 1e3;
  s.p95_us = static_cast<double>(r.latency.quantile(0.95)) / 1e3;
  s.p99_us = static_cast<double>(r.latency.quantile(0.99)) / 1e3;
  s.p999_us = static_cast<double>(r.latency.quantile(0.999)) / 1e3;
  s.max_us = static_cast<double>(r.latency.max()) / 1e3;
  s.mean_us = r.latency.mean() / 1e3;
  s.non_2xx = r.counters.non_2xx;
  s.connect_errors = r.counters.connect_errors;
  s.read_errors = r.counters.read_errors;
  s.write_errors = r.counters.write_errors;
  s.protocol_errors = r.counters.protocol_errors;
  s.unsent = r.unsent;
  s.all_connected = r.connected;
  s.load_cpu_percent = r.load_cpu_percent;
  s.tls_handshakes = r.counters.tls_handshakes;
  s.tls_resumed = r.counters.tls_resumed;
  s.tls_version = r.tls.version;
  s.tls_cipher = r.tls.cipher;
  s.tls_group = r.tls.group;
  s.tls_peer_key = r.tls.peer_key;
  s.tls_peer_cert_sha256 = r.tls.peer_cert_sha256;
  s.tls_error = r.tls_error;
  // Per good answer: CPU spent on wrong ones buys nothing.
  if (s.good > 0 && cpu_us >= 0) {
    s.cpu_us_per_req =
        static_cast<double>(cpu_us) / static_cast<double>(s.good);
  }
  return s;
}

Runner::Runner(std::string self, std::string plugin_dir, std::string work_dir,
               const std::atomic<bool>* abort)
    : self_(std::move(self)),
      plugin_dir_(std::move(plugin_dir)),
      work_dir_(std::move(work_dir)),
      abort_(abort) {}

Runner::~Runner() {
  for (auto& s : servers_) {
    if (s) s->stop();
  }
}

void Runner::note(RunRecord* run, const std::string& text) {
  fprintf(stderr, "pounce-host bench: %s\n", text.c_str());
  run->notes.push_back(text);
}

void Runner::plan(RunRecord* run) {
  const BenchOptions& o = run->options;
  if (!o.url.empty()) {
    run->targets.push_back(external_target(o.url));
    return;
  }
  const TlsCertificate* cert = run->certificate ? &*run->certificate : nullptr;
  run->targets.push_back(pounce_target(self_, plugin_dir_, o, work_dir_, cert));
  for (const std::string& peer : o.compare) {
    Target t = peer_target(peer, o, work_dir_, cert);
    if (!t.available) {
      note(run, "--compare " + peer + ": " + t.unavailable_reason +
                    "; carrying on without it");
    }
    run->targets.push_back(std::move(t));
  }
  if (o.new_conn) {
    // One request per connection means request/response: a stream or a
    // WebSocket lives as long as its connection.
    for (Target& t : run->targets) {
      std::vector<std::string> keep;
      for (const std::string& w : t.workloads) {
        const Workload* wl = find_workload(w);
        if (wl && wl->client == ClientKind::Http) {
          keep.push_back(w);
        } else {
          t.missing.emplace_back(w, "--new-conn: request/response only");
        }
      }
      t.workloads = std::move(keep);
    }
  }
  for (const std::string& w : o.workloads) {
    const Workload* wl = find_workload(w);
    for (const Target& t : run->targets) {
      if (!t.available || t.serves(w)) continue;
      std::string reason;
      for (const auto& [name, why] : t.missing) {
        if (name == w) reason = why;
      }
      if (reason.empty()) {
        reason = wl && !wl->implemented ? wl->unavailable_reason
                                        : t.name + " cannot serve it";
      }
      run->skipped.push_back(Skip{w, t.name, reason});
      if (t.name == "pounce") note(run, w + ": n/a (" + reason + ")");
    }
  }
}

bool Runner::start_servers(RunRecord* run, std::string* error) {
  for (Target& t : run->targets) {
    servers_.push_back(nullptr);
    if (!t.available) continue;
    bool needed = std::any_of(
        run->options.workloads.begin(), run->options.workloads.end(),
        [&](const std::string& w) { return t.serves(w); });
    if (!needed) continue;
    auto server = std::make_unique<ServerProcess>();
    std::string why;
    bool ok = server->start(t.command, &why);
    if (ok && t.name == "pounce") {
      ok = server->wait_startup_line(kStartupTimeout, &t.port, &why);
    } else if (ok) {
      ok = server->wait_port(t.port, kStartupTimeout, &why);
    }
    if (!ok) {
      server->stop();
      if (t.name == "pounce") {
        *error = "cannot start pounce-host: " + why;
        return false;
      }
      t.available = false;
      t.unavailable_reason = "failed to start: " + why;
      note(run, t.name + " " + t.unavailable_reason + "; carrying on");
      continue;
    }
    servers_.back() = std::move(server);
  }
  return true;
}

Sample Runner::measure(const RunRecord& run, const std::string& workload,
                       const Target& target, pid_t pid, unsigned round,
                       unsigned order, ProgressLine* progress) {
  const BenchOptions& o = run.options;
  const Workload& w = *find_workload(workload);
  WorkloadParams params;
  params.host_header = target.host + ":" + std::to_string(target.port);
  params.target = target.path;
  params.echo_body_size = o.echo_body_size;
  params.sse_interval_ms = o.sse_interval_ms;
  params.close_connection = o.new_conn;

  LoadConfig config;
  config.host = target.host;
  config.port = target.port;
  config.kind = w.client;
  config.request = w.request(params);
  // --url: the server is whatever the user runs; its bodies are unknown.
  if (w.expected_body && target.path.empty()) {
    config.expected_body = w.expected_body(params);
  }
  config.connections = o.connections;
  // An event stream has nothing to pipeline and no request rate.
  const bool streams = w.client == ClientKind::EventStream;
  // One request per connection has nothing to pipeline either.
  config.pipeline = streams || o.new_conn ? 1 : o.pipeline;
  config.tls = target.tls;
  config.tls_options.version = tls_version_from_text(o.tls_version);
  config.tls_options.resume = o.tls_resume;
  config.new_conn = o.new_conn;
  config.threads = o.load_threads;
  config.rate = streams ? 0 : o.rate;
  config.ws_message_size = w.ws_message_size;
  config.ws_deflate = w.ws_deflate;
  config.stagger_ms = streams && !o.sse_burst ? o.sse_interval_ms : 0;
  config.warmup_s = o.warmup_s;
  config.duration_s = o.duration_s;
  config.pin_cpu = o.pin ? 1 : -1;

  // Called when the load threads have opened and closed their windows
  // (after the warm-up). The tree is read again at the end (CpuWindow).
  CpuWindow cpu;
  int64_t cpu_us = -1;
  auto window = [&](bool opening) {
    if (pid <= 0) return;  // --url without --target-pid
    if (opening) {
      reset_peak_rss(process_tree(pid));
      cpu.open(pid);
    } else {
      cpu_us = cpu.close();
    }
  };
  std::string label = "round " + std::to_string(round) + "/" +
                      std::to_string(o.repeat) + " " + workload + " " +
                      target.name;
  LoadGenerator generator(config);
  LoadResult r = generator.run(
      [&](double elapsed, uint64_t done) {
        progress->update(label, elapsed, o.duration_s, done, w.unit);
      },
      abort_, window);
  progress->clear();

  Sample s = sample_of(r, cpu_us);
  s.workload = workload;
  s.server = target.name;
  s.round = round;
  s.order = order;
  if (pid > 0) s.peak_rss_kib = tree_peak_rss_kib(process_tree(pid));

  fprintf(
      stderr,
      "%s: %s %s/s  p50 %s  p99 %s  cpu %s us/%s  rss %s  load %.0f%%%s\n",
      label.c_str(), format_count(s.per_second).c_str(), w.unit,
      format_latency_us(s.p50_us).c_str(), format_latency_us(s.p99_us).c_str(),
      s.cpu_us_per_req >= 0 ? format_fixed(s.cpu_us_per_req, 2).c_str() : "n/a",
      w.unit, format_kib(s.peak_rss_kib).c_str(), s.load_cpu_percent,
      s.errors() ? ("  ERRORS " + std::to_string(s.errors())).c_str() : "");
  if (target.tls) {
    fprintf(stderr,
            "%s: %s %s %s, server key %s, %llu handshakes (%llu resumed)\n",
            label.c_str(),
            s.tls_version.empty() ? "no handshake" : s.tls_version.c_str(),
            s.tls_cipher.c_str(), s.tls_group.c_str(), s.tls_peer_key.c_str(),
            static_cast<unsigned long long>(s.tls_handshakes),
            static_cast<unsigned long long>(s.tls_resumed));
    if (!s.tls_error.empty()) {
      fprintf(stderr, "%s: TLS failure: %s\n", label.c_str(),
              s.tls_error.c_str());
    }
  }
  if (s.load_cpu_percent >= kClientBoundPercent) {
    fprintf(stderr,
            "%s: the load generator was busy %.0f%% of the window: this "
            "figure may be the client's limit (try --load-threads)\n",
            label.c_str(), s.load_cpu_percent);
  }
  return s;
}

bool Runner::run(RunRecord* run, std::string* error) {
  auto started = std::chrono::steady_clock::now();
  if (run->options.tls && run->options.url.empty()) {
    // Private (0700) inside the private work directory, removed with it.
    std::string dir = work_dir_ + "/tls";
    TlsCertificate cert;
    if (mkdir(dir.c_str(), 0700) != 0 ||
        !make_throwaway_certificate(dir, &cert, error)) {
      if (error->empty()) *error = "cannot create " + dir;
      return false;
    }
    run->certificate = cert;
  }
  plan(run);
  bool runnable = false;
  for (const std::string& w : run->options.workloads) {
    runnable = runnable || run->targets.front().serves(w);
  }
  if (!run->targets.front().available) {
    *error = run->targets.front().unavailable_reason;
    return false;
  }
  if (!runnable) {
    *error = "none of the requested workloads can run here";
    return false;
  }
  bool external = !run->options.url.empty();
  if (!external && !start_servers(run, error)) return false;

  ProgressLine progress(run->options.progress);
  // Indices of the servers that are up, in --compare order.
  std::vector<size_t> up;
  for (size_t i = 0; i < run->targets.size(); ++i) {
    if (external || servers_[i]) up.push_back(i);
  }
  for (unsigned round = 1; round <= run->options.repeat; ++round) {
    std::vector<size_t> order = up;
    std::rotate(order.begin(),
                order.begin() + (round - 1) % std::max<size_t>(1, up.size()),
                order.end());
    for (const std::string& w : run->options.workloads) {
      unsigned position = 0;
      for (size_t i : order) {
        if (abort_->load()) {
          run->aborted = true;
          break;
        }
        const Target& t = run->targets[i];
        if (!t.serves(w)) continue;
        if (!external && !servers_[i]->running()) {
          *error = t.name + " died during the run:\n" + servers_[i]->log_tail();
          return false;
        }
        pid_t pid = external ? run->options.target_pid : servers_[i]->pid();
        Sample s = measure(*run, w, t, pid, round, ++position, &progress);
        // A server that answers with another certificate than the run's
        // is not configured as the run says.
        if (run->certificate && !external && !s.tls_peer_cert_sha256.empty() &&
            s.tls_peer_cert_sha256 != run->certificate->sha256) {
          note(run, t.name + " presented another certificate than the run's");
        }
        // A window cut short by ^C is not a sample.
        if (!abort_->load()) run->samples.push_back(std::move(s));
      }
    }
  }
  for (auto& s : servers_) {
    if (s) s->stop();
  }
  run->wall_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started)
          .count();
  return true;
}

}  // namespace pounce::bench
