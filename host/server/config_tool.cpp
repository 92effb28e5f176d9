#include "server/config_tool.h"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cli/options.h"
#include "log/log_files.h"
#include "log/logger.h"
#include "plugin/generation.h"
#include "plugin/host_api.h"
#include "tls/context_set.h"
#include "tls/ticket_keys.h"

namespace pounce {

namespace {

// Parses the flags as the server would. Returns false, with the exit code
// in *rc, when there is nothing more to do.
bool parse(const char* command, int argc, char** argv, Config* config,
           int* rc) {
  std::string error;
  switch (parse_command_line(argc, argv, config, &error)) {
    case CliOutcome::Exit:
      *rc = 0;
      return false;
    case CliOutcome::Error:
      fprintf(stderr, "pounce-host %s: %s\n", command, error.c_str());
      *rc = 1;
      return false;
    case CliOutcome::Run:
      break;
  }
  return true;
}

int fail(const std::string& reason) {
  fprintf(stderr, "pounce-host check: %s\n", reason.c_str());
  log::finish_at_exit();
  return 1;
}

}  // namespace

int check_main(int argc, char** argv) {
  Config config;
  int rc = 0;
  if (!parse("check", argc, argv, &config, &rc)) return rc;
  log::set_level(config.log_level);
  std::string error;
  // The log files, as the server opens them at start (none is created).
  if (!log::check_log_file("--access-log-file", config.access_log_file,
                           &error) ||
      !log::check_log_file("--error-log-file", config.error_log_file, &error)) {
    return fail(error);
  }
  // The certificates, as the server opens them at start and on SIGHUP.
  if (config.any_tls()) {
    std::shared_ptr<tls::TicketKeys> keys;
    if (config.tls_session_tickets) {
      keys = std::make_shared<tls::TicketKeys>(config.tls_ticket_rotation_ms);
    }
    std::vector<std::string> warnings;
    auto set = tls::ContextSet::build(config, keys, &warnings, &error);
    for (const std::string& w : warnings) LOG_WARN("%s", w.c_str());
    if (!set) return fail(error);
  }
  // Every plugin loaded and initialized as a generation is, then shut down
  // and unloaded: a plugin whose init fails fails the check.
  {
    std::unique_ptr<Generation> g;
    try {
      g = Generation::build(config, 1, config.workers + config.async_threads,
                            host_api(), &error);
    } catch (const std::exception& e) {
      error = std::string("cannot load the plugins: ") + e.what();
    } catch (...) {
      error = "cannot load the plugins: an unknown exception";
    }
    if (!g) return fail(error);
  }
  log::flush_thread();
  std::string listeners;
  for (const ListenSpec& l : config.listens) {
    listeners += (listeners.empty() ? "" : ", ") + l.text();
  }
  printf(
      "pounce-host check: configuration OK (%zu plugin%s; listeners: %s%s)\n",
      config.plugins.size(), config.plugins.size() == 1 ? "" : "s",
      listeners.c_str(),
      config.admin_listen.empty()
          ? ""
          : ("; admin: " + config.admin.text()).c_str());
  fflush(stdout);
  log::finish_at_exit();
  return 0;
}

int config_show_main(int argc, char** argv) {
  Config config;
  int rc = 0;
  if (!parse("config show", argc, argv, &config, &rc)) return rc;
  fputs(config_to_json(config).c_str(), stdout);
  return 0;
}

}  // namespace pounce
