// The host's own request metrics (issue 14 §2), counted per loop: each loop
// owns a LoopCounters and is its only writer (metrics::Cell), and a scrape
// sums every loop's. Counting a request touches a few cells of its own
// loop: no shared atomic, no lock, no allocation.
//
// Mounts are labels: a mount prefix gets a small index the first time a
// generation configures it (MountTable, under a mutex, at startup and
// reload), and keeps it for the process's life, so that its counters
// outlive reloads. Past kMaxMounts distinct prefixes, further ones share
// the "other" index.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"
#include "metrics/prometheus.h"
#include "tls/session.h"

namespace pounce::metrics {

inline constexpr size_t kMaxMounts = 64;
// Index 0: no mount (the host answered before routing: errors, OPTIONS *).
inline constexpr uint16_t kNoMount = 0;
inline constexpr uint16_t kOtherMount = kMaxMounts + 1;
inline constexpr size_t kMountSlots = kMaxMounts + 2;

class MountTable {
 public:
  static MountTable& instance();
  // The index of `prefix` (1..kMaxMounts), or kOtherMount when full. Main
  // thread (generation build), or any thread: it locks.
  uint16_t intern(std::string_view prefix);
  // The label value of an index ("" for kNoMount, "other"). Any thread,
  // without a lock: a name never changes once its index is published.
  std::string_view label(uint16_t index) const;

 private:
  // Serializes intern() (startup and reload, main thread).
  std::mutex mutex_;
  std::string names_[kMaxMounts];  // names_[i] is index i + 1
  // How many names are published: intern() writes names_[count] before it
  // increments this with release order; readers load it with acquire.
  std::atomic<size_t> count_{0};
};

enum class Protocol : uint8_t { Http1 = 0, Http2 = 1 };
inline constexpr size_t kProtocols = 2;
// GET, HEAD, POST, other.
inline constexpr size_t kMethodClasses = 4;
// 1xx .. 5xx, and anything else.
inline constexpr size_t kStatusClasses = 6;

size_t method_class(std::string_view method);
inline size_t status_class(int status) {
  return status >= 100 && status < 600 ? static_cast<size_t>(status / 100 - 1)
                                       : 5;
}

struct LoopCounters {
  LoopCounters();
  // requests[protocol][method class][status class][mount]
  Cell requests[kProtocols][kMethodClasses][kStatusClasses][kMountSlots];
  // Durations per mount: Buckets::durations() bounds, +Inf, sum, count.
  static constexpr size_t kDurationBuckets = 16;
  Cell duration_buckets[kMountSlots][kDurationBuckets + 1];
  Cell duration_sum_ns[kMountSlots];
  Cell duration_count[kMountSlots];
  Cell body_bytes_out;
  Cell bytes_in;
  // Compression by coding (0 gzip, 1 zstd): bytes before and after.
  Cell compressed_in[2];
  Cell compressed_out[2];
  // Host error responses by X-Pounce-Error code (http::ErrorCode values).
  static constexpr size_t kErrorCodes = 64;
  Cell rejected[kErrorCodes];
  // TLS handshakes: full, resumed, and failed by reason
  // (tls::HandshakeFailure).
  Cell tls_full;
  Cell tls_resumed;
  Cell tls_failed[tls::kHandshakeFailures];
  // HTTP/2: streams the clients opened, GOAWAY frames sent.
  Cell h2_streams;
  Cell h2_goaways;
};

// One request's count, on its loop's thread. `duration_ns` 0: not timed.
void count_request(LoopCounters& c, Protocol protocol, std::string_view method,
                   int status, uint16_t mount, uint64_t body_bytes,
                   uint64_t duration_ns);

// Renders the request metrics summed over `loops` (any thread).
// `error_name(code)` gives an X-Pounce-Error code's name, or null for an
// unused value.
void write_request_metrics(TextWriter& w,
                           const std::vector<const LoopCounters*>& loops,
                           const char* (*error_name)(size_t code));

}  // namespace pounce::metrics
