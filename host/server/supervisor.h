// The supervisor (--supervise, the default): a small parent process that
// owns every listening socket and runs the serving process as its child,
// restarting it when it dies. See docs/architecture.md, "Process tree".
//
//   pounce-host (supervisor: sockets, signals, restarts; no plugin, no thread)
//   └─ pounce-host (serving process: main thread, workers, async pool)
//
// The child is a fork() of the parent without exec: the parent stays
// single-threaded and has loaded no plugin, so the child starts from a clean
// copy holding the parsed configuration and the sockets.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/config.h"
#include "net/listener.h"

namespace pounce {

// The listening sockets of the serving process, opened by the supervisor
// (or by the server itself under --no-supervise).
struct ServeListener {
  ListenSpec spec;
  uint16_t port = 0;     // the real port, also when 0 was asked for
  std::vector<int> fds;  // one per worker (reuseport), or the distributor's
};

struct ServeSockets {
  std::vector<ServeListener> listeners;     // in --listen order
  AcceptMode mode = AcceptMode::ReusePort;  // resolved: never Auto
  // The serving process writes one byte here once it serves, instead of
  // printing the startup lines; -1 when unsupervised.
  int ready_fd = -1;
  // The admin listener (--admin-listen): one socket, served by one thread
  // of the serving process; -1 when off. `admin.spec` as configured,
  // `admin.port` the real one.
  ServeListener admin;
  int admin_fd = -1;
  // The Unix socket files opened for this process tree, removed by their
  // owner (the supervisor, or the unsupervised server) when it exits.
  // close_serve_sockets() leaves them: a draining child still serves on
  // them, and new clients must still find them.
  std::vector<UnixSocketFile> unix_files;
  // Restarts of the serving process by the supervisor before this one (the
  // child's copy; /status reports it).
  unsigned restarts = 0;
};

// Resolves --accept-mode and opens the listening sockets: the ones systemd
// passed (socket activation, see socket_activation.h) or new ones.
bool open_serve_sockets(const Config& config, ServeSockets* out,
                        std::string* error);
// Removes the Unix socket files of `sockets` (their owner, at exit).
void remove_unix_socket_files(ServeSockets* sockets);

// Runs the supervisor. Returns its exit code in the parent, once it is done;
// returns nothing in each child, with *sockets set, and with *config's
// plugin entries re-read from the config file when the child is a restart.
std::optional<int> supervise(Config* config, ServeSockets* sockets);

// The serving process keeps SIGHUP, SIGTERM, SIGINT and SIGUSR1 blocked until
// its handlers exist, so that a signal forwarded before then is not lost (or
// fatal); the server calls this once they do.
void unblock_forwarded_signals();

// Closes every listening socket in `sockets`.
void close_serve_sockets(ServeSockets* sockets);

// `pounce-host: listening on http://HOST:PORT (workers=W)`, one per
// listener (https:// for TLS, unix:PATH), then `pounce-host: admin on
// http://HOST:PORT` for the admin listener: a contract (ARCHITECTURE.md §3).
void print_startup_lines(const Config& config, const ServeSockets& sockets);

}  // namespace pounce
