// Per-connection budgets for the HTTP/2 frames that cost the server work
// but carry no request (issue 13 §3): the peer's RST_STREAM (rapid reset,
// CVE-2023-44487), SETTINGS and PING (each one we must answer), DATA frames
// with no payload and no END_STREAM, and PRIORITY frames. A legitimate
// client sends a handful of each; a flood of any ends the connection with
// GOAWAY ENHANCE_YOUR_CALM (h2/session.cpp).
//
// Each kind is a token bucket: `burst` frames at once, refilled at
// `per_second`. Tokens are counted in thousandths so that the refill needs
// no floating point; the clock is the loop's millisecond time (uv_now), so
// a frame costs two compares and a subtraction.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pounce::h2 {

enum class FrameKind : uint8_t {
  Reset,      // RST_STREAM from the peer
  Settings,   // SETTINGS without ACK
  Ping,       // PING without ACK
  EmptyData,  // DATA with no payload and no END_STREAM
  Priority,   // PRIORITY
  Count,
};

struct FrameLimit {
  const char* name;  // as the log line says it
  uint32_t burst;
  uint32_t per_second;
};

// The limits, by FrameKind (docs/http2.md, "Defences"). Generous for
// browsers (which cancel streams on navigation, send a few PRIORITY frames
// and one SETTINGS) and gRPC-style keep-alive pings; nghttp2's own reset
// limit (1,000 then 33/s, GOAWAY INTERNAL_ERROR) stays behind ours.
inline constexpr FrameLimit kFrameLimits[] = {
    {"RST_STREAM", 200, 50}, {"SETTINGS", 32, 4},   {"PING", 32, 4},
    {"empty DATA", 32, 4},   {"PRIORITY", 200, 50},
};
static_assert(sizeof kFrameLimits / sizeof kFrameLimits[0] ==
              static_cast<size_t>(FrameKind::Count));

inline const FrameLimit& frame_limit(FrameKind k) {
  return kFrameLimits[static_cast<size_t>(k)];
}

class FrameBudget {
 public:
  // Every bucket starts full at `now_ms`.
  explicit FrameBudget(uint64_t now_ms = 0) { reset(now_ms); }

  void reset(uint64_t now_ms) {
    for (size_t i = 0; i < kKinds; ++i) {
      milli_[i] = uint64_t{kFrameLimits[i].burst} * 1000;
      last_ms_[i] = now_ms;
    }
  }

  // One frame of kind `k` arrived at `now_ms`: false when over its budget.
  bool take(FrameKind k, uint64_t now_ms) {
    const size_t i = static_cast<size_t>(k);
    const FrameLimit& lim = kFrameLimits[i];
    const uint64_t cap = uint64_t{lim.burst} * 1000;
    if (now_ms > last_ms_[i]) {
      // per_second tokens a second = per_second thousandths a millisecond.
      const uint64_t refill = (now_ms - last_ms_[i]) * lim.per_second;
      milli_[i] = cap - milli_[i] < refill ? cap : milli_[i] + refill;
      last_ms_[i] = now_ms;
    }
    if (milli_[i] < 1000) return false;
    milli_[i] -= 1000;
    return true;
  }

 private:
  static constexpr size_t kKinds = static_cast<size_t>(FrameKind::Count);
  uint64_t milli_[kKinds];
  uint64_t last_ms_[kKinds];
};

}  // namespace pounce::h2
