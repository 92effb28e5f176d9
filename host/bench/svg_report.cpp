#include "bench/svg_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/format.h"

namespace pounce::bench {

namespace {

// Colour-blind-safe (Okabe-Ito), one per server, stable across reports.
const char* colour_of(const std::string& server) {
  if (server == "pounce") return "#0072B2";
  if (server == "nginx") return "#009E73";
  if (server == "h2o") return "#E69F00";
  return "#CC79A7";
}

std::string esc(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string num(double v) {
  return format_fixed(v, 1);
}

// A "nice" axis maximum: 1, 2 or 5 times a power of ten, at least v.
double nice_ceiling(double v) {
  if (v <= 0) return 1;
  double p = std::pow(10, std::floor(std::log10(v)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * p >= v) return m * p;
  }
  return 10 * p;
}

std::string text(double x, double y, const std::string& s,
                 const char* anchor = "middle", int size = 12,
                 const char* extra = "") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" +
         anchor + "\" font-size=\"" + std::to_string(size) + "\"" + extra +
         ">" + esc(s) + "</text>\n";
}

struct Layout {
  double width = 960;
  double margin_left = 80;
  double margin_right = 20;
  double bar_top = 70;
  double bar_height = 260;
  double lat_top = 420;
  double lat_height = 200;
  double height = 700;
};

}  // namespace

std::string render_svg(const RunRecord& run, const std::string& title) {
  Layout L;
  std::vector<Group> groups = group_samples(run.samples);
  std::vector<std::string> servers;
  for (const Target& t : run.targets) {
    if (t.available) servers.push_back(t.name);
  }
  std::vector<std::string> workloads;
  for (const std::string& w : run.options.workloads) {
    bool any = std::any_of(groups.begin(), groups.end(),
                           [&](const Group& g) { return g.workload == w; });
    if (any) workloads.push_back(w);
  }

  std::string svg =
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
      num(L.width) + "\" height=\"" + num(L.height) + "\" viewBox=\"0 0 " +
      num(L.width) + " " + num(L.height) +
      "\" font-family=\"sans-serif\">\n"
      "<title>" +
      esc(title) +
      "</title>\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
  svg += text(L.width / 2, 24, title, "middle", 16, " font-weight=\"bold\"");
  std::string sub = std::to_string(run.options.repeat) + " round(s), " +
                    std::to_string(run.options.workers) + " worker(s), " +
                    std::to_string(run.options.connections) +
                    " connections, pipeline " +
                    std::to_string(run.options.pipeline) + ", " +
                    format_fixed(run.options.duration_s, 1) + " s per run";
  if (run.options.repeat < 2) sub += " - ONE sample: insufficient evidence";
  svg += text(L.width / 2, 42, sub, "middle", 11, " fill=\"#444\"");

  // Legend.
  double lx = L.margin_left;
  for (const std::string& s : servers) {
    svg += "<rect x=\"" + num(lx) +
           "\" y=\"52\" width=\"12\" height=\"12\" "
           "fill=\"" +
           colour_of(s) + "\"/>\n";
    svg += text(lx + 16, 62, s, "start", 12);
    lx += 90;
  }

  // Panel 1: req/s bars.
  double plot_w = L.width - L.margin_left - L.margin_right;
  double top = L.bar_top + 10, h = L.bar_height - 40;
  double ymax = 0;
  for (const Group& g : groups) {
    auto it = g.metrics.find("req_per_s");
    if (it != g.metrics.end()) ymax = std::max(ymax, it->second.max);
  }
  ymax = nice_ceiling(ymax * 1.05);
  svg += "<g id=\"throughput\">\n";
  svg +=
      text(16, top + h / 2, "req/s (events/s for sse)", "middle", 11,
           (" transform=\"rotate(-90 16 " + num(top + h / 2) + ")\"").c_str());
  for (int i = 0; i <= 5; ++i) {
    double v = ymax * i / 5, y = top + h - h * i / 5;
    svg += "<line x1=\"" + num(L.margin_left) + "\" x2=\"" +
           num(L.width - L.margin_right) + "\" y1=\"" + num(y) + "\" y2=\"" +
           num(y) + "\" stroke=\"#ddd\"/>\n";
    svg += text(L.margin_left - 6, y + 4, format_count(v), "end", 10);
  }
  double slot = workloads.empty() ? plot_w : plot_w / workloads.size();
  double bar_w =
      std::min(60.0, slot * 0.8 / std::max<size_t>(1, servers.size()));
  for (size_t wi = 0; wi < workloads.size(); ++wi) {
    double x0 = L.margin_left + slot * wi + (slot - bar_w * servers.size()) / 2;
    for (size_t si = 0; si < servers.size(); ++si) {
      double x = x0 + bar_w * si;
      const Group* g = find_group(groups, workloads[wi], servers[si]);
      auto it = g ? g->metrics.find("req_per_s")
                  : std::map<std::string, Spread>::const_iterator{};
      if (!g || it == g->metrics.end()) {
        svg += text(x + bar_w / 2, top + h - 4, "n/a", "middle", 10,
                    " fill=\"#888\"");
        continue;
      }
      const Spread& s = it->second;
      auto y_of = [&](double v) { return top + h - h * v / ymax; };
      std::string label = servers[si] + " " + workloads[wi] + ": median " +
                          format_count(s.median) + "/s, min " +
                          format_count(s.min) + ", max " + format_count(s.max) +
                          (g->errors ? " (ERRORS)" : "");
      svg += "<g class=\"series\" data-series=\"" + esc(servers[si]) +
             "\" data-workload=\"" + esc(workloads[wi]) + "\">\n";
      svg += "<rect x=\"" + num(x + 2) + "\" y=\"" + num(y_of(s.median)) +
             "\" width=\"" + num(bar_w - 4) + "\" height=\"" +
             num(top + h - y_of(s.median)) + "\" fill=\"" +
             colour_of(servers[si]) + "\"" +
             (g->errors ? " stroke=\"#d00\" stroke-width=\"3\"" : "") +
             "><title>" + esc(label) + "</title></rect>\n";
      double cx = x + bar_w / 2;
      svg += "<path d=\"M" + num(cx) + " " + num(y_of(s.min)) + " V" +
             num(y_of(s.max)) + " M" + num(cx - 6) + " " + num(y_of(s.min)) +
             " H" + num(cx + 6) + " M" + num(cx - 6) + " " + num(y_of(s.max)) +
             " H" + num(cx + 6) +
             "\" stroke=\"#222\" stroke-width=\"1.5\" fill=\"none\"/>\n";
      svg += "</g>\n";
    }
    svg += text(L.margin_left + slot * wi + slot / 2, top + h + 18,
                workloads[wi], "middle", 12);
  }
  svg += "</g>\n";

  // Panel 2: latency percentiles, log scale, shared across workloads.
  static const char* kPcts[] = {"p50_us", "p95_us", "p99_us", "p99_9_us"};
  static const char* kPctLabels[] = {"p50", "p95", "p99", "p99.9"};
  double lo = 1e18, hi = 0;
  for (const Group& g : groups) {
    for (const char* p : kPcts) {
      auto it = g.metrics.find(p);
      if (it == g.metrics.end() || it->second.median <= 0) continue;
      lo = std::min(lo, it->second.median);
      hi = std::max(hi, it->second.median);
    }
  }
  double ltop = L.lat_top + 10, lh = L.lat_height - 30;
  svg += "<g id=\"latency\">\n";
  svg += text(L.width / 2, L.lat_top - 12,
              "latency percentiles (median over rounds, log scale)", "middle",
              13, " font-weight=\"bold\"");
  if (hi > 0) {
    double dlo = std::pow(10, std::floor(std::log10(lo)));
    double dhi = std::pow(10, std::ceil(std::log10(hi)));
    if (dhi <= dlo) dhi = dlo * 10;
    auto y_of = [&](double v) {
      return ltop + lh -
             lh * (std::log10(v) - std::log10(dlo)) /
                 (std::log10(dhi) - std::log10(dlo));
    };
    svg += text(
        16, ltop + lh / 2, "microseconds", "middle", 11,
        (" transform=\"rotate(-90 16 " + num(ltop + lh / 2) + ")\"").c_str());
    for (double d = dlo; d <= dhi * 1.0001; d *= 10) {
      svg += "<line x1=\"" + num(L.margin_left) + "\" x2=\"" +
             num(L.width - L.margin_right) + "\" y1=\"" + num(y_of(d)) +
             "\" y2=\"" + num(y_of(d)) + "\" stroke=\"#ddd\"/>\n";
      svg +=
          text(L.margin_left - 6, y_of(d) + 4, format_latency_us(d), "end", 10);
    }
    for (size_t wi = 0; wi < workloads.size(); ++wi) {
      double px = L.margin_left + slot * wi + 14, pw = slot - 28;
      svg += text(px + pw / 2, ltop + lh + 34, workloads[wi], "middle", 12);
      for (int k = 0; k < 4; ++k) {
        svg += text(px + pw * k / 3, ltop + lh + 16, kPctLabels[k], "middle", 9,
                    " fill=\"#555\"");
      }
      for (const std::string& server : servers) {
        const Group* g = find_group(groups, workloads[wi], server);
        if (!g) continue;
        std::string pts;
        for (int k = 0; k < 4; ++k) {
          auto it = g->metrics.find(kPcts[k]);
          if (it == g->metrics.end() || it->second.median <= 0) continue;
          pts +=
              num(px + pw * k / 3) + "," + num(y_of(it->second.median)) + " ";
        }
        svg += "<polyline class=\"series\" data-series=\"" + esc(server) +
               "\" data-workload=\"" + esc(workloads[wi]) + "\" points=\"" +
               pts + "\" fill=\"none\" stroke=\"" + colour_of(server) +
               "\" stroke-width=\"2\"><title>" +
               esc(server + " " + workloads[wi] + " latency") +
               "</title></polyline>\n";
      }
    }
  } else {
    svg += text(L.width / 2, ltop + lh / 2, "no latency data", "middle", 12);
  }
  svg += "</g>\n";
  svg += text(L.width - L.margin_right, L.height - 8,
              "pounce-host bench " POUNCE_VERSION, "end", 9, " fill=\"#888\"");
  svg += "</svg>\n";
  return svg;
}

}  // namespace pounce::bench
