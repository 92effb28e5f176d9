// A server under test as a child process: pounce-host, nginx or h2o.
//
// Each runs in a process group of its own, so that stop() reaches nginx's
// workers too, and with PR_SET_PDEATHSIG so that a killed benchmark does not
// leave a server behind. Its output goes to a log file, not a pipe: a
// server that logs while nobody reads must not block.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace pounce::bench {

struct ServerCommand {
  std::string name;               // "pounce", "nginx", "h2o"
  std::vector<std::string> argv;  // argv[0] is an absolute path
  std::string log_path;           // stdout and stderr
  int cpu = -1;                   // pin the server to this CPU
  // pounce: the scheme its startup line must show ("https" with --tls).
  std::string url_scheme = "http";
};

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess() { stop(); }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  bool start(const ServerCommand& command, std::string* error);

  // pounce-host: waits for "pounce-host: listening on SCHEME://HOST:PORT"
  // (SCHEME: command.url_scheme) in the log and returns PORT (its port 0
  // picked a free one). A line with the other scheme is an error: a server
  // that serves cleartext where TLS was asked must not be measured as TLS.
  bool wait_startup_line(std::chrono::milliseconds timeout, uint16_t* port,
                         std::string* error);
  // Peers: waits until the port accepts a TCP connection.
  bool wait_port(uint16_t port, std::chrono::milliseconds timeout,
                 std::string* error);

  // SIGTERM to the group, SIGKILL after a grace period; reaps the child.
  void stop();
  bool running();
  pid_t pid() const { return pid_; }
  const ServerCommand& command() const { return command_; }
  // The last `max` bytes of the log, for error messages.
  std::string log_tail(size_t max = 2000) const;

 private:
  ServerCommand command_;
  pid_t pid_ = -1;
  bool reaped_ = true;
};

// A port that was free a moment ago (bind to 0, read it, close). Racy by
// nature; peers need a number in their config file.
uint16_t pick_free_port();

// True when `port` on 127.0.0.1 accepts a connection now.
bool port_accepts(uint16_t port);

}  // namespace pounce::bench
