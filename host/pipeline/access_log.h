// The access log (ARCHITECTURE.md §3): one line per response, written into
// the loop's log buffer. Every protocol's exchanges log through here, with
// the facts their exchange knows.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pounce {

namespace exchange {
class Exchange;
}  // namespace exchange
namespace http {
struct RequestHead;
}  // namespace http

namespace pipeline {

// "GET /x HTTP/1.1" (the request line as the log shows it), into buf; "-"
// without a head. `http_major` is the exchange's protocol: 2 shows
// "HTTP/2.0".
std::string_view format_request_line(const http::RequestHead* head,
                                     unsigned http_major, char* buf,
                                     size_t cap);

// The end of one response, whatever the protocol and mode: counts it in
// the loop's request metrics and, with --access-log, logs it. `mount` is
// the mount's metrics index (0: the host answered before routing).
void record_response(exchange::Exchange& ex, const http::RequestHead* head,
                     uint16_t mount, int status, size_t bytes);
// The same for a stream, whose head is gone: its request line and method.
void record_response(exchange::Exchange& ex, std::string_view request_line,
                     std::string_view method, uint16_t mount, int status,
                     size_t bytes);

// One line for `ex`'s response: its client, the time, `request_line`,
// `status`, the body bytes sent and the time since the request began.
void log_access(exchange::Exchange& ex, std::string_view request_line,
                int status, size_t bytes);
// The same, with the request line formatted from `head`.
void log_access(exchange::Exchange& ex, const http::RequestHead* head,
                int status, size_t bytes);

}  // namespace pipeline
}  // namespace pounce
