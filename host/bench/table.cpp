#include "bench/table.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/format.h"
#include "bench/workload.h"

namespace pounce::bench {

namespace {

using Row = std::vector<std::string>;

const Row kHeader = {"workload",   "server",   "req/s",      "spread", "p50",
                     "p95",        "p99",      "p99.9",      "errors", "resp B",
                     "CPU us/req", "peak RSS", "pounce/peer"};

std::string spread_text(const Spread& s) {
  if (s.n < 2) return "1 run";
  if (s.median <= 0) return "-";
  // Half the min-max range, relative to the median.
  return "±" + format_fixed((s.max - s.min) / 2 / s.median * 100, 1) + "%";
}

double median(const Group& g, const char* m) {
  auto it = g.metrics.find(m);
  return it == g.metrics.end() ? -1 : it->second.median;
}

// Built with append, not `+`: g++ 12 warns falsely (-Wrestrict, GCC bug
// 105651) on some literal + std::string chains.
std::string errors_text(const Group& g) {
  if (g.errors == 0) return "0";
  std::string t;
  if (g.socket_errors) {
    t.append(format_count(g.socket_errors)).append(" sock");
  }
  if (g.non_2xx) {
    if (!t.empty()) t.append(" ");
    t.append(format_count(g.non_2xx)).append(" non2xx");
  }
  if (g.wrong_body) {
    if (!t.empty()) t.append(" ");
    t.append(format_count(g.wrong_body)).append(" body");
  }
  return t.append(" !");
}

std::string ratio_text(const std::vector<Ratio>& ratios, const Group& g) {
  for (const Ratio& r : ratios) {
    if (r.workload != g.workload || r.peer != g.server) continue;
    std::string t;
    if (r.req_per_s.n) {
      t.append("x")
          .append(format_fixed(r.req_per_s.median, 2))
          .append(" req/s");
    }
    if (r.cpu_per_req.n) {
      t.append(", x").append(format_fixed(r.cpu_per_req.median, 2));
      t.append(" CPU");
    }
    if (!r.counts) {
      if (!t.empty()) t.append(" ");
      t.append("DOES NOT COUNT (").append(r.why_not).append(")");
    }
    return t;
  }
  return "";
}

Row group_row(const Group& g, const std::vector<Ratio>& ratios) {
  const Workload* w = find_workload(g.workload);
  std::string unit =
      w && std::string(w->unit) != "req" ? std::string(" ") + w->unit : "";
  auto lat = [&](const char* m) { return format_latency_us(median(g, m)); };
  double cpu = median(g, "cpu_us_per_req");
  auto rps = g.metrics.find("req_per_s");
  // Fewer than 10,000 values: fewer than ten lie above the p99.9.
  std::string p999 = lat("p99_9_us");
  if (g.latency_samples < kP999MinSamples && median(g, "p99_9_us") >= 0) {
    p999 += "*";
  }
  // The idle workload's figure is memory, shown where req/s would be.
  auto idle = g.metrics.find("idle_bytes_per_conn");
  if (idle != g.metrics.end()) {
    return {g.workload,
            g.server,
            format_count(idle->second.median) + " B/conn",
            spread_text(idle->second),
            "-",
            "-",
            "-",
            "-",
            errors_text(g),
            "-",
            "-",
            format_kib(static_cast<uint64_t>(median(g, "peak_rss_kib"))),
            ""};
  }
  return {g.workload,
          g.server,
          format_count(median(g, "req_per_s")) + unit,
          rps == g.metrics.end() ? "-" : spread_text(rps->second),
          lat("p50_us"),
          lat("p95_us"),
          lat("p99_us"),
          p999,
          errors_text(g),
          format_fixed(g.response_bytes, 0),
          cpu >= 0 ? format_fixed(cpu, 2) : "n/a",
          format_kib(static_cast<uint64_t>(median(g, "peak_rss_kib"))),
          ratio_text(ratios, g)};
}

}  // namespace

std::string render_table(const RunRecord& run) {
  std::vector<Group> groups = group_samples(run.samples);
  std::vector<Ratio> ratios = pounce_peer_ratios(run.samples);
  std::vector<Row> rows;
  std::vector<std::string> na;  // full-width "n/a" rows, by index in rows
  for (const std::string& workload : run.options.workloads) {
    for (const Target& t : run.targets) {
      if (const Group* g = find_group(groups, workload, t.name)) {
        rows.push_back(group_row(*g, ratios));
        continue;
      }
      for (const Skip& s : run.skipped) {
        if (s.workload == workload && s.server == t.name) {
          rows.push_back({workload, t.name, "n/a (" + s.reason + ")"});
          break;
        }
      }
    }
  }
  // Column widths over the full rows only: an n/a row's text overflows.
  std::vector<size_t> width(kHeader.size());
  for (size_t c = 0; c < kHeader.size(); ++c) width[c] = kHeader[c].size();
  for (const Row& r : rows) {
    if (r.size() != kHeader.size()) continue;
    for (size_t c = 0; c < r.size(); ++c) {
      // "±" is two bytes but one column.
      size_t len = r[c].size() - (r[c].find("±") != std::string::npos ? 1 : 0);
      width[c] = std::max(width[c], len);
    }
  }
  auto line = [&](const Row& r) {
    std::string out;
    for (size_t c = 0; c < r.size(); ++c) {
      bool last = c + 1 == r.size();
      bool left =
          c < 2 || c + 1 == kHeader.size() || r.size() != kHeader.size();
      size_t len = r[c].size() - (r[c].find("±") != std::string::npos ? 1 : 0);
      size_t pad = width[c] > len ? width[c] - len : 0;
      if (!left) out.append(pad, ' ');
      out += r[c];
      if (left && !last) out.append(pad, ' ');
      if (!last) out += "  ";
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out;
  // Above the table: TLS or new-connection figures must never pass for
  // keep-alive cleartext ones.
  if (run.options.tls) {
    std::string agreed;
    for (const Sample& s : run.samples) {
      if (s.tls_version.empty()) continue;
      agreed = s.tls_version + " " + s.tls_cipher + " " + s.tls_group;
      if (!s.tls_peer_key.empty()) agreed += ", server key " + s.tls_peer_key;
      break;
    }
    out += "TLS: every server over https";
    if (run.certificate)
      out += " with one throwaway " + run.certificate->description;
    out += run.options.h2 ? std::string(
                                "; client h2load with its own TLS "
                                "offer")
                          : "; client pinned to TLS " + run.options.tls_version;
    if (!agreed.empty()) out += " (" + agreed + ")";
    out += ". CPU us/req includes the TLS work.\n";
  }
  if (run.options.h2) {
    out += std::string("HTTP/2: every workload over ") +
           (run.options.tls ? "h2 (TLS, ALPN h2)"
                            : "h2c (cleartext, prior knowledge)") +
           ", load by " +
           (run.h2load_version.empty() ? "h2load" : run.h2load_version) +
           " with " + std::to_string(run.options.connections) +
           " connections x " + std::to_string(run.options.streams) +
           " streams. Latency percentiles n/a (h2load prints none); bodies "
           "checked by size.\n";
  }
  if (run.options.new_conn) {
    out += "NEW CONNECTION PER REQUEST";
    out += run.options.tls_resume ? " (TLS session resumed)"
           : run.options.tls      ? " (full TLS handshake)"
                                  : "";
    out +=
        ": req/s = connections/s, CPU us/req = CPU per connection, "
        "latency from the connect.\n";
  }
  if (!out.empty()) out += "\n";
  out += line(kHeader);
  std::string prev;
  for (const Row& r : rows) {
    if (!prev.empty() && r[0] != prev) out += "\n";
    prev = r[0];
    out += line(r);
  }

  // Footnotes: what the numbers mean, and every run that had errors.
  out += "\nreq/s and latencies are medians over " +
         std::to_string(run.options.repeat) + " round(s)";
  out += run.options.repeat < 2
             ? " (ONE sample: insufficient evidence, use --repeat 5)"
             : "; spread = half the min-max range";
  out += ". sse: events/s; latency = delivery latency (receipt - stamp).\n";
  out +=
      "req/s, CPU us/req and pounce/peer count good answers only: 2xx with "
      "the expected body (errors: sock = requests lost to resets, non2xx, "
      "body = wrong bodies).\n";
  out +=
      "CPU us/req: user+sys of the server's process tree per request; "
      "pounce/peer: median of per-round ratios. resp B: mean bytes of one "
      "response, head included.\n";
  bool thin = false;
  for (const Group& g : groups) {
    thin = thin || (g.latency_samples < kP999MinSamples &&
                    g.metrics.count("p99_9_us") > 0);
  }
  if (thin) {
    out += "*: fewer than " + format_count(kP999MinSamples) +
           " latency values in a round; the p99.9 rests on fewer than ten.\n";
  }
  if (std::find(run.options.workloads.begin(), run.options.workloads.end(),
                "idle") != run.options.workloads.end()) {
    out +=
        "idle: the req/s column is the server's resident memory (VmRSS of "
        "its process tree) grown per idle connection, over --connections "
        "connections opened one by one, measured once, first, on servers "
        "that have served nothing yet; peak RSS is with them all open.\n";
  }
  if (run.options.rate > 0) {
    out +=
        "--rate: requests lost at a reset, in flight at the end, or due and "
        "never sent are in the latencies, up to when they were given up.\n";
  }
  for (const Target& t : run.targets) {
    for (const auto& [workload, why] : t.differences) {
      if (!run.options.workloads.empty() &&
          std::find(run.options.workloads.begin(), run.options.workloads.end(),
                    workload) == run.options.workloads.end()) {
        continue;
      }
      if (!find_group(groups, workload, t.name)) continue;
      out += "NOT EQUIVALENT: " + workload + " " + t.name + ": " + why + "\n";
    }
  }
  for (const Ratio& r : ratios) {
    if (r.counts) continue;
    out += "RATIO DOES NOT COUNT: " + r.workload + " pounce/" + r.peer + ": " +
           r.why_not + "\n";
  }
  for (const Sample& s : run.samples) {
    if (s.errors() == 0) continue;
    char buf[256];
    snprintf(buf, sizeof buf,
             "ERRORS: %s %s round %u: %llu socket (connect %llu, read %llu, "
             "write %llu, protocol %llu), %llu non-2xx, %llu wrong body\n",
             s.workload.c_str(), s.server.c_str(), s.round,
             static_cast<unsigned long long>(s.socket_errors()),
             static_cast<unsigned long long>(s.connect_errors),
             static_cast<unsigned long long>(s.read_errors),
             static_cast<unsigned long long>(s.write_errors),
             static_cast<unsigned long long>(s.protocol_errors),
             static_cast<unsigned long long>(s.non_2xx),
             static_cast<unsigned long long>(s.wrong_body));
    out += buf;
  }
  for (const Sample& s : run.samples) {
    if (s.unsent == 0) continue;
    out += "BEHIND: " + s.workload + " " + s.server + " round " +
           std::to_string(s.round) + ": " + format_count(s.unsent) +
           " requests due at --rate were never sent\n";
  }
  return out;
}

}  // namespace pounce::bench
