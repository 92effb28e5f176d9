// The SVG report and the table, from a made-up run: the SVG must be
// well-formed XML (checked with python3's xml.etree, the closest thing to a
// browser here) and hold every series.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "bench/svg_report.h"
#include "bench/table.h"

using namespace pounce::bench;

namespace {

RunRecord made_up_run() {
  RunRecord run;
  run.options.workloads = {"hello", "echo"};
  run.options.repeat = 2;
  for (const char* name : {"pounce", "nginx"}) {
    Target t;
    t.name = name;
    t.available = true;
    run.targets.push_back(t);
  }
  for (unsigned round = 1; round <= 2; ++round) {
    for (const char* server : {"pounce", "nginx"}) {
      Sample s;
      s.workload = "hello";
      s.server = server;
      s.round = round;
      s.per_second = 1000.0 * round;
      s.p50_us = 100;
      s.p95_us = 200;
      s.p99_us = 400;
      s.p999_us = 900;
      s.cpu_us_per_req = 5;
      run.samples.push_back(s);
    }
    Sample e;
    e.workload = "echo";
    e.server = "pounce";
    e.round = round;
    e.per_second = 500;
    e.p50_us = 150;
    e.p95_us = 250;
    e.p99_us = 500;
    e.p999_us = 1500;
    e.non_2xx = round == 2 ? 3 : 0;
    run.samples.push_back(e);
  }
  run.skipped.push_back(Skip{"echo", "nginx", "nginx cannot serve it"});
  return run;
}

}  // namespace

TEST(SvgReport, IsWellFormedXmlWithEverySeries) {
  std::string svg = render_svg(made_up_run(), "title <with> & specials");
  EXPECT_NE(svg.find("data-series=\"pounce\""), std::string::npos);
  EXPECT_NE(svg.find("data-series=\"nginx\""), std::string::npos);
  EXPECT_NE(svg.find("data-workload=\"echo\""), std::string::npos);
  EXPECT_NE(svg.find("latency percentiles"), std::string::npos);
  EXPECT_NE(svg.find("&lt;with&gt; &amp;"), std::string::npos);

  if (system("python3 -c '' 2>/dev/null") != 0) {
    GTEST_SKIP() << "python3 is not installed";
  }
  char path[] = "/tmp/bench-report-XXXXXX.svg";
  int fd = mkstemps(path, 4);
  ASSERT_GE(fd, 0);
  close(fd);
  std::ofstream(path) << svg;
  std::string check = std::string(
                          "python3 -c 'import sys, xml.etree.ElementTree as E; "
                          "r = E.parse(sys.argv[1]).getroot(); "
                          "assert r.tag.endswith(\"svg\"), r.tag' ") +
                      path;
  EXPECT_EQ(system(check.c_str()), 0) << svg;
  unlink(path);
}

TEST(Table, ShowsMediansNaRowsRatiosAndErrors) {
  std::string table = render_table(made_up_run());
  EXPECT_NE(table.find("echo      nginx   n/a (nginx cannot serve it)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("x1.00 req/s"), std::string::npos) << table;
  EXPECT_NE(table.find("ERRORS: echo pounce round 2"), std::string::npos)
      << table;
  EXPECT_NE(table.find("3 non2xx !"), std::string::npos) << table;
}

TEST(Table, SaysWhichRatioDoesNotCountAndFlagsAThinP999) {
  RunRecord run = made_up_run();
  for (Sample& s : run.samples) {
    s.latency_samples = 20'000;
    if (s.server == "nginx" && s.round == 1) s.wrong_body = 7;
    if (s.server == "pounce" && s.workload == "echo") s.latency_samples = 999;
  }
  run.targets[1].differences.emplace_back("hello", "a constant, not a call");
  std::string table = render_table(run);
  EXPECT_NE(table.find("DOES NOT COUNT (nginx: 7 wrong bodies)"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("RATIO DOES NOT COUNT: hello pounce/nginx"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("7 body !"), std::string::npos) << table;
  EXPECT_NE(table.find("NOT EQUIVALENT: hello nginx: a constant, not a call"),
            std::string::npos)
      << table;
  // Only echo's p99.9 rests on fewer than 10,000 values.
  EXPECT_NE(table.find("1.50ms*"), std::string::npos) << table;
  EXPECT_EQ(table.find("900us*"), std::string::npos) << table;
}
