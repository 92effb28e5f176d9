// What one run measured (a Sample), and the per-server, per-workload
// statistics over the rounds (a Group), including the pounce/peer ratios.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pounce::bench {

struct Sample {
  std::string workload;
  std::string server;
  unsigned round = 0;  // 1-based
  unsigned order = 0;  // position within the round, 1-based
  double elapsed_s = 0;
  uint64_t completed = 0;  // responses or events, right or wrong
  uint64_t good = 0;       // 2xx with the expected body
  // Good answers per second: a fast 404 or a wrong body never counts.
  double per_second = 0;
  double answered_per_second = 0;  // every answer
  double p50_us = 0, p95_us = 0, p99_us = 0, p999_us = 0;
  double max_us = 0, mean_us = 0;
  // Values in the latency histogram: p99.9 of fewer than 10,000 rests on
  // fewer than 10 values above it.
  uint64_t latency_samples = 0;
  uint64_t non_2xx = 0;
  uint64_t wrong_body = 0;  // 2xx with a body that is not the expected one
  uint64_t connect_errors = 0, read_errors = 0, write_errors = 0;
  uint64_t protocol_errors = 0;
  double cpu_us_per_req = -1;  // < 0: unknown
  // The idle workload: the server's RSS growth per idle connection, in
  // bytes (< 0: not an idle sample), and how it was read.
  double idle_bytes_per_conn = -1;
  uint64_t idle_rss_before_kib = 0, idle_rss_after_kib = 0;
  // The application protocol the load spoke: "http/1.1", "h2c", "h2".
  std::string protocol = "http/1.1";
  uint64_t peak_rss_kib = 0;
  uint64_t unsent = 0;     // open loop backlog at the end
  uint64_t abandoned = 0;  // open loop: recorded up to when given up on
  // Mean bytes of one complete response (head + body; WebSocket: payload).
  double response_bytes = 0;
  bool all_connected = true;
  double load_cpu_percent = 0;  // the busiest load thread, % of one core
  // --tls: handshakes in the window (resumed ones among them), and what
  // the connections agreed on (TlsFacts; empty when cleartext).
  uint64_t tls_handshakes = 0;
  uint64_t tls_resumed = 0;
  std::string tls_version, tls_cipher, tls_group, tls_peer_key;
  std::string tls_peer_cert_sha256;
  std::string tls_error;  // the first failed handshake's reason

  uint64_t socket_errors() const {
    return connect_errors + read_errors + write_errors + protocol_errors;
  }
  // Answers that a ratio must not count.
  uint64_t wrong_answers() const { return non_2xx + wrong_body; }
  uint64_t errors() const { return socket_errors() + wrong_answers(); }
};

// Below this many latency values a p99.9 is flagged (fewer than ten values
// lie above it).
constexpr uint64_t kP999MinSamples = 10'000;

// min / median / p95 / max / stddev of one metric over the rounds.
struct Spread {
  size_t n = 0;
  double min = 0, median = 0, p95 = 0, max = 0, mean = 0, stddev = 0;
};
Spread spread_of(std::vector<double> values);

// The metrics a Group summarizes, in table order.
extern const char* const kMetricNames[8];
double metric_of(const Sample& s, const std::string& name);

struct Group {
  std::string workload;
  std::string server;
  std::map<std::string, Spread> metrics;
  uint64_t errors = 0;           // over all rounds
  uint64_t socket_errors = 0;    // part of errors
  uint64_t non_2xx = 0;          // part of errors
  uint64_t wrong_body = 0;       // part of errors
  uint64_t latency_samples = 0;  // the fewest of any round
  double response_bytes = 0;     // mean over the rounds
  size_t samples = 0;
  bool insufficient() const { return samples < 2; }
};

// One group per (workload, server), in the order first seen.
std::vector<Group> group_samples(const std::vector<Sample>& samples);
const Group* find_group(const std::vector<Group>& groups,
                        const std::string& workload, const std::string& server);

// pounce/peer, paired by round (both ran minutes apart at most, under the
// same drift of this shared machine), then the median over the rounds.
// Ratios use good answers only (Sample::per_second). When either side gave
// a wrong answer (non-2xx, wrong body) in any round, the ratio is still
// shown but does not count: `counts` is false and `why_not` names who.
struct Ratio {
  std::string workload;
  std::string peer;
  Spread req_per_s;    // > 1: pounce serves more
  Spread cpu_per_req;  // < 1: pounce spends less CPU per request
  bool counts = true;
  std::string why_not;  // e.g. "nginx: 1,234 non-2xx"
};
std::vector<Ratio> pounce_peer_ratios(const std::vector<Sample>& samples);

}  // namespace pounce::bench
