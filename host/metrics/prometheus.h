// The Prometheus text exposition format, version 0.0.4: what GET /metrics
// answers (Content-Type: text/plain; version=0.0.4; charset=utf-8).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"

namespace pounce::metrics {

inline constexpr std::string_view kContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Appends one metric family at a time to a text buffer.
class TextWriter {
 public:
  // "# HELP name help" and "# TYPE name type".
  void family(std::string_view name, std::string_view help, Type type);
  // One sample: name{label="value",...} value. `extra_name`/`extra_value`
  // add one more label after the others (a histogram's "le").
  void sample(std::string_view name, const std::vector<std::string>& names,
              const std::vector<std::string>& values, double value,
              std::string_view extra_name = {},
              std::string_view extra_value = {});
  void sample(std::string_view name, const std::vector<std::string>& names,
              const std::vector<std::string>& values, uint64_t value,
              std::string_view extra_name = {},
              std::string_view extra_value = {});
  // A whole family: its header and every series (histograms as _bucket
  // with cumulative counts, _sum and _count). `leading_names`/`leading_
  // values` are labels put before the family's own (the plugin's mount).
  // With `header` false, only the series (a family whose series come from
  // several Family objects, e.g. one per mount, has one header).
  void write(const Family& family,
             const std::vector<std::string>& leading_names = {},
             const std::vector<std::string>& leading_values = {},
             bool header = true);

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void labels(const std::vector<std::string>& names,
              const std::vector<std::string>& values,
              std::string_view extra_name, std::string_view extra_value);
  std::string out_;
};

// A number as the format writes it: integers without a fraction, +Inf,
// -Inf and NaN spelled as Prometheus reads them.
std::string format_value(double value);

}  // namespace pounce::metrics
