// `pounce-host bench`: the built-in benchmark (ARCHITECTURE.md §3 "Bench").
#pragma once

namespace pounce::bench {

// argv[0] is "bench". `self` is the path of the running pounce-host binary,
// started as the server under test. Returns the process exit code.
int bench_main(int argc, char** argv, const char* self);

}  // namespace pounce::bench
