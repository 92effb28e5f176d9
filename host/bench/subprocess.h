// Running other programs: PATH lookup and capturing a short command's
// output (version strings, git). No shell is involved anywhere.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace pounce::bench {

// The first executable `name` in $PATH (or `name` itself when it holds a
// '/'), or "" when there is none. Looked up here rather than by execvp so
// that a test can hide nginx and h2o with PATH.
std::string find_in_path(const std::string& name);

struct Captured {
  int status = -1;     // exit status; -1 when it could not run or timed out
  std::string output;  // stdout and stderr, interleaved
};

// Runs argv (argv[0] resolved through find_in_path) to completion.
Captured capture(const std::vector<std::string>& argv,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10),
                 const std::string& cwd = "");

// The first line of `text`, without the line end.
std::string first_line(const std::string& text);

}  // namespace pounce::bench
