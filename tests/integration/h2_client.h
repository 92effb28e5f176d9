// Runs scenarios of tests/integration/h2_client.py (python3-h2 and raw
// frames) against a host: shared by the HTTP/2 test files.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "host_process.h"

namespace pounce::test {

// Runs a scenario of h2_client.py against `port`; its JSON line. A scenario
// that exits non-zero fails the calling test.
inline std::string h2_client(uint16_t port, std::vector<std::string> args) {
  std::vector<std::string> argv = {"/usr/bin/python3", POUNCE_H2_CLIENT,
                                   std::to_string(port)};
  for (auto& a : args) argv.push_back(std::move(a));
  CommandResult r = run_command(argv, std::chrono::seconds(60));
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  return r.out;
}

inline bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

}  // namespace pounce::test
