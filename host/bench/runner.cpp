#include "bench/runner.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "bench/format.h"
#include "bench/h2_load.h"
#include "bench/idle_probe.h"
#include "bench/load_generator.h"
#include "bench/proc_stats.h"
#include "bench/tls_cert.h"
#include "bench/workload.h"

namespace pounce::bench {

namespace {

constexpr auto kStartupTimeout = std::chrono::seconds(20);

// A load thread this busy may be what limits the figure.
constexpr double kClientBoundPercent = 90;

// CPU time of this process's reaped children (h2load), in microseconds.
uint64_t children_cpu_us() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  auto us = [](const timeval& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000 +
           static_cast<uint64_t>(t.tv_usec);
  };
  return us(u.ru_utime) + us(u.ru_stime);
}

// One --h2 sample: h2load with the workload's request, read back into the
// HTTP/1 figures. Latency percentiles stay unknown (h2load prints none);
// the mean and max are h2load's "time for request".
Sample h2_sample(const BenchOptions& o, const Workload& w,
                 const WorkloadParams& params, const Target& target,
                 const std::string& work_dir,
                 const std::function<void(bool)>& server_window,
                 const int64_t* cpu_us, const std::string& label,
                 ProgressLine* progress) {
  H2LoadConfig c;
  c.scheme = target.tls ? "https" : "http";
  c.host = target.host;
  c.port = target.port;
  c.request = w.request(params);
  if (w.expected_body && target.path.empty()) {
    c.expected_body = w.expected_body(params);
  }
  c.connections = o.connections;
  c.streams = o.streams;
  c.threads = o.load_threads;
  c.warmup_s = o.warmup_s;
  c.duration_s = o.duration_s;
  c.pin_cpu = o.pin ? 1 : -1;
  c.work_dir = work_dir;
  // h2load is reaped before the window closes: its CPU is in RUSAGE_CHILDREN
  // by then (the warm-up run's before the window opens).
  uint64_t load_before = 0, load_after = 0;
  auto window = [&](bool opening) {
    if (opening) {
      load_before = children_cpu_us();
    } else {
      load_after = children_cpu_us();
    }
    server_window(opening);
  };
  progress->update(label, 0, o.duration_s, 0, w.unit);
  H2LoadOutput out;
  std::string error;
  LoadResult r = run_h2load(c, window, &out, &error);
  progress->clear();
  if (!error.empty()) fprintf(stderr, "%s: %s\n", label.c_str(), error.c_str());
  const unsigned threads = std::max(1u, std::min(c.threads, c.connections));
  r.load_cpu_percent = static_cast<double>(load_after - load_before) / 1e4 /
                       o.duration_s / threads;
  Sample s = sample_of(r, *cpu_us);
  s.p50_us = s.p95_us = s.p99_us = s.p999_us = -1;
  s.mean_us = out.request_mean_us;
  s.max_us = out.request_max_us;
  s.latency_samples = out.done;
  s.protocol = out.protocol.empty() ? "none" : out.protocol;
  return s;
}

// The idle workload: --connections idle connections, the server's RSS
// growth over them.
Sample idle_sample(const BenchOptions& o, const Target& target, pid_t pid) {
  Sample s;
  if (pid <= 0) {
    s.protocol_errors = 1;  // nothing to read the memory of
    return s;
  }
  IdleConfig c;
  c.host = target.host;
  c.port = target.port;
  c.connections = o.connections;
  c.h2 = o.h2;
  c.tls = target.tls;
  IdleResult r = measure_idle(c, pid);
  s.p50_us = s.p95_us = s.p99_us = s.p999_us = -1;
  s.protocol = r.protocol;
  s.completed = r.opened;
  s.good = r.opened - std::min(r.opened, r.closed);
  s.connect_errors = r.failed;
  s.read_errors = r.closed;
  s.all_connected = r.failed == 0;
  s.idle_bytes_per_conn = r.bytes_per_connection;
  s.idle_rss_before_kib = r.rss_before_kib;
  s.idle_rss_after_kib = r.rss_after_kib;
  s.peak_rss_kib = r.rss_after_kib;
  if (!r.error.empty()) {
    fprintf(stderr, "pounce-host bench: idle %s: %s\n", target.name.c_str(),
            r.error.c_str());
  }
  return s;
}

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
  if (o.h2) {
    // What h2load cannot drive is said, not dropped.
    for (Target& t : run->targets) {
      std::vector<std::string> keep;
      for (const std::string& w : t.workloads) {
        const Workload* wl = find_workload(w);
        if (wl && wl->h2_unavailable) {
          t.missing.emplace_back(w, std::string("--h2: ") + wl->h2_unavailable);
        } else {
          keep.push_back(w);
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
  std::string label = "round " + std::to_string(round) + "/" +
                      std::to_string(o.repeat) + " " + workload + " " +
                      target.name;

  if (w.client == ClientKind::Idle) {
    Sample s = idle_sample(o, target, pid);
    s.workload = workload;
    s.server = target.name;
    s.round = round;
    s.order = order;
    fprintf(
        stderr, "%s: %u %s connections idle, RSS %s -> %s: %s bytes/conn%s%s\n",
        label.c_str(), static_cast<unsigned>(s.completed), s.protocol.c_str(),
        format_kib(s.idle_rss_before_kib).c_str(),
        format_kib(s.idle_rss_after_kib).c_str(),
        s.idle_bytes_per_conn >= 0 ? format_count(s.idle_bytes_per_conn).c_str()
                                   : "n/a",
        s.errors() ? "  ERRORS " : "",
        s.errors() ? std::to_string(s.errors()).c_str() : "");
    return s;
  }

  // Called when the load has opened and closed its window (after the
  // warm-up). The tree is read again at the end (CpuWindow).
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

  Sample s;
  if (o.h2) {
    s = h2_sample(o, w, params, target, work_dir_, window, &cpu_us, label,
                  progress);
  } else {
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

    LoadGenerator generator(config);
    LoadResult r = generator.run(
        [&](double elapsed, uint64_t done) {
          progress->update(label, elapsed, o.duration_s, done, w.unit);
        },
        abort_, window);
    progress->clear();
    s = sample_of(r, cpu_us);
  }
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
  if (target.tls && !o.h2) {
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
  if (run->options.h2) {
    bool load =
        std::any_of(run->options.workloads.begin(),
                    run->options.workloads.end(), [](const std::string& w) {
                      const Workload* wl = find_workload(w);
                      return wl && wl->client != ClientKind::Idle;
                    });
    run->h2load_version = h2load_version();
    if (load && run->h2load_version.empty()) {
      *error =
          "--h2 needs h2load in PATH (Debian package nghttp2-client; make "
          "deps installs it)";
      return false;
    }
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
    // idle runs once, first, on servers that have served nothing yet:
    // memory that earlier connections freed would be reused by the idle
    // ones and hide their cost.
    std::vector<std::string> workloads;
    if (round == 1 &&
        std::find(run->options.workloads.begin(), run->options.workloads.end(),
                  "idle") != run->options.workloads.end()) {
      workloads.push_back("idle");
    }
    for (const std::string& w : run->options.workloads) {
      if (w != "idle") workloads.push_back(w);
    }
    for (const std::string& w : workloads) {
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
