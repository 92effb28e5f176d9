// The Date header and the access-log timestamp, formatted at most once a
// second per loop (formatting per request would cost more than parsing).
#pragma once

#include <cstdint>
#include <string_view>

namespace pounce::http {

class DateCache {
 public:
  // `now_ms` is a monotonic millisecond clock (the loop's uv_now). The text
  // is refreshed from the wall clock when a second boundary has passed.
  void update(uint64_t now_ms) {
    if (now_ms >= next_refresh_ms_) refresh(now_ms);
  }

  // "Date: Fri, 27 Nov 2026 18:36:07 GMT\r\n"
  std::string_view date_header() const { return {date_header_, 37}; }
  // "27/Nov/2026:18:36:07 +0000", for the Common Log Format.
  std::string_view clf_time() const { return {clf_, 26}; }

 private:
  void refresh(uint64_t now_ms);

  uint64_t next_refresh_ms_ = 0;
  char date_header_[40] = {};
  char clf_[32] = {};
};

}  // namespace pounce::http
