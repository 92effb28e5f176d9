// systemd socket activation (sd_listen_fds(3)): the listening sockets a
// service manager opened and passed down as descriptors 3, 4, ... with
// LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES in the environment. Implemented
// from the documented protocol; no libsystemd.
#pragma once

#include <string>
#include <vector>

namespace pounce {

struct InheritedSocket {
  int fd = -1;
  std::string name;  // its LISTEN_FDNAMES entry ("" when none was given)
  int family = 0;    // AF_INET, AF_INET6 or AF_UNIX
};

// Takes the sockets passed to this process, if LISTEN_PID names it: each is
// checked (a listening stream socket), made non-blocking and close-on-exec,
// and the three variables are removed from the environment so that nothing
// this process starts takes them for its own. *out is empty when the
// process was not socket-activated. Returns false with *error set when the
// variables or the descriptors are not what the protocol promises.
bool take_inherited_sockets(std::vector<InheritedSocket>* out,
                            std::string* error);

}  // namespace pounce
