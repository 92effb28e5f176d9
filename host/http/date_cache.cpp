#include "http/date_cache.h"

#include <cstdio>
#include <ctime>

namespace pounce::http {

namespace {
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                 "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
}  // namespace

void DateCache::refresh(uint64_t now_ms) {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t;
  gmtime_r(&ts.tv_sec, &t);
  // IMF-fixdate (RFC 9110 §5.6.7).
  snprintf(date_header_, sizeof date_header_,
           "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", kDays[t.tm_wday],
           t.tm_mday, kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min,
           t.tm_sec);
  snprintf(clf_, sizeof clf_, "%02d/%s/%04d:%02d:%02d:%02d +0000", t.tm_mday,
           kMonths[t.tm_mon], t.tm_year + 1900, t.tm_hour, t.tm_min, t.tm_sec);
  // Refresh again at the next wall-clock second.
  uint64_t ms_into_second = static_cast<uint64_t>(ts.tv_nsec / 1000000);
  next_refresh_ms_ = now_ms + (1000 - ms_into_second);
}

}  // namespace pounce::http
