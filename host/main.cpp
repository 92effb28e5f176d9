// pounce-host: serve plugins over HTTP/1.1.
//
//   pounce-host --plugin ./libhello.so [options]
#include <cstdio>
#include <string>

#include "bench/bench_main.h"
#include "cli/options.h"
#include "log/logger.h"
#include "server/server.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "bench") {
    return pounce::bench::bench_main(argc - 1, argv + 1, "/proc/self/exe");
  }
  pounce::Config config;
  std::string error;
  switch (pounce::parse_command_line(argc, argv, &config, &error)) {
    case pounce::CliOutcome::Exit:
      return 0;
    case pounce::CliOutcome::Error:
      fprintf(stderr, "pounce-host: %s\n(see pounce-host --help)\n",
              error.c_str());
      return 2;
    case pounce::CliOutcome::Run:
      break;
  }
  pounce::log::set_level(config.log_level);
  int rc;
  {
    // The server's own log sinks close with it, waiting (bounded) for a
    // slow reader, before the last flush below.
    pounce::Server server(std::move(config));
    rc = server.run();
  }
  pounce::log::finish_at_exit();
  return rc;
}
