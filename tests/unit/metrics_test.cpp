// Metrics (issue 14 §2): single-writer cells summed at scrape, families
// updated from many threads without a lock per update, and the Prometheus
// text format, read back by python3-prometheus-client's own parser.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "host_process.h"
#include "metrics/metrics.h"
#include "metrics/prometheus.h"

using namespace pounce::metrics;
using pounce::test::count_of;

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

// ---- plugin metrics through the host table (ABI 1.1) ----

#include "metrics/plugin_metrics.h"
#include "plugin/host_api.h"

namespace {

pounce_init_args_t init_args(const char* mount) {
  pounce_init_args_t a{};
  a.size = sizeof a;
  a.mount_prefix = {mount, strlen(mount)};
  return a;
}

class PluginMetricsApi : public ::testing::Test {
 protected:
  void SetUp() override { PluginMetrics::instance().reset_for_tests(); }
  void TearDown() override { PluginMetrics::instance().reset_for_tests(); }
  const pounce_host_api_t& host = *pounce::host_api();

  pounce_metric_t* define(const char* mount, pounce_metric_type_t type,
                          const char* name,
                          std::vector<const char*> labels = {},
                          std::vector<double> buckets = {},
                          int* rc_out = nullptr) {
    pounce_init_args_t a = init_args(mount);
    pounce_metric_def_t d{};
    d.size = sizeof d;
    d.type = type;
    d.name = name;
    d.help = "help";
    d.label_names = labels.data();
    d.label_count = labels.size();
    d.buckets = buckets.data();
    d.bucket_count = buckets.size();
    pounce_metric_t* m = nullptr;
    int rc = host.metric_define(&a, &d, &m);
    if (rc_out) *rc_out = rc;
    return rc == POUNCE_OK ? m : nullptr;
  }
  std::string scrape() {
    TextWriter w;
    PluginMetrics::instance().write(w);
    return w.take();
  }
};

TEST_F(PluginMetricsApi, DefineUpdateAndScrapeWithTheMountLabel) {
  ASSERT_TRUE(POUNCE_HOST_HAS(&host, metric_observe));
  pounce_metric_t* c =
      define("/api", POUNCE_METRIC_COUNTER, "app_hits_total", {"route"});
  pounce_metric_t* g = define("/api", POUNCE_METRIC_GAUGE, "app_queue");
  pounce_metric_t* h =
      define("/api", POUNCE_METRIC_HISTOGRAM, "app_size_bytes", {}, {10, 100});
  ASSERT_TRUE(c && g && h);
  const pounce_str_t users[] = {{"users", 5}};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        EXPECT_EQ(host.metric_add(c, users, 1, 1), POUNCE_OK);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(host.metric_set(g, nullptr, 0, 7), POUNCE_OK);
  EXPECT_EQ(host.metric_observe(h, nullptr, 0, 50), POUNCE_OK);
  const std::string text = scrape();
  EXPECT_NE(text.find("# TYPE app_hits_total counter\n"
                      "app_hits_total{mount=\"/api\",route=\"users\"} 3000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("app_queue{mount=\"/api\"} 7\n"), std::string::npos);
  EXPECT_NE(text.find("app_size_bytes_bucket{mount=\"/api\",le=\"100\"} 1\n"),
            std::string::npos)
      << text;
}

TEST_F(PluginMetricsApi, RedefiningContinuesTheSeries) {
  // A reload calls init again: the counter goes on from where it was.
  pounce_metric_t* first = define("/", POUNCE_METRIC_COUNTER, "app_n_total");
  ASSERT_TRUE(first);
  host.metric_add(first, nullptr, 0, 5);
  pounce_metric_t* again = define("/", POUNCE_METRIC_COUNTER, "app_n_total");
  ASSERT_EQ(again, first);
  host.metric_add(again, nullptr, 0, 1);
  // The same plugin at a second mount: one family, two series.
  pounce_metric_t* other = define("/b", POUNCE_METRIC_COUNTER, "app_n_total");
  ASSERT_TRUE(other);
  host.metric_add(other, nullptr, 0, 2);
  const std::string text = scrape();
  EXPECT_EQ(count_of(text, "# TYPE app_n_total counter"), 1u) << text;
  EXPECT_NE(text.find("app_n_total{mount=\"/\"} 6\n"), std::string::npos);
  EXPECT_NE(text.find("app_n_total{mount=\"/b\"} 2\n"), std::string::npos);
}

TEST_F(PluginMetricsApi, BadDefinitionsAndUpdatesAreRefused) {
  int rc = 0;
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "9bad", {}, {}, &rc));
  EXPECT_EQ(rc, POUNCE_ERR_INVALID);
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "pounce_mine_total"));
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "app_x", {"mount"}));
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "app_x", {"__a"}));
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "app_x",
                      {"a", "b", "c", "d", "e", "f", "g", "h", "i"}));
  EXPECT_FALSE(define("/", POUNCE_METRIC_HISTOGRAM, "app_h", {},
                      {1, 1}));  // not ascending
  {
    // A type no enumerator has, as a C plugin may pass (stored as the int
    // it is: a C++ enum cannot hold 7).
    pounce_init_args_t a = init_args("/");
    pounce_metric_def_t d{};
    d.size = sizeof d;
    d.name = "app_t";
    const int seven = 7;
    std::memcpy(&d.type, &seven, sizeof seven);
    pounce_metric_t* m = nullptr;
    EXPECT_EQ(host.metric_define(&a, &d, &m), POUNCE_ERR_INVALID);
  }
  pounce_metric_t* c = define("/", POUNCE_METRIC_COUNTER, "app_y", {"a"});
  ASSERT_TRUE(c);
  // Same name, another shape.
  EXPECT_FALSE(define("/", POUNCE_METRIC_GAUGE, "app_y", {"a"}));
  EXPECT_FALSE(define("/", POUNCE_METRIC_COUNTER, "app_y", {"b"}));
  const pounce_str_t one[] = {{"v", 1}};
  EXPECT_EQ(host.metric_add(c, nullptr, 0, 1), POUNCE_ERR_INVALID);  // count
  EXPECT_EQ(host.metric_add(c, one, 1, -1), POUNCE_ERR_INVALID);     // counter
  EXPECT_EQ(host.metric_set(c, one, 1, 1), POUNCE_ERR_INVALID);      // type
  EXPECT_EQ(host.metric_observe(c, one, 1, 1), POUNCE_ERR_INVALID);
  EXPECT_EQ(host.metric_add(nullptr, one, 1, 1), POUNCE_ERR_INVALID);
  pounce_metric_def_t small{};
  small.size = 4;
  pounce_init_args_t a = init_args("/");
  pounce_metric_t* m = nullptr;
  EXPECT_EQ(host.metric_define(&a, &small, &m), POUNCE_ERR_INVALID);
}

TEST_F(PluginMetricsApi, LabelValuesBeyondTheBoundAreDropped) {
  pounce_metric_t* c =
      define("/", POUNCE_METRIC_COUNTER, "app_ids_total", {"id"});
  ASSERT_TRUE(c);
  for (size_t i = 0; i < Family::kMaxSeriesPerThread + 500; ++i) {
    const std::string id = std::to_string(i);
    const pounce_str_t v[] = {{id.data(), id.size()}};
    EXPECT_EQ(host.metric_add(c, v, 1, 1), POUNCE_OK);
  }
  EXPECT_EQ(count_of(scrape(), "app_ids_total{"), Family::kMaxSeriesPerThread);
}

}  // namespace
