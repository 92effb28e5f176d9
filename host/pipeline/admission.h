// What the host decides about a request before any plugin sees it, the
// same for every protocol: who the client is (trusted forwarding headers,
// --forwarded-allow-ips / --forwarded-hops), its request id (X-Request-ID,
// --request-id) and whether it is over its rate (--rate-limit).
//
// Configured once before the loops start (and again at reload, between
// requests of no loop: the state is swapped under the main thread's
// generation switch); read by every loop without a lock. The rate
// limiter's table is the only shared state a request touches, and only
// with --rate-limit (limits/rate_limiter.h).
#pragma once

#include <memory>
#include <string>

#include "exchange/exchange.h"
#include "http/error_code.h"
#include "http/forwarded.h"
#include "limits/rate_limiter.h"

namespace pounce {
struct Config;
namespace http {
struct RequestHead;
}  // namespace http

namespace pipeline {

class Admission {
 public:
  // Builds the process's admission state from `config` (main thread,
  // before the loops start). false with *error when a setting is invalid.
  static bool configure(const Config& config, std::string* error);

  // Decides for one request on `ex` (its loop's thread): resets and sets
  // the exchange's client and request id, and returns RateLimited (with
  // the exchange's retry_after set) when the client is over its rate.
  static http::ErrorCode admit(exchange::Exchange& ex,
                               const http::RequestHead& head);

 private:
  Admission() = default;
  bool request_id_ = true;
  http::AddressSet trusted_;
  unsigned hops_ = 1;
  std::unique_ptr<RateLimiter> limiter_;
};

// 32 lower-case hex digits from a per-thread generator seeded from the
// kernel: unique enough to join log lines, never a secret.
void generate_request_id(char out[32]);

}  // namespace pipeline
}  // namespace pounce
