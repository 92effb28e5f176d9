// Per-client request rate limit (--rate-limit N, --rate-limit-burst B,
// --rate-limit-table E): a token bucket per client address, refilled at N
// tokens a second up to B; a request takes one token or is refused with
// the seconds until the next one (the 429's Retry-After).
//
// One table for the whole process, so that a client gets N per second
// whichever worker its connections land on (SO_REUSEPORT spreads them),
// as nginx's limit_req zone does. It is split into shards by address hash,
// each under its own mutex, so that workers rarely meet on one lock; the
// limiter is consulted only when --rate-limit is set, and never allocates
// after construction.
//
// The table is bounded: E entries in all, least recently seen evicted
// first. A flood of addresses therefore costs memory E × ~64 bytes at
// most; an evicted client comes back with a full bucket (the bound wins
// over exactness, as in every fixed-size limiter).
//
// Clients are keyed by their IPv4 address, or by the /64 prefix of their
// IPv6 address: one IPv6 host can use a whole /64, so keying by the full
// address would let it rotate past the limit and through the table.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace pounce {

class RateLimiter {
 public:
  struct Decision {
    bool allowed = true;
    uint32_t retry_after_s = 0;  // when refused: whole seconds, at least 1
  };

  // rate: tokens per second (> 0); burst: the bucket's size (>= 1);
  // table: entries in all (>= shards).
  RateLimiter(double rate, double burst, size_t table, size_t shards = 16);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  // One request from `client` at `now_ns` (a monotonic clock). Clients
  // without an IP address (Unix sockets) are never limited.
  Decision take(const sockaddr* client, uint64_t now_ns);

  size_t entries() const;   // clients in the table now
  size_t capacity() const;  // the bound

 private:
  struct Shard;
  double rate_;
  double burst_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace pounce
