#include "limits/rate_limiter.h"

#include <netinet/in.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace pounce {
namespace {

constexpr int32_t kNone = -1;

struct Key {
  uint8_t bytes[16];
  bool operator==(const Key& other) const {
    return std::memcmp(bytes, other.bytes, sizeof bytes) == 0;
  }
};

// IPv4 (plain or mapped) as ::ffff:a.b.c.d; IPv6 as its /64 prefix.
bool key_of(const sockaddr* address, Key* key) {
  std::memset(key->bytes, 0, sizeof key->bytes);
  if (address->sa_family == AF_INET) {
    key->bytes[10] = 0xff;
    key->bytes[11] = 0xff;
    std::memcpy(key->bytes + 12,
                &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, 4);
    return true;
  }
  if (address->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(address);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(key->bytes, in6->sin6_addr.s6_addr, 16);
    } else {
      std::memcpy(key->bytes, in6->sin6_addr.s6_addr, 8);
    }
    return true;
  }
  return false;
}

// FNV-1a, then a finalizer so that neighbouring addresses spread over both
// the shards (high bits) and the buckets (low bits).
uint64_t hash_of(const Key& key) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : key.bytes) {
    h ^= b;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

size_t round_up_pow2(size_t n) {
  size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

// One shard: a fixed pool of entries, a chained hash index over them, and
// an LRU list through them (most recent at the head).
struct RateLimiter::Shard {
  struct Entry {
    Key key;
    double tokens;
    uint64_t last_ns;
    int32_t chain;  // next entry in the same bucket
    int32_t newer;  // LRU neighbours
    int32_t older;
  };

  explicit Shard(size_t capacity)
      : entries(capacity),
        buckets(round_up_pow2(capacity * 2), kNone),
        mask(buckets.size() - 1) {}

  // The mutex protects everything below: the entries, the index and the
  // LRU list of this shard. Workers take it for one lookup and update.
  std::mutex mutex;
  std::vector<Entry> entries;
  std::vector<int32_t> buckets;
  size_t mask;
  size_t used = 0;
  int32_t newest = kNone;
  int32_t oldest = kNone;

  void unlink_lru(int32_t i) {
    Entry& e = entries[static_cast<size_t>(i)];
    if (e.newer != kNone) {
      entries[static_cast<size_t>(e.newer)].older = e.older;
    } else {
      newest = e.older;
    }
    if (e.older != kNone) {
      entries[static_cast<size_t>(e.older)].newer = e.newer;
    } else {
      oldest = e.newer;
    }
  }

  void push_newest(int32_t i) {
    Entry& e = entries[static_cast<size_t>(i)];
    e.newer = kNone;
    e.older = newest;
    if (newest != kNone) entries[static_cast<size_t>(newest)].newer = i;
    newest = i;
    if (oldest == kNone) oldest = i;
  }

  void unlink_bucket(int32_t i, uint64_t hash) {
    int32_t* link = &buckets[hash & mask];
    while (*link != i) link = &entries[static_cast<size_t>(*link)].chain;
    *link = entries[static_cast<size_t>(i)].chain;
  }

  // The entry for `key`, made (or recycled from the oldest) when absent.
  Entry& find_or_add(const Key& key, uint64_t hash, double burst,
                     uint64_t now_ns) {
    for (int32_t i = buckets[hash & mask]; i != kNone;
         i = entries[static_cast<size_t>(i)].chain) {
      if (entries[static_cast<size_t>(i)].key == key) {
        unlink_lru(i);
        push_newest(i);
        return entries[static_cast<size_t>(i)];
      }
    }
    int32_t i;
    if (used < entries.size()) {
      i = static_cast<int32_t>(used++);
    } else {
      i = oldest;
      unlink_lru(i);
      unlink_bucket(i, hash_of(entries[static_cast<size_t>(i)].key));
    }
    Entry& e = entries[static_cast<size_t>(i)];
    e.key = key;
    e.tokens = burst;
    e.last_ns = now_ns;
    e.chain = buckets[hash & mask];
    buckets[hash & mask] = i;
    push_newest(i);
    return e;
  }
};

RateLimiter::RateLimiter(double rate, double burst, size_t table, size_t shards)
    : rate_(rate > 0 ? rate : 1), burst_(burst >= 1 ? burst : 1) {
  if (shards == 0) shards = 1;
  if (table < shards) table = shards;
  const size_t per_shard = table / shards;
  shards_.reserve(shards);
  for (size_t s = 0; s < shards; ++s) {
    shards_.push_back(std::make_unique<Shard>(per_shard));
  }
}

RateLimiter::~RateLimiter() = default;

RateLimiter::Decision RateLimiter::take(const sockaddr* client,
                                        uint64_t now_ns) {
  Key key;
  if (!key_of(client, &key)) return {};
  const uint64_t hash = hash_of(key);
  Shard& shard = *shards_[(hash >> 40) % shards_.size()];
  std::lock_guard<std::mutex> lock(shard.mutex);
  Shard::Entry& e = shard.find_or_add(key, hash, burst_, now_ns);
  if (now_ns > e.last_ns) {
    const double elapsed = static_cast<double>(now_ns - e.last_ns) / 1e9;
    e.tokens = std::min(burst_, e.tokens + elapsed * rate_);
    e.last_ns = now_ns;
  }
  if (e.tokens >= 1.0) {
    e.tokens -= 1.0;
    return {};
  }
  Decision refused;
  refused.allowed = false;
  const double wait = (1.0 - e.tokens) / rate_;
  refused.retry_after_s = static_cast<uint32_t>(std::ceil(wait));
  if (refused.retry_after_s == 0) refused.retry_after_s = 1;
  return refused;
}

size_t RateLimiter::entries() const {
  size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard->mutex);
    n += shard->used;
  }
  return n;
}

size_t RateLimiter::capacity() const {
  size_t n = 0;
  for (const auto& shard : shards_) n += shard->entries.size();
  return n;
}

}  // namespace pounce
