// Command line and JSON config file (ARCHITECTURE.md §3 "CLI").
//
// One table describes every flag. The command line is parsed with cxxopts
// into the same JSON shape as the config file (keys are the long flag names in
// snake_case, repeatable flags are arrays), the command line replaces the
// file's keys, and one function applies the result to a Config.
#pragma once

#include <string>

#include "cli/config.h"

namespace pounce {

enum class CliOutcome { Run, Exit, Error };

// Parses argv into *config. Exit means --help or --version was printed.
CliOutcome parse_command_line(int argc, char** argv, Config* config,
                              std::string* error);

// Re-reads the plugin entries (`plugin`, `plugin_config`) and the static
// mounts (`static`) of the --config file for a reload. Entries given on the
// command line stay as they are.
// *restart_needed tells whether the file also changed settings that only a
// restart applies (listeners, workers, limits). Returns false with *error set
// when the file cannot be used.
bool reload_plugin_entries(const Config& current, Config* next,
                           bool* restart_needed, std::string* error);

// The effective configuration as a JSON object with the keys --config
// reads (every setting, defaults included), for `pounce-host config show`.
std::string config_to_json(const Config& config);

// The --help text.
std::string help_text();

}  // namespace pounce
