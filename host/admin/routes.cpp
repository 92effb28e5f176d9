// The standard routes of the admin listener and the bodies they render.
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <cstdio>

#include "admin/admin_server.h"
#include "admin/snapshot.h"
#include "http/error_code.h"
#include "metrics/host_metrics.h"
#include "metrics/plugin_metrics.h"
#include "metrics/prometheus.h"

namespace pounce::admin {

namespace {

const char* readiness_name(Readiness r) {
  switch (r) {
    case Readiness::Ready:
      return "ready";
    case Readiness::Draining:
      return "draining";
    case Readiness::Starting:
      break;
  }
  return "starting";
}

}  // namespace

std::string status_json(const Snapshot& s) {
  using nlohmann::json;
  json loops = json::array();
  uint64_t connections = 0, streams = 0, websockets = 0;
  for (const LoopSnapshot& l : s.loops) {
    json j = {{"role", l.role}, {"index", l.index}, {"responding", l.answered}};
    if (l.answered) {
      j["connections"] = l.connections;
      if (l.role == "worker") j["handed_off"] = l.handed_off;
      j["streams"] = l.streams;
      j["websockets"] = l.websockets;
      j["draining"] = l.draining;
      connections += l.connections;
      streams += l.streams;
      websockets += l.websockets;
    }
    loops.push_back(std::move(j));
  }
  json out = {
      {"status", readiness_name(s.readiness)},
      {"version", s.facts.version},
      {"pid", static_cast<int64_t>(getpid())},
      {"uptime_seconds", s.uptime_seconds},
      {"generation", s.generation},
      {"workers", s.facts.workers},
      {"async_threads", s.facts.async_threads},
      {"supervised", s.facts.supervised},
      {"supervisor_restarts", s.facts.supervisor_restarts},
      {"connections", connections},
      {"streams", streams},
      {"websockets", websockets},
      {"loops", std::move(loops)},
  };
  return out.dump() + "\n";
}

std::string metrics_text(const Snapshot& s) {
  // The process-level series the admin listener knows; the request
  // counters of docs/operations.md "Metrics" join them here, summed over
  // the same per-loop snapshots.
  std::string out;
  char line[256];
  auto gauge = [&](const char* name, const char* help, const char* type) {
    snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help,
             name, type);
    out += line;
  };
  gauge("pounce_up", "1 while the serving process runs", "gauge");
  out += "pounce_up 1\n";
  gauge("pounce_ready", "1 when /readyz answers 200", "gauge");
  out +=
      s.readiness == Readiness::Ready ? "pounce_ready 1\n" : "pounce_ready 0\n";
  gauge("pounce_uptime_seconds", "Seconds since the serving process started",
        "gauge");
  snprintf(line, sizeof line, "pounce_uptime_seconds %.3f\n", s.uptime_seconds);
  out += line;
  gauge("pounce_generation", "The plugin generation now serving", "gauge");
  snprintf(line, sizeof line, "pounce_generation %llu\n",
           static_cast<unsigned long long>(s.generation));
  out += line;
  gauge("pounce_reloads_total", "SIGHUP reloads, by result (ok, failed)",
        "counter");
  snprintf(line, sizeof line,
           "pounce_reloads_total{result=\"ok\"} %llu\n"
           "pounce_reloads_total{result=\"failed\"} %llu\n",
           static_cast<unsigned long long>(s.reloads_ok),
           static_cast<unsigned long long>(s.reloads_failed));
  out += line;
  gauge("pounce_supervisor_restarts_total",
        "Restarts of the serving process by the supervisor", "counter");
  snprintf(line, sizeof line, "pounce_supervisor_restarts_total %u\n",
           s.facts.supervisor_restarts);
  out += line;
  if (s.has_blocking_pool) {
    gauge("pounce_blocking_queue_depth",
          "Blocking handlers waiting for a pool thread", "gauge");
    snprintf(line, sizeof line, "pounce_blocking_queue_depth %llu\n",
             static_cast<unsigned long long>(s.blocking_queued));
    out += line;
    gauge("pounce_blocking_threads_busy",
          "Blocking-pool threads running a handler", "gauge");
    snprintf(line, sizeof line, "pounce_blocking_threads_busy %llu\n",
             static_cast<unsigned long long>(s.blocking_busy));
    out += line;
    gauge("pounce_blocking_threads", "Blocking-pool threads started", "gauge");
    snprintf(line, sizeof line, "pounce_blocking_threads %llu\n",
             static_cast<unsigned long long>(s.blocking_threads));
    out += line;
  }
  struct Series {
    const char* name;
    const char* help;
    uint64_t LoopSnapshot::*field;
  };
  const Series series[] = {
      {"pounce_connections_open", "Open connections, by loop",
       &LoopSnapshot::connections},
      {"pounce_async_streams_open", "Async streams open, by loop",
       &LoopSnapshot::streams},
      {"pounce_websockets_open", "WebSockets open, by loop",
       &LoopSnapshot::websockets},
      {"pounce_connections_idle",
       "Connections waiting for a request (keep-alive, HTTP/2 without a "
       "stream), by loop",
       &LoopSnapshot::waiting},
  };
  for (const Series& m : series) {
    gauge(m.name, m.help, "gauge");
    for (const LoopSnapshot& l : s.loops) {
      if (!l.answered) continue;
      snprintf(line, sizeof line, "%s{loop=\"%s\",index=\"%u\"} %llu\n", m.name,
               l.role.c_str(), l.index,
               static_cast<unsigned long long>(l.*m.field));
      out += line;
    }
  }
  // By listener: summed over the loops that answered.
  std::vector<uint64_t> by_listener(s.facts.listeners.size());
  for (const LoopSnapshot& l : s.loops) {
    if (!l.answered) continue;
    for (size_t k = 0; k < l.by_listener.size() && k < by_listener.size();
         ++k) {
      by_listener[k] += l.by_listener[k];
    }
  }
  gauge("pounce_listener_connections_open",
        "Open connections, by listener (its URL)", "gauge");
  for (size_t k = 0; k < by_listener.size(); ++k) {
    // A Unix socket's path may hold any byte: escaped as a label value.
    std::string label;
    for (char c : s.facts.listeners[k]) {
      if (c == '\\' || c == '"') label += '\\';
      if (c == '\n') {
        label += "\\n";
        continue;
      }
      label += c;
    }
    out += "pounce_listener_connections_open{listener=\"" + label + "\"} " +
           std::to_string(by_listener[k]) + "\n";
  }
  gauge("pounce_loop_responding",
        "0 when a loop did not answer the scrape in time", "gauge");
  for (const LoopSnapshot& l : s.loops) {
    snprintf(line, sizeof line,
             "pounce_loop_responding{loop=\"%s\",index=\"%u\"} %d\n",
             l.role.c_str(), l.index, l.answered ? 1 : 0);
    out += line;
  }
  return out;
}

namespace {

// X-Pounce-Error names by code value, for pounce_rejected_requests_total.
const char* error_code_name(size_t code) {
  if (code == 0 || code >= static_cast<size_t>(http::ErrorCode::Count)) {
    return nullptr;
  }
  return http::error_name(static_cast<http::ErrorCode>(code)).data();
}

}  // namespace

void add_standard_routes(AdminServer* server) {
  using Reply = AdminServer::Reply;
  server->add_route("/healthz", [](AdminServer&, AdminServer::Respond r) {
    r(Reply{200, "application/json", "{\"status\":\"ok\"}\n"});
  });
  server->add_route("/readyz", [](AdminServer&, AdminServer::Respond r) {
    char body[96];
    int status = 503;
    size_t n = ready_answer(body, sizeof body, &status);
    r(Reply{status, "application/json", std::string(body, n)});
  });
  server->add_route("/status", [](AdminServer& a, AdminServer::Respond r) {
    a.gather([r](const Snapshot& s) {
      r(Reply{200, "application/json", status_json(s)});
    });
  });
  server->add_route("/metrics", [](AdminServer& a, AdminServer::Respond r) {
    a.gather([r, &a](const Snapshot& s) {
      // The process and per-loop gauges, then the request counters summed
      // over the loops, then the plugins' own metrics.
      metrics::TextWriter w;
      metrics::write_request_metrics(w, a.loop_counters(), error_code_name);
      metrics::PluginMetrics::instance().write(w);
      r(Reply{200, std::string(metrics::kContentType),
              metrics_text(s) + w.take()});
    });
  });
}

}  // namespace pounce::admin
