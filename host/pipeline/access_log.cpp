#include "pipeline/access_log.h"

#include <uv.h>

#include <cstdio>

#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "log/access_format.h"
#include "log/logger.h"
#include "metrics/host_metrics.h"
#include "plugin/request_response.h"
#include "tls/session_info.h"

namespace pounce::pipeline {

std::string_view format_request_line(const http::RequestHead* head,
                                     unsigned http_major, char* buf,
                                     size_t cap) {
  if (!head) return "-";
  int tlen =
      static_cast<int>(head->target.size() > 512 ? 512 : head->target.size());
  // The target was validated as visible ASCII by the parser: it cannot forge
  // a log line.
  int n =
      http_major >= 2
          ? snprintf(buf, cap, "%.*s %.*s HTTP/%u.0",
                     static_cast<int>(head->method.size()), head->method.data(),
                     tlen, head->target.data(), http_major)
          : snprintf(buf, cap, "%.*s %.*s HTTP/1.%d",
                     static_cast<int>(head->method.size()), head->method.data(),
                     tlen, head->target.data(), head->version_minor);
  if (n < 0) return "-";
  return std::string_view(
      buf, static_cast<size_t>(n) < cap ? static_cast<size_t>(n) : cap - 1);
}

void log_access(exchange::Exchange& ex, const http::RequestHead* head,
                int status, size_t bytes) {
  char request_line[600];
  log_access(ex,
             format_request_line(head, ex.http_major(), request_line,
                                 sizeof request_line),
             status, bytes);
}

namespace {

// The User-Agent of `head`, or empty.
std::string_view user_agent(const http::RequestHead* head) {
  if (!head) return {};
  for (size_t i = 0; i < head->header_count; ++i) {
    const pounce_header_t& h = head->headers[i];
    if (http::iequals(std::string_view(h.name.data, h.name.len),
                      "user-agent")) {
      return std::string_view(h.value.data, h.value.len);
    }
  }
  return {};
}

void write_line(exchange::Exchange& ex, std::string_view request_line,
                int status, size_t bytes, double secs,
                const http::RequestHead* head = nullptr,
                uint16_t mount = metrics::kNoMount) {
  // Common Log Format plus the duration in seconds:
  // 127.0.0.1 - - [27/Nov/2026:18:36:07 +0000] "GET / HTTP/1.1" 200 13 0.000042
  Loop& loop = *ex.loop();
  char line[1024];
  pounce_addr_t a;
  a.size = sizeof a;
  if (format_address(reinterpret_cast<const sockaddr*>(&ex.client().addr),
                     &a) != POUNCE_OK) {
    snprintf(a.text, sizeof a.text, "-");
  }
  std::string_view t = loop.date().clf_time();
  if (const log::AccessFormat* format = loop.access_format()) {
    log::AccessFields f;
    f.remote_addr = a.text;
    f.time_local = t;
    f.request = request_line;
    f.status = status;
    f.body_bytes_sent = bytes;
    f.request_time = secs;
    tls::InfoSource* tls = ex.tls_source();
    f.tls = tls ? tls->tls_info() : nullptr;
    f.scheme = ex.https() ? "https" : "http";
    f.request_id = ex.request_id();
    f.mount = metrics::MountTable::instance().label(mount);
    if (const ProxyTlvs* p = ex.proxy_tlvs()) {
      f.proxy_alpn = p->alpn;
      f.proxy_authority = p->authority;
    }
    f.user_agent = user_agent(head);
    char custom[2048];
    log::access(
        std::string_view(custom, format->render(f, custom, sizeof custom)));
    return;
  }
  int n = snprintf(line, sizeof line, "%s - - [%.*s] \"%.*s\" %d %zu %.6f\n",
                   a.text, static_cast<int>(t.size()), t.data(),
                   static_cast<int>(request_line.size()), request_line.data(),
                   status, bytes, secs);
  if (n > 0) {
    log::access(std::string_view(line, static_cast<size_t>(n) < sizeof line
                                           ? static_cast<size_t>(n)
                                           : sizeof line - 1));
  }
}

}  // namespace

void log_access(exchange::Exchange& ex, std::string_view request_line,
                int status, size_t bytes) {
  const uint64_t start = ex.request_start_ns();
  write_line(ex, request_line, status, bytes,
             start ? static_cast<double>(uv_hrtime() - start) / 1e9 : 0.0);
}

void record_response(exchange::Exchange& ex, std::string_view request_line,
                     std::string_view method, uint16_t mount, int status,
                     size_t bytes) {
  Loop& loop = *ex.loop();
  const uint64_t start = ex.request_start_ns();
  const uint64_t ns = start ? uv_hrtime() - start : 0;
  metrics::count_request(loop.counters(),
                         ex.http_major() >= 2 ? metrics::Protocol::Http2
                                              : metrics::Protocol::Http1,
                         method, status, mount, bytes, ns);
  if (loop.config().access_log) {
    write_line(ex, request_line, status, bytes, static_cast<double>(ns) / 1e9);
  }
}

void record_response(exchange::Exchange& ex, const http::RequestHead* head,
                     uint16_t mount, int status, size_t bytes) {
  Loop& loop = *ex.loop();
  const uint64_t start = ex.request_start_ns();
  const uint64_t ns = start ? uv_hrtime() - start : 0;
  metrics::count_request(loop.counters(),
                         ex.http_major() >= 2 ? metrics::Protocol::Http2
                                              : metrics::Protocol::Http1,
                         head ? head->method : std::string_view(), status,
                         mount, bytes, ns);
  if (loop.config().access_log) {
    char request_line[600];
    write_line(ex,
               format_request_line(head, ex.http_major(), request_line,
                                   sizeof request_line),
               status, bytes, static_cast<double>(ns) / 1e9, head, mount);
  }
  ex.reset_request_facts();
}

}  // namespace pounce::pipeline
