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

// True when this kernel supports SO_REUSEPORT on TCP sockets.
bool reuseport_supported();

// "127.0.0.1:8000" or "[::1]:8000".
std::string host_port_text(const std::string& host, uint16_t port);

}  // namespace pounce
