#include "static/http_date.h"

#include "http/ascii.h"

namespace pounce::static_files {
namespace {

constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed",
                                 "Thu", "Fri", "Sat"};
constexpr const char* kLongDays[] = {"Sunday",    "Monday",   "Tuesday",
                                     "Wednesday", "Thursday", "Friday",
                                     "Saturday"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil, which is exact for every year).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kLen[] = {31, 28, 31, 30, 31, 30,
                                      31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : kLen[m - 1];
}

// A cursor over the text being parsed; every step checks what it reads.
struct Reader {
  std::string_view s;
  size_t i = 0;
  bool ok = true;

  bool lit(std::string_view want) {
    if (!ok || s.substr(i, want.size()) != want) return ok = false;
    i += want.size();
    return true;
  }
  // Exactly `n` digits.
  unsigned digits(size_t n) {
    unsigned v = 0;
    for (size_t k = 0; k < n; ++k) {
      if (!ok || i >= s.size() || s[i] < '0' || s[i] > '9') {
        ok = false;
        return 0;
      }
      v = v * 10 + static_cast<unsigned>(s[i++] - '0');
    }
    return v;
  }
  // One of `names` (case-sensitive, as the grammar is), returned as its
  // index; -1 (and not ok) otherwise.
  template <size_t N>
  int one_of(const char* const (&names)[N]) {
    for (size_t k = 0; ok && k < N; ++k) {
      std::string_view n(names[k]);
      if (s.substr(i, n.size()) == n) {
        i += n.size();
        return static_cast<int>(k);
      }
    }
    ok = false;
    return -1;
  }
  bool done() const { return ok && i == s.size(); }
};

// HH:MM:SS into *sec of the day.
bool time_of_day(Reader& r, int64_t* sec) {
  const unsigned h = r.digits(2);
  r.lit(":");
  const unsigned m = r.digits(2);
  r.lit(":");
  const unsigned s = r.digits(2);
  // A leap second (60) is allowed by the grammar and folded onto :59.
  if (!r.ok || h > 23 || m > 59 || s > 60) return false;
  *sec = h * 3600 + m * 60 + (s == 60 ? 59 : s);
  return true;
}

std::optional<int64_t> assemble(int64_t year, int month, unsigned day,
                                int64_t sec, int weekday) {
  if (month < 0 || day < 1 ||
      day > days_in_month(year, static_cast<unsigned>(month + 1))) {
    return std::nullopt;
  }
  const int64_t days =
      days_from_civil(year, static_cast<unsigned>(month + 1), day);
  // The weekday must be the date's (1970-01-01 was a Thursday).
  if (weekday >= 0 && ((days % 7 + 11) % 7) != weekday) return std::nullopt;
  return days * 86400 + sec;
}

}  // namespace

void format_http_date(int64_t t, char* out) {
  int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
  int64_t sec = t - days * 86400;
  // civil_from_days.
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  if (y < 0) y = 0;
  if (y > 9999) y = 9999;
  const int64_t wd = (days % 7 + 11) % 7;
  auto two = [](char* p, unsigned v) {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
  };
  const char* day = kDays[wd];
  const char* mon = kMonths[m - 1];
  out[0] = day[0];
  out[1] = day[1];
  out[2] = day[2];
  out[3] = ',';
  out[4] = ' ';
  two(out + 5, d);
  out[7] = ' ';
  out[8] = mon[0];
  out[9] = mon[1];
  out[10] = mon[2];
  out[11] = ' ';
  two(out + 12, static_cast<unsigned>(y / 100));
  two(out + 14, static_cast<unsigned>(y % 100));
  out[16] = ' ';
  two(out + 17, static_cast<unsigned>(sec / 3600));
  out[19] = ':';
  two(out + 20, static_cast<unsigned>(sec / 60 % 60));
  out[22] = ':';
  two(out + 23, static_cast<unsigned>(sec % 60));
  out[25] = ' ';
  out[26] = 'G';
  out[27] = 'M';
  out[28] = 'T';
}

std::optional<int64_t> parse_http_date(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.size() < 4) return std::nullopt;
  int64_t sec = 0;
  if (text[3] == ',') {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT".
    Reader r{text};
    const int wd = r.one_of(kDays);
    r.lit(", ");
    const unsigned day = r.digits(2);
    r.lit(" ");
    const int mon = r.one_of(kMonths);
    r.lit(" ");
    const unsigned year = r.digits(4);
    r.lit(" ");
    if (!time_of_day(r, &sec)) return std::nullopt;
    r.lit(" GMT");
    if (!r.done()) return std::nullopt;
    return assemble(year, mon, day, sec, wd);
  }
  if (text[3] == ' ') {
    // asctime: "Sun Nov  6 08:49:37 1994" (a one-digit day after a space).
    Reader r{text};
    const int wd = r.one_of(kDays);
    r.lit(" ");
    const int mon = r.one_of(kMonths);
    r.lit(" ");
    unsigned day = 0;
    if (r.ok && r.i < text.size() && text[r.i] == ' ') {
      ++r.i;
      day = r.digits(1);
    } else {
      day = r.digits(2);
    }
    r.lit(" ");
    if (!time_of_day(r, &sec)) return std::nullopt;
    r.lit(" ");
    const unsigned year = r.digits(4);
    if (!r.done()) return std::nullopt;
    return assemble(year, mon, day, sec, wd);
  }
  // RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT".
  Reader r{text};
  const int wd = r.one_of(kLongDays);
  r.lit(", ");
  const unsigned day = r.digits(2);
  r.lit("-");
  const int mon = r.one_of(kMonths);
  r.lit("-");
  const unsigned yy = r.digits(2);
  r.lit(" ");
  if (!time_of_day(r, &sec)) return std::nullopt;
  r.lit(" GMT");
  if (!r.done()) return std::nullopt;
  // Within 50 years of 2000: 00-49 are 20xx, 50-99 are 19xx.
  const int64_t year = yy < 50 ? 2000 + yy : 1900 + yy;
  return assemble(year, mon, day, sec, wd);
}

}  // namespace pounce::static_files
