#include "pipeline/admission.h"

#include <sys/random.h>
#include <uv.h>

#include <cstring>

#include "cli/config.h"
#include "http/ascii.h"
#include "http/head_parser.h"

namespace pounce::pipeline {

namespace {

// Made by configure() before any loop thread starts (thread creation
// orders it before their reads) and never changed after.
Admission* g_admission = nullptr;

// xoshiro256** per thread, seeded from getrandom(): request ids need to be
// unique, not secret, and a syscall per request would cost more than the
// request.
struct IdGenerator {
  uint64_t s[4];
  IdGenerator() {
    if (getrandom(s, sizeof s, 0) != static_cast<ssize_t>(sizeof s)) {
      // No entropy (very early boot): the time and the thread still make
      // the ids of this process distinct.
      s[0] = uv_hrtime();
      s[1] = reinterpret_cast<uintptr_t>(this);
      s[2] = 0x9e3779b97f4a7c15ull;
      s[3] = 0xbf58476d1ce4e5b9ull;
    }
  }
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t next() {
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
  }
};

// An id a trusted proxy sent is kept when it is something a log line and a
// response header can carry as it is.
bool acceptable_id(std::string_view id) {
  if (id.empty() || id.size() > exchange::Exchange::kMaxRequestId) {
    return false;
  }
  for (char c : id) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

constexpr size_t kMaxLines = 16;  // header lines of one name we look at

struct Lines {
  std::string_view values[kMaxLines];
  size_t count = 0;
  bool overflow = false;
  void add(std::string_view v) {
    if (count < kMaxLines) {
      values[count++] = v;
    } else {
      overflow = true;
    }
  }
};

}  // namespace

// Two hex digits per byte value: 16 lookups make an id.
struct HexPairs {
  char pairs[256][2];
  constexpr HexPairs() : pairs() {
    const char* digits = "0123456789abcdef";
    for (int i = 0; i < 256; ++i) {
      pairs[i][0] = digits[i >> 4];
      pairs[i][1] = digits[i & 0xf];
    }
  }
};
constexpr HexPairs kHexPairs;

void generate_request_id(char out[32]) {
  thread_local IdGenerator generator;
  for (int half = 0; half < 2; ++half) {
    uint64_t v = generator.next();
    for (int i = 0; i < 8; ++i) {
      std::memcpy(out + half * 16 + i * 2, kHexPairs.pairs[v & 0xff], 2);
      v >>= 8;
    }
  }
}

bool Admission::configure(const Config& config, std::string* error) {
  auto a = std::unique_ptr<Admission>(new Admission());
  a->request_id_ = config.request_id;
  a->hops_ = config.forwarded_hops ? config.forwarded_hops : 1;
  if (!a->trusted_.parse(config.forwarded_allow_ips, error)) {
    *error = "--forwarded-allow-ips: " + *error;
    return false;
  }
  if (config.rate_limit > 0) {
    const double rate = static_cast<double>(config.rate_limit);
    const double burst = config.rate_limit_burst
                             ? static_cast<double>(config.rate_limit_burst)
                             : 2 * rate;
    a->limiter_ = std::make_unique<RateLimiter>(
        rate, burst, static_cast<size_t>(config.rate_limit_table));
  }
  delete g_admission;  // startup only: no loop reads it yet
  g_admission = a.release();
  return true;
}

http::ErrorCode Admission::admit(exchange::Exchange& ex,
                                 const http::RequestHead& head) {
  ex.reset_request_facts();
  const Admission* a = g_admission;
  if (!a) return http::ErrorCode::None;

  bool id_taken = false;
  if (!a->trusted_.empty()) {
    const PeerAddress& peer = ex.peer();
    if (peer.len != 0 &&
        a->trusted_.contains(reinterpret_cast<const sockaddr*>(&peer.addr))) {
      Lines forwarded, xff, xfp;
      std::string_view request_id;
      for (size_t i = 0; i < head.header_count; ++i) {
        const std::string_view name(head.headers[i].name.data,
                                    head.headers[i].name.len);
        const std::string_view value(head.headers[i].value.data,
                                     head.headers[i].value.len);
        if (name.size() < 9) continue;
        if (http::iequals(name, "forwarded")) {
          forwarded.add(value);
        } else if (http::iequals(name, "x-forwarded-for")) {
          xff.add(value);
        } else if (http::iequals(name, "x-forwarded-proto")) {
          xfp.add(value);
        } else if (http::iequals(name, "x-request-id")) {
          request_id = value;
        }
      }
      if (!forwarded.overflow && !xff.overflow && !xfp.overflow) {
        http::ForwardedHeaders h{
            std::span<const std::string_view>(forwarded.values,
                                              forwarded.count),
            std::span<const std::string_view>(xff.values, xff.count),
            std::span<const std::string_view>(xfp.values, xfp.count)};
        http::ForwardedResult r = http::resolve_forwarded(h, a->hops_);
        if (r.outcome == http::ForwardedOutcome::Used) {
          PeerAddress client;
          client.addr = r.client;
          client.len = r.client.ss_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                      : sizeof(sockaddr_in);
          ex.set_client(client);
        }
        if (r.proto_given) ex.set_forwarded_proto(r.https);
      }
      if (a->request_id_ && acceptable_id(request_id)) {
        ex.set_request_id(request_id);
        id_taken = true;
      }
    }
  }
  if (a->request_id_ && !id_taken) generate_request_id(ex.request_id_room(32));
  if (a->limiter_) {
    const PeerAddress& client = ex.client();
    if (client.len != 0) {
      RateLimiter::Decision d = a->limiter_->take(
          reinterpret_cast<const sockaddr*>(&client.addr), uv_hrtime());
      if (!d.allowed) {
        ex.set_retry_after(d.retry_after_s);
        return http::ErrorCode::RateLimited;
      }
    }
  }
  return http::ErrorCode::None;
}

}  // namespace pounce::pipeline
