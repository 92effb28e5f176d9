// Metrics (issue 14 §2): single-writer cells summed at scrape, families
// updated from many threads without a lock per update, and the Prometheus
// text format, read back by python3-prometheus-client's own parser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"

using namespace pounce::metrics;

namespace {

TEST(Metrics, CountersFromManyThreadsSumAtScrape) {
  Family f("pounce_test_total", "Things.", Type::Counter, {"kind"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&f, t] {
      const std::string_view a[] = {"a"};
      const std::string_view b[] = {t % 2 ? "odd" : "even"};
      for (int i = 0; i < 10000; ++i) {
        f.add(a, 1);
        f.add(b, 2);
      }
    });
  }
  // A scrape while they count sees a consistent, partial picture.
  for (int i = 0; i < 50; ++i) {
    for (const SeriesValue& s : f.collect()) EXPECT_LE(s.value, 40000);
  }
  for (auto& t : threads) t.join();
  std::vector<SeriesValue> v = f.collect();
  ASSERT_EQ(v.size(), 3u);
  std::map<std::string, double> by_kind;
  for (const auto& s : v) by_kind[s.labels.at(0)] = s.value;
  EXPECT_EQ(by_kind["a"], 40000);
  EXPECT_EQ(by_kind["even"], 40000);
  EXPECT_EQ(by_kind["odd"], 40000);
}

TEST(Metrics, AThreadThatExitsLeavesItsCounts) {
  Family f("pounce_exit_total", "x", Type::Counter, {});
  std::thread([&f] { f.add(nullptr, 5); }).join();
  std::thread([&f] { f.add(nullptr, 7); }).join();
  ASSERT_EQ(f.collect().size(), 1u);
  EXPECT_EQ(f.collect()[0].value, 12);
}

TEST(Metrics, CountersNeverGoDown) {
  Family f("pounce_c_total", "x", Type::Counter, {});
  f.add(nullptr, 3);
  f.add(nullptr, -2);
  EXPECT_EQ(f.collect()[0].value, 3);
}

TEST(Metrics, HistogramBuckets) {
  Family f("pounce_seconds", "x", Type::Histogram, {}, {{0.1, 1}});
  for (double v : {0.05, 0.1, 0.5, 2.0, 3.0}) f.observe(nullptr, v);
  std::vector<SeriesValue> v = f.collect();
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].buckets, (std::vector<uint64_t>{2, 1, 2}));
  EXPECT_EQ(v[0].count, 5u);
  EXPECT_DOUBLE_EQ(v[0].sum, 5.65);
}

TEST(Metrics, Names) {
  EXPECT_TRUE(valid_metric_name("pounce_requests_total"));
  EXPECT_TRUE(valid_metric_name("a:b_c9"));
  EXPECT_FALSE(valid_metric_name("9a"));
  EXPECT_FALSE(valid_metric_name("a-b"));
  EXPECT_FALSE(valid_metric_name(""));
  EXPECT_TRUE(valid_label_name("mount"));
  EXPECT_FALSE(valid_label_name("__name"));
  EXPECT_FALSE(valid_label_name("a:b"));
}

TEST(PrometheusText, ExactOutput) {
  Family c("pounce_x_total", "Line one\nback\\slash", Type::Counter, {"code"});
  const std::string_view l[] = {"4\"0\\4\n"};
  c.add(l, 2);
  Family h("pounce_d_seconds", "Durations.", Type::Histogram, {},
           {{0.0001, 0.5}});
  h.observe(nullptr, 0.3);
  TextWriter w;
  w.write(c, {"mount"}, {"/api"});
  w.write(h);
  EXPECT_EQ(w.text(),
            "# HELP pounce_x_total Line one\\nback\\\\slash\n"
            "# TYPE pounce_x_total counter\n"
            "pounce_x_total{mount=\"/api\",code=\"4\\\"0\\\\4\\n\"} 2\n"
            "# HELP pounce_d_seconds Durations.\n"
            "# TYPE pounce_d_seconds histogram\n"
            "pounce_d_seconds_bucket{le=\"0.0001\"} 0\n"
            "pounce_d_seconds_bucket{le=\"0.5\"} 1\n"
            "pounce_d_seconds_bucket{le=\"+Inf\"} 1\n"
            "pounce_d_seconds_sum 0.3\n"
            "pounce_d_seconds_count 1\n");
}

TEST(PrometheusText, FormatValue) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(1e6), "1000000");
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(format_value(1.0 / 0.0), "+Inf");
}

// The real parser (python3-prometheus-client) reads what we write, labels
// with quotes, backslashes and newlines included, and gets our values.
TEST(PrometheusText, ThePythonClientParsesIt) {
  Family c("pounce_requests_total", "Requests.", Type::Counter,
           {"mount", "status"});
  const std::string_view a[] = {"/a\"b\\c\nd", "2xx"};
  const std::string_view b[] = {"/", "5xx"};
  c.add(a, 41);
  c.add(b, 1);
  Family g("pounce_open", "Open.", Type::Gauge, {});
  g.set(nullptr, 2.5);
  Family h("pounce_request_duration_seconds", "Durations.", Type::Histogram,
           {"mount"}, Buckets::durations());
  const std::string_view m[] = {"/"};
  for (int i = 0; i < 10; ++i) h.observe(m, 0.002 * i);
  TextWriter w;
  w.write(c);
  w.write(g);
  w.write(h);
  char path[] = "/tmp/pounce-metrics-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << w.text();
  const char* script = R"PY(
import sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in fam.samples:
        labels = ",".join("%s=%r" % kv for kv in sorted(s.labels.items()))
        out.append("%s %s{%s} %g" % (fam.type, s.name, labels, s.value))
print("\n".join(sorted(out)))
)PY";
  pounce::test::CommandResult r =
      pounce::test::run_command({"/usr/bin/python3", "-c", script, path});
  unlink(path);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("counter pounce_requests_total{mount='/a\"b\\\\c\\nd',"
                       "status='2xx'} 41"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("counter pounce_requests_total{mount='/',status='5xx'} 1"),
      std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("gauge pounce_open{} 2.5"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("histogram pounce_request_duration_seconds_bucket{le='"
                       "0.005',mount='/'} 3"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("histogram pounce_request_duration_seconds_count{"
                       "mount='/'} 10"),
            std::string::npos)
      << r.out;
}

}  // namespace
