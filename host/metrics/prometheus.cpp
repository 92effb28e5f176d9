#include "metrics/prometheus.h"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace pounce::metrics {

namespace {

const char* type_name(Type type) {
  switch (type) {
    case Type::Counter:
      return "counter";
    case Type::Gauge:
      return "gauge";
    case Type::Histogram:
      return "histogram";
  }
  return "untyped";
}

// HELP text escapes '\' and newline; label values also escape '"'.
void escape(std::string_view in, bool quote, std::string* out) {
  for (char c : in) {
    if (c == '\\') {
      out->append("\\\\");
    } else if (c == '\n') {
      out->append("\\n");
    } else if (quote && c == '"') {
      out->append("\\\"");
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[32];
  if (value == std::floor(value) && std::fabs(value) < 9.007199254740992e15) {
    snprintf(buf, sizeof buf, "%.0f", value);
    return buf;
  }
  // The shortest text that reads back as the same double (0.0001, not
  // 0.00010000000000000000479).
  for (int precision = 1; precision <= 17; ++precision) {
    snprintf(buf, sizeof buf, "%.*g", precision, value);
    if (std::strtod(buf, nullptr) == value) break;
  }
  return buf;
}

void TextWriter::family(std::string_view name, std::string_view help,
                        Type type) {
  out_.append("# HELP ");
  out_.append(name);
  out_.push_back(' ');
  escape(help, false, &out_);
  out_.append("\n# TYPE ");
  out_.append(name);
  out_.push_back(' ');
  out_.append(type_name(type));
  out_.push_back('\n');
}

void TextWriter::labels(const std::vector<std::string>& names,
                        const std::vector<std::string>& values,
                        std::string_view extra_name,
                        std::string_view extra_value) {
  if (names.empty() && extra_name.empty()) return;
  out_.push_back('{');
  bool first = true;
  for (size_t i = 0; i < names.size() && i < values.size(); ++i) {
    if (!first) out_.push_back(',');
    first = false;
    out_.append(names[i]);
    out_.append("=\"");
    escape(values[i], true, &out_);
    out_.push_back('"');
  }
  if (!extra_name.empty()) {
    if (!first) out_.push_back(',');
    out_.append(extra_name);
    out_.append("=\"");
    escape(extra_value, true, &out_);
    out_.push_back('"');
  }
  out_.push_back('}');
}

void TextWriter::sample(std::string_view name,
                        const std::vector<std::string>& names,
                        const std::vector<std::string>& values, double value,
                        std::string_view extra_name,
                        std::string_view extra_value) {
  out_.append(name);
  labels(names, values, extra_name, extra_value);
  out_.push_back(' ');
  out_.append(format_value(value));
  out_.push_back('\n');
}

void TextWriter::sample(std::string_view name,
                        const std::vector<std::string>& names,
                        const std::vector<std::string>& values, uint64_t value,
                        std::string_view extra_name,
                        std::string_view extra_value) {
  out_.append(name);
  labels(names, values, extra_name, extra_value);
  char buf[24];
  snprintf(buf, sizeof buf, " %" PRIu64 "\n", value);
  out_.append(buf);
}

void TextWriter::write(const Family& f,
                       const std::vector<std::string>& leading_names,
                       const std::vector<std::string>& leading_values,
                       bool header) {
  if (header) family(f.name(), f.help(), f.type());
  std::vector<std::string> names = leading_names;
  names.insert(names.end(), f.label_names().begin(), f.label_names().end());
  for (const SeriesValue& s : f.collect()) {
    std::vector<std::string> values = leading_values;
    values.insert(values.end(), s.labels.begin(), s.labels.end());
    if (f.type() != Type::Histogram) {
      sample(f.name(), names, values, s.value);
      continue;
    }
    const std::string bucket = f.name() + "_bucket";
    uint64_t cumulative = 0;
    for (size_t i = 0; i < s.buckets.size(); ++i) {
      cumulative += s.buckets[i];
      const std::string le = i < f.bounds().size() ? format_value(f.bounds()[i])
                                                   : std::string("+Inf");
      sample(bucket, names, values, cumulative, "le", le);
    }
    sample(f.name() + "_sum", names, values, s.sum);
    sample(f.name() + "_count", names, values, s.count);
  }
}

}  // namespace pounce::metrics
