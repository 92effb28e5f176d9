// Configuration tooling (docs/operations.md, "Checking a configuration"):
//
//   pounce-host check [--config F] [flags]        validate, then exit 0 or 1
//   pounce-host config show [--config F] [flags]  the effective settings
//
// Neither binds a socket or takes inherited ones.
#pragma once

namespace pounce {

// `argv[0]` is the subcommand's name ("check", "show"); the rest are the
// flags pounce-host itself takes. Return the process exit code.
int check_main(int argc, char** argv);
int config_show_main(int argc, char** argv);

}  // namespace pounce
