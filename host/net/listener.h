// Listening sockets, created by hand so that SO_REUSEPORT can be set before
// bind (Debian's libuv 1.44 has no UV_TCP_REUSEPORT), then given to libuv
// with uv_tcp_open.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pounce {

struct ListenSockets {
  std::vector<int> fds;
  uint16_t port = 0;  // the real port, also when 0 was asked for
};

// Creates `count` listening sockets on host:port. With `reuseport`, every
// socket has SO_REUSEPORT and the kernel balances connections between them;
// with port 0 the first socket picks the port and the others join it.
// Returns false with *error set (and closes what it opened) on failure.
bool open_listen_sockets(const std::string& host, uint16_t port, int backlog,
                         unsigned count, bool reuseport, ListenSockets* out,
                         std::string* error);

// Creates a listening Unix stream socket at `path` with file mode `mode`.
// An existing file there is replaced only when it is a socket nobody listens
// on (a connect() to it is refused: the stale file of a process that died);
// a live socket or any other file is an error. *created gets the socket
// file's identity, so that only this file is removed later
// (remove_unix_socket_file). Returns the descriptor, or -1 with *error set.
struct UnixSocketFile {
  bool operator==(const UnixSocketFile&) const = default;
  std::string path;
  uint64_t dev = 0;
  uint64_t ino = 0;
};
int open_unix_listener(const std::string& path, unsigned mode, int backlog,
                       UnixSocketFile* created, std::string* error);
// Removes the socket file if it is still the one open_unix_listener made (a
// later process may have replaced it).
void remove_unix_socket_file(const UnixSocketFile& file);

// `count` descriptors for one listening socket `fd`: fd itself and dups of
// it (for the workers of reuseport mode, when the socket cannot be
// SO_REUSEPORT: a Unix socket, an inherited one). They share one accept
// queue. Returns false with *error set, closing the dups (not fd).
bool share_listen_socket(int fd, unsigned count, std::vector<int>* out,
                         std::string* error);

// True when this kernel supports SO_REUSEPORT on TCP sockets.
bool reuseport_supported();

// "127.0.0.1:8000" or "[::1]:8000".
std::string host_port_text(const std::string& host, uint16_t port);

}  // namespace pounce
