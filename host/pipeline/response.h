// The response pipeline of a whole response (sync and blocking handlers):
// the plugin's pounce_response becomes a ResponseStart and a body, with
// compression (ARCHITECTURE.md §5), Server-Timing and the access log, and
// goes to the exchange, whatever its protocol.
#pragma once

struct pounce_response;

namespace pounce {

namespace exchange {
class Exchange;
}  // namespace exchange
namespace http {
struct RequestHead;
}  // namespace http

namespace pipeline {

// Answers `head` with `res` on `ex`. `res` may be rewritten (a weak ETag).
void send_response(exchange::Exchange& ex, const http::RequestHead& head,
                   pounce_response& res);

}  // namespace pipeline
}  // namespace pounce
