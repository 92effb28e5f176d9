// pounce-host: serve plugins over HTTP/1.1.
//
//   pounce-host --plugin ./libhello.so [options]
#include <cstdio>
#include <string>

#include "cli/options.h"
#include "log/logger.h"
#include "server/server.h"

int main(int argc, char** argv) {
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
  pounce::Server server(std::move(config));
  int rc = server.run();
  pounce::log::flush_fallback();
  return rc;
}
