// The intended send times of an open-loop run: request k of a thread is due
// at start + k / rate, whether or not the server kept up. Latency is then
// measured from that time (wrk2's correction for coordinated omission), and
// the backlog is just the distance between two indices.
#pragma once

#include <cstdint>

namespace pounce::bench {

struct RateSchedule {
  uint64_t start_ns = 0;
  double interval_ns = 0;  // 1e9 / rate
  uint64_t next = 0;       // index of the next request to send

  uint64_t intended(uint64_t k) const {
    return start_ns +
           static_cast<uint64_t>(static_cast<double>(k) * interval_ns);
  }
  // How many requests are due at `now` (indices [0, due)).
  uint64_t due(uint64_t now) const {
    if (now < start_ns || interval_ns <= 0) return 0;
    return static_cast<uint64_t>(static_cast<double>(now - start_ns) /
                                 interval_ns) +
           1;
  }
  uint64_t backlog(uint64_t now) const {
    uint64_t d = due(now);
    return d > next ? d - next : 0;
  }
};

}  // namespace pounce::bench
