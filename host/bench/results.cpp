#include "bench/results.h"

#include <algorithm>
#include <cmath>

namespace pounce::bench {

const char* const kMetricNames[8] = {
    "req_per_s", "p50_us",         "p95_us",       "p99_us",
    "p99_9_us",  "cpu_us_per_req", "peak_rss_kib", "idle_bytes_per_conn"};

double metric_of(const Sample& s, const std::string& name) {
  if (name == "req_per_s") return s.per_second;
  if (name == "p50_us") return s.p50_us;
  if (name == "p95_us") return s.p95_us;
  if (name == "p99_us") return s.p99_us;
  if (name == "p99_9_us") return s.p999_us;
  if (name == "cpu_us_per_req") return s.cpu_us_per_req;
  if (name == "peak_rss_kib") return static_cast<double>(s.peak_rss_kib);
  if (name == "idle_bytes_per_conn") return s.idle_bytes_per_conn;
  return 0;
}

namespace {

// Linear interpolation between closest ranks: with few samples, a p95 that
// is not simply the max says how far the top sample stands out.
double quantile_sorted(const std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  double pos = q * static_cast<double>(v.size() - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

}  // namespace

Spread spread_of(std::vector<double> values) {
  Spread s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  s.min = values.front();
  s.max = values.back();
  s.median = quantile_sorted(values, 0.5);
  s.p95 = quantile_sorted(values, 0.95);
  double sum = 0;
  for (double v : values) sum += v;
  s.mean = sum / static_cast<double>(values.size());
  if (values.size() > 1) {
    double sq = 0;
    for (double v : values) sq += (v - s.mean) * (v - s.mean);
    s.stddev = std::sqrt(sq / static_cast<double>(values.size() - 1));
  }
  return s;
}

std::vector<Group> group_samples(const std::vector<Sample>& samples) {
  std::vector<Group> groups;
  for (const Sample& s : samples) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) {
      return g.workload == s.workload && g.server == s.server;
    });
    if (it == groups.end()) {
      Group g;
      g.workload = s.workload;
      g.server = s.server;
      groups.push_back(std::move(g));
    }
  }
  for (Group& g : groups) {
    std::map<std::string, std::vector<double>> values;
    for (const Sample& s : samples) {
      if (s.workload != g.workload || s.server != g.server) continue;
      g.latency_samples = g.samples == 0
                              ? s.latency_samples
                              : std::min(g.latency_samples, s.latency_samples);
      g.response_bytes += s.response_bytes;
      ++g.samples;
      g.errors += s.errors();
      g.socket_errors += s.socket_errors();
      g.non_2xx += s.non_2xx;
      g.wrong_body += s.wrong_body;
      for (const char* m : kMetricNames) {
        double v = metric_of(s, m);
        // An unknown CPU figure (< 0) is left out, not averaged in.
        if (v >= 0) values[m].push_back(v);
      }
    }
    if (g.samples) g.response_bytes /= static_cast<double>(g.samples);
    for (auto& [name, v] : values) g.metrics[name] = spread_of(std::move(v));
  }
  return groups;
}

const Group* find_group(const std::vector<Group>& groups,
                        const std::string& workload,
                        const std::string& server) {
  for (const Group& g : groups) {
    if (g.workload == workload && g.server == server) return &g;
  }
  return nullptr;
}

namespace {

// "nginx: 12 non-2xx, 3 wrong bodies", or empty when it answered right.
// Built with append, not `+`: g++ 12 warns falsely (-Wrestrict, GCC bug
// 105651) on some literal + std::string chains.
std::string wrong_answers_text(const Group& g) {
  std::string t;
  if (g.non_2xx == 0 && g.wrong_body == 0) return t;
  t.append(g.server).append(":");
  if (g.non_2xx) {
    t.append(" ").append(std::to_string(g.non_2xx)).append(" non-2xx");
  }
  if (g.wrong_body) {
    if (g.non_2xx) t.append(",");
    t.append(" ").append(std::to_string(g.wrong_body)).append(" wrong bodies");
  }
  return t;
}

}  // namespace

std::vector<Ratio> pounce_peer_ratios(const std::vector<Sample>& samples) {
  std::vector<Ratio> out;
  const std::vector<Group> groups = group_samples(samples);
  for (const Group& g : groups) {
    if (g.server == "pounce") continue;
    std::string why_not;
    if (const Group* ours = find_group(groups, g.workload, "pounce")) {
      why_not = wrong_answers_text(*ours);
    }
    const std::string theirs = wrong_answers_text(g);
    if (!theirs.empty()) {
      if (!why_not.empty()) why_not.append("; ");
      why_not.append(theirs);
    }
    std::vector<double> rps, cpu;
    for (const Sample& peer : samples) {
      if (peer.workload != g.workload || peer.server != g.server) continue;
      for (const Sample& ours : samples) {
        if (ours.server != "pounce" || ours.workload != peer.workload ||
            ours.round != peer.round) {
          continue;
        }
        if (peer.per_second > 0)
          rps.push_back(ours.per_second / peer.per_second);
        if (peer.cpu_us_per_req > 0 && ours.cpu_us_per_req >= 0) {
          cpu.push_back(ours.cpu_us_per_req / peer.cpu_us_per_req);
        }
      }
    }
    // A peer with no good answer at all has no ratio, but must still be
    // said not to count.
    if (rps.empty() && why_not.empty()) continue;
    out.push_back(Ratio{g.workload, g.server, spread_of(std::move(rps)),
                        spread_of(std::move(cpu)), why_not.empty(), why_not});
  }
  return out;
}

}  // namespace pounce::bench
