#include "metrics/host_metrics.h"

namespace pounce::metrics {

namespace {

// Buckets::durations() in nanoseconds, for the hot path's integer compare.
constexpr uint64_t kDurationBoundsNs[LoopCounters::kDurationBuckets] = {
    100000,     250000,     500000,     1000000,    2500000,   5000000,
    10000000,   25000000,   50000000,   100000000,  250000000, 500000000,
    1000000000, 2500000000, 5000000000, 10000000000};

const char* const kMethodNames[kMethodClasses] = {"GET", "HEAD", "POST",
                                                  "other"};
const char* const kStatusNames[kStatusClasses] = {"1xx", "2xx", "3xx",
                                                  "4xx", "5xx", "other"};
const char* const kProtocolNames[kProtocols] = {"http/1.1", "h2"};

}  // namespace

MountTable& MountTable::instance() {
  static MountTable* table = new MountTable();  // read by scrapes at exit
  return *table;
}

uint16_t MountTable::intern(std::string_view prefix) {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t n = count_.load(std::memory_order_relaxed);
  for (size_t i = 0; i < n; ++i) {
    if (names_[i] == prefix) return static_cast<uint16_t>(i + 1);
  }
  if (n >= kMaxMounts) return kOtherMount;
  names_[n] = prefix;
  count_.store(n + 1, std::memory_order_release);
  return static_cast<uint16_t>(n + 1);
}

std::string_view MountTable::label(uint16_t index) const {
  if (index == kNoMount) return "";
  if (index > count_.load(std::memory_order_acquire)) return "other";
  return names_[index - 1];
}

LoopCounters::LoopCounters() = default;

size_t method_class(std::string_view method) {
  if (method == "GET") return 0;
  if (method == "HEAD") return 1;
  if (method == "POST") return 2;
  return 3;
}

void count_request(LoopCounters& c, Protocol protocol, std::string_view method,
                   int status, uint16_t mount, uint64_t body_bytes,
                   uint64_t duration_ns) {
  if (mount >= kMountSlots) mount = kOtherMount;
  c.requests[static_cast<size_t>(protocol)][method_class(method)]
            [status_class(status)][mount]
                .add(1);
  c.body_bytes_out.add(body_bytes);
  if (duration_ns == 0) return;
  size_t i = 0;
  while (i < LoopCounters::kDurationBuckets &&
         duration_ns > kDurationBoundsNs[i]) {
    ++i;
  }
  c.duration_buckets[mount][i].add(1);
  c.duration_sum_ns[mount].add(duration_ns);
  c.duration_count[mount].add(1);
}

void write_request_metrics(TextWriter& w,
                           const std::vector<const LoopCounters*>& loops,
                           const char* (*error_name)(size_t code)) {
  const MountTable& mounts = MountTable::instance();
  auto sum = [&](auto cell_of) {
    uint64_t total = 0;
    for (const LoopCounters* l : loops) total += cell_of(*l).get();
    return total;
  };

  w.family("pounce_requests_total",
           "Responses by protocol, method, status class and mount.",
           Type::Counter);
  const std::vector<std::string> names = {"protocol", "method", "status",
                                          "mount"};
  for (size_t p = 0; p < kProtocols; ++p) {
    for (size_t m = 0; m < kMethodClasses; ++m) {
      for (size_t s = 0; s < kStatusClasses; ++s) {
        for (size_t mount = 0; mount < kMountSlots; ++mount) {
          const uint64_t n = sum([&](const LoopCounters& l) -> const Cell& {
            return l.requests[p][m][s][mount];
          });
          if (n == 0) continue;  // a series appears with its first count
          w.sample("pounce_requests_total", names,
                   {kProtocolNames[p], kMethodNames[m], kStatusNames[s],
                    std::string(mounts.label(static_cast<uint16_t>(mount)))},
                   n);
        }
      }
    }
  }

  w.family("pounce_request_duration_seconds",
           "Time from the request's first byte to its response, per mount.",
           Type::Histogram);
  const Buckets bounds = Buckets::durations();
  for (size_t mount = 0; mount < kMountSlots; ++mount) {
    const uint64_t count = sum([&](const LoopCounters& l) -> const Cell& {
      return l.duration_count[mount];
    });
    if (count == 0) continue;
    const std::vector<std::string> label = {
        std::string(mounts.label(static_cast<uint16_t>(mount)))};
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= LoopCounters::kDurationBuckets; ++i) {
      cumulative += sum([&](const LoopCounters& l) -> const Cell& {
        return l.duration_buckets[mount][i];
      });
      w.sample("pounce_request_duration_seconds_bucket", {"mount"}, label,
               cumulative, "le",
               i < bounds.bounds.size() ? format_value(bounds.bounds[i])
                                        : std::string("+Inf"));
    }
    const uint64_t ns = sum([&](const LoopCounters& l) -> const Cell& {
      return l.duration_sum_ns[mount];
    });
    w.sample("pounce_request_duration_seconds_sum", {"mount"}, label,
             static_cast<double>(ns) / 1e9);
    w.sample("pounce_request_duration_seconds_count", {"mount"}, label, count);
  }

  w.family("pounce_response_body_bytes_total",
           "Response body bytes sent (before transfer framing).",
           Type::Counter);
  w.sample("pounce_response_body_bytes_total", {}, {},
           sum([](const LoopCounters& l) -> const Cell& {
             return l.body_bytes_out;
           }));
  w.family("pounce_received_bytes_total", "Bytes read from clients.",
           Type::Counter);
  w.sample(
      "pounce_received_bytes_total", {}, {},
      sum([](const LoopCounters& l) -> const Cell& { return l.bytes_in; }));

  w.family("pounce_compression_input_bytes_total",
           "Bytes given to a compressor, by coding.", Type::Counter);
  const char* const codings[2] = {"gzip", "zstd"};
  for (size_t k = 0; k < 2; ++k) {
    w.sample("pounce_compression_input_bytes_total", {"coding"}, {codings[k]},
             sum([&](const LoopCounters& l) -> const Cell& {
               return l.compressed_in[k];
             }));
  }
  w.family("pounce_compression_output_bytes_total",
           "Bytes a compressor produced, by coding.", Type::Counter);
  for (size_t k = 0; k < 2; ++k) {
    w.sample("pounce_compression_output_bytes_total", {"coding"}, {codings[k]},
             sum([&](const LoopCounters& l) -> const Cell& {
               return l.compressed_out[k];
             }));
  }

  w.family("pounce_rejected_requests_total",
           "Host error responses, by X-Pounce-Error code.", Type::Counter);
  for (size_t code = 0; code < LoopCounters::kErrorCodes; ++code) {
    const char* name = error_name ? error_name(code) : nullptr;
    if (!name) continue;
    const uint64_t n = sum(
        [&](const LoopCounters& l) -> const Cell& { return l.rejected[code]; });
    if (n == 0) continue;
    w.sample("pounce_rejected_requests_total", {"code"}, {name}, n);
  }

  w.family("pounce_tls_handshakes_total",
           "TLS handshakes completed, full or resumed.", Type::Counter);
  w.sample(
      "pounce_tls_handshakes_total", {"kind"}, {"full"},
      sum([](const LoopCounters& l) -> const Cell& { return l.tls_full; }));
  w.sample(
      "pounce_tls_handshakes_total", {"kind"}, {"resumed"},
      sum([](const LoopCounters& l) -> const Cell& { return l.tls_resumed; }));
  w.family("pounce_tls_handshake_failures_total",
           "TLS handshakes that failed, by reason.", Type::Counter);
  for (size_t k = 0; k < tls::kHandshakeFailures; ++k) {
    w.sample(
        "pounce_tls_handshake_failures_total", {"reason"},
        {tls::handshake_failure_name(static_cast<tls::HandshakeFailure>(k))},
        sum([&](const LoopCounters& l) -> const Cell& {
          return l.tls_failed[k];
        }));
  }

  w.family("pounce_h2_streams_total", "HTTP/2 streams opened by clients.",
           Type::Counter);
  w.sample(
      "pounce_h2_streams_total", {}, {},
      sum([](const LoopCounters& l) -> const Cell& { return l.h2_streams; }));
  w.family("pounce_h2_goaways_sent_total", "HTTP/2 GOAWAY frames sent.",
           Type::Counter);
  w.sample(
      "pounce_h2_goaways_sent_total", {}, {},
      sum([](const LoopCounters& l) -> const Cell& { return l.h2_goaways; }));
}

}  // namespace pounce::metrics
