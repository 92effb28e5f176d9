// Every number flag has a range, checked at start-up with a message that
// names the flag, its config-file key and the range. The table is the
// specification: for each flag, the value just below its minimum is refused,
// the minimum and the maximum are taken, and the value just above the
// maximum is refused; the same through a --config file.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cli/options.h"

namespace pounce {
namespace {

struct Outcome {
  CliOutcome result;
  std::string error;
  Config config;
};

Outcome parse(std::vector<std::string> args) {
  args.insert(args.begin(), {"pounce-host", "--plugin", "/nonexistent.so"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  Outcome o;
  o.result = parse_command_line(static_cast<int>(argv.size() - 1), argv.data(),
                                &o.config, &o.error);
  return o;
}

struct RangeCase {
  const char* flag;
  const char* below;  // nullptr: the minimum is the least value there is
  const char* min;
  const char* max;
  const char* above;
  const char* range;  // as the message states it
  // Other flags the bounds need (a maximum high-water mark needs a buffer
  // as large).
  std::vector<std::string> with = {};
};

const RangeCase kRanges[] = {
    {"port", nullptr, "0", "65535", "65536", "0 to 65535"},
    {"workers", nullptr, "0", "254", "255", "0 to 254"},
    {"async-threads", "0", "1", "254", "255", "1 to 254"},
    {"backlog", "0", "1", "1048576", "1048577", "1 to 1048576"},
    {"max-connections", "0", "1", "100000000", "100000001", "1 to 100000000"},
    {"keep-alive-timeout", "-1", "0", "86400", "86400.5", "0 to 86400 seconds"},
    {"header-timeout", "0", "0.001", "86400", "86401",
     "0.001 to 86400 seconds"},
    {"request-timeout", "0.0004", "0.001", "86400", "86401",
     "0.001 to 86400 seconds"},
    {"write-timeout", "0", "0.001", "86400", "86401", "0.001 to 86400 seconds"},
    {"shutdown-timeout", "-0.5", "0", "86400", "86401", "0 to 86400 seconds"},
    {"reload-timeout", "-1", "0", "86400", "86401", "0 to 86400 seconds"},
    {"max-header-size", "63", "64", "16777216", "16777217", "64 to 16777216"},
    {"max-headers", "0", "1", "65535", "65536", "1 to 65535"},
    {"max-body-size", "-1", "0", "1073741824", "1073741825", "0 to 1073741824"},
    {"stream-high-water",
     "255",
     "256",
     "1073741824",
     "1073741825",
     "256 to 1073741824",
     {"--stream-max-buffer", "1073741824"}},
    {"stream-max-buffer",
     "255",
     "256",
     "1073741824",
     "1073741825",
     "256 to 1073741824",
     {"--stream-high-water", "256"}},
    {"compression-min-size", "-1", "0", "1073741824", "1073741825",
     "0 to 1073741824"},
    {"gzip-level", "0", "1", "9", "10", "1 to 9"},
    {"zstd-level", "0", "1", "19", "20", "1 to 19"},
    {"ws-max-message-size",
     "124",
     "125",
     "1073741824",
     "1073741825",
     "125 to 1073741824",
     {"--ws-buffer-budget", "1073741824"}},
    {"ws-ping-interval", "-1", "0", "86400", "86401", "0 to 86400 seconds"},
    {"ws-compression-level", "0", "1", "9", "10", "1 to 9"},
    {"ws-message-timeout", "-1", "0", "86400", "86401", "0 to 86400 seconds"},
    {"ws-buffer-budget",
     "1048575",
     "1048576",
     "68719476736",
     "68719476737",
     "1048576 to 68719476736",
     {"--ws-max-message-size", "1048576"}},
};

std::vector<std::string> args_for(const RangeCase& c, const char* value) {
  std::vector<std::string> a = c.with;
  a.push_back(std::string("--") + c.flag);
  a.push_back(value);
  return a;
}

std::string config_key(const char* flag) {
  std::string k = flag;
  for (char& ch : k) {
    if (ch == '-') ch = '_';
  }
  return k;
}

TEST(OptionRanges, EveryNumberFlagIsBoundedOnTheCommandLine) {
  for (const RangeCase& c : kRanges) {
    SCOPED_TRACE(c.flag);
    const std::string expected = std::string("--") + c.flag + " (config key " +
                                 config_key(c.flag) + "): ";
    for (const char* ok : {c.min, c.max}) {
      Outcome o = parse(args_for(c, ok));
      EXPECT_EQ(o.result, CliOutcome::Run) << ok << ": " << o.error;
    }
    for (const char* bad : {c.below, c.above}) {
      if (!bad) continue;
      Outcome o = parse(args_for(c, bad));
      EXPECT_EQ(o.result, CliOutcome::Error) << bad;
      EXPECT_EQ(o.error,
                expected + bad + " is out of range; it must be " + c.range)
          << bad;
    }
  }
}

// The same bounds through the config file: the message names the key too.
TEST(OptionRanges, EveryNumberKeyIsBoundedInTheConfigFile) {
  char path[] = "/tmp/pounce-range-XXXXXX.json";
  int fd = mkstemps(path, 5);
  ASSERT_GE(fd, 0);
  close(fd);
  for (const RangeCase& c : kRanges) {
    SCOPED_TRACE(c.flag);
    for (const char* value : {c.below, c.min, c.max, c.above}) {
      if (!value) continue;
      {
        std::ofstream f(path, std::ios::trunc);
        f << "{\"" << config_key(c.flag) << "\": " << value << "}";
      }
      std::vector<std::string> args = c.with;
      args.push_back("--config");
      args.push_back(path);
      Outcome o = parse(args);
      const bool inside = value == c.min || value == c.max;
      EXPECT_EQ(o.result, inside ? CliOutcome::Run : CliOutcome::Error)
          << value << ": " << o.error;
      if (!inside) {
        EXPECT_NE(o.error.find("(config key " + config_key(c.flag) + ")"),
                  std::string::npos)
            << o.error;
        EXPECT_NE(o.error.find("it must be " + std::string(c.range)),
                  std::string::npos)
            << o.error;
      }
    }
  }
  unlink(path);
}

// The defect the ranges were added for: a high-water mark of 0 or 1 can
// never be drained below half, so every paused stream would stall.
TEST(OptionRanges, HighWaterMarksThatNoQueueCanDrainBelowHalfAreRefused) {
  for (const char* v : {"0", "1"}) {
    Outcome o = parse({"--stream-high-water", v});
    EXPECT_EQ(o.result, CliOutcome::Error) << v;
  }
}

TEST(OptionRanges, SecondsAreKeptInMilliseconds) {
  Outcome o = parse({"--header-timeout", "0.25", "--ws-message-timeout", "2"});
  ASSERT_EQ(o.result, CliOutcome::Run) << o.error;
  EXPECT_EQ(o.config.header_timeout_ms, 250u);
  EXPECT_EQ(o.config.ws_message_timeout_ms, 2000u);
}

TEST(OptionRanges, BudgetMustHoldTheLargestMessage) {
  Outcome o = parse(
      {"--ws-max-message-size", "2097152", "--ws-buffer-budget", "1048576"});
  EXPECT_EQ(o.result, CliOutcome::Error);
  EXPECT_EQ(o.error,
            "--ws-buffer-budget must not be below --ws-max-message-size");
}

TEST(OptionRanges, NotANumberIsNotARangeError) {
  Outcome o = parse({"--backlog", "many"});
  EXPECT_EQ(o.result, CliOutcome::Error);
  EXPECT_EQ(o.error, "--backlog: not an unsigned integer: many");
}

}  // namespace
}  // namespace pounce
