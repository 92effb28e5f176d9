// --access-log-file and --error-log-file (issue 14 §3): the logs go to files
// instead of stdout and stderr, and SIGUSR1 reopens them (the logrotate
// convention nginx uses: rename the files, then signal).
//
// Each file is put on the descriptor the log already writes to (fd 1 for the
// access log, fd 2 for the error log) with dup2, so every writer (the loops'
// sinks, the fallback sink, a plugin's stdio) follows it unchanged. A reopen
// opens the path again and dup2s the new file over the same descriptor:
// dup2 swaps the descriptor atomically, so a write() that races with it lands
// whole in the old file or whole in the new one. The sinks write whole lines
// in each write() and the files are O_APPEND, so no line is torn or lost
// across a reopen; lines still buffered in a sink go to the new file.
//
// The supervisor and its serving child each hold the descriptors (the child
// inherits them): the supervisor reopens its own and forwards SIGUSR1, and
// the child reopens its own on its main loop.
#pragma once

#include <string>

namespace pounce::log {

// Opens the files (O_APPEND | O_CREAT, mode 0640 less the umask) and moves
// them onto fd 1 / fd 2. An empty path leaves that output as it is. Call it
// in main() before anything logs: an output's kind (file, pipe, socket) is
// fixed by its first line (see OutputFile). Returns false with *error set
// ("cannot open --access-log-file PATH: REASON") when a file cannot be
// opened; nothing is moved then.
bool open_log_files(const std::string& access_path,
                    const std::string& error_path, std::string* error);

// SIGUSR1: reopens each configured file by its path. A file that cannot be
// opened keeps its old descriptor, and the reason is logged. Logs one line
// ("<who>SIGUSR1: reopened the log files") on the (new) error log once done;
// `who` is "" in the serving process and "supervisor: " in the supervisor.
// Called on a loop (the server's main loop, or the supervisor's poll loop),
// never in a signal handler. Without a configured file it does nothing.
void reopen_log_files(const char* who);

// `pounce-host check`: whether `path` could be opened for appending, without
// creating it. Returns false with *error set.
bool check_log_file(const char* flag, const std::string& path,
                    std::string* error);

}  // namespace pounce::log
