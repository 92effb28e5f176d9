// `pounce-host bench --workload idle`: the server's memory per idle
// connection. Opens --connections connections one after the other, each
// brought to the state of an idle browser connection, and reads the
// server's resident memory (VmRSS of its process tree) before the first and
// after the last: the difference over the count is the figure.
//
// - HTTP/1.1: connected (and with TLS, handshaken with ALPN http/1.1);
//   nothing sent.
// - --h2: the client preface and SETTINGS sent, the server's SETTINGS
//   received and acknowledged, through a libnghttp2 client session (the
//   bench writes no framing of its own); with TLS, ALPN h2.
//
// Every connection must still be open when the memory is read (a server
// that closed idle connections early would look cheap): one that got a
// GOAWAY or an EOF by then counts as a read error.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace pounce::bench {

struct IdleConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  unsigned connections = 64;
  bool h2 = false;
  bool tls = false;
};

struct IdleResult {
  unsigned opened = 0;  // connections brought to the idle state
  unsigned failed = 0;  // could not connect or handshake
  unsigned closed = 0;  // closed (or GOAWAY) by the server before the end
  uint64_t rss_before_kib = 0;
  uint64_t rss_after_kib = 0;
  double bytes_per_connection = -1;  // < 0: unknown
  std::string protocol;              // "h2", "h2c", "http/1.1"
  std::string error;                 // the first failure's reason
};

// Measures `server` (the root of its process tree). Blocking; a few seconds
// for thousands of connections on loopback.
IdleResult measure_idle(const IdleConfig& config, pid_t server);

// Sum of VmRSS over the processes, in KiB.
uint64_t tree_rss_kib(pid_t root);

}  // namespace pounce::bench
