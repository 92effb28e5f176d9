// pounce-host: serve plugins over HTTP/1.1.
//
//   pounce-host --plugin ./libhello.so [options]
//   pounce-host check [options]         validate the configuration
//   pounce-host config show [options]   print the effective configuration
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>

#include "bench/bench_main.h"
#include "cli/options.h"
#include "log/log_files.h"
#include "log/logger.h"
#include "server/config_tool.h"
#include "server/crash_report.h"
#include "server/server.h"
#include "server/supervisor.h"

int main(int argc, char** argv) {
  // First: a SIGHUP during startup is a reload once ready, not an exit.
  pounce::defer_sighup_until_ready();
  // SIGUSR1 (reopen the log files) would end the process until a loop
  // handles it; one that arrives this early has nothing to reopen yet.
  signal(SIGUSR1, SIG_IGN);
  if (argc > 1 && std::string(argv[1]) == "bench") {
    pounce::restore_default_sighup();
    return pounce::bench::bench_main(argc - 1, argv + 1, "/proc/self/exe");
  }
  if (argc > 1 && std::string(argv[1]) == "check") {
    pounce::restore_default_sighup();
    return pounce::check_main(argc - 1, argv + 1);
  }
  if (argc > 1 && std::string(argv[1]) == "config") {
    pounce::restore_default_sighup();
    if (argc > 2 && std::string(argv[2]) == "show") {
      return pounce::config_show_main(argc - 2, argv + 2);
    }
    fprintf(stderr, "pounce-host: expected: pounce-host config show [flags]\n");
    return 2;
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
  // Before anything logs: an output's kind is fixed by its first line.
  if (!pounce::log::open_log_files(config.access_log_file,
                                   config.error_log_file, &error)) {
    fprintf(stderr, "pounce-host: %s\n", error.c_str());
    return 1;
  }
  pounce::log::set_level(config.log_level);
  pounce::ServeSockets sockets;
  if (config.supervise) {
    // The parent returns here once it is done; each child goes on to serve.
    if (std::optional<int> rc = pounce::supervise(&config, &sockets)) {
      pounce::log::finish_at_exit();
      return *rc;
    }
  }
  pounce::crash::install_handlers();
  int rc;
  {
    // The server's own log sinks close with it, waiting (bounded) for a
    // slow reader, before the last flush below.
    pounce::Server server(std::move(config), std::move(sockets));
    rc = server.run();
  }
  pounce::log::finish_at_exit();
  return rc;
}
