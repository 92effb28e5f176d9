// The service manager's notification protocol (sd_notify(3)): datagrams of
// "KEY=VALUE\n" lines sent to the AF_UNIX socket named by NOTIFY_SOCKET.
// Implemented from the documented protocol, without libsystemd.
//
// Who sends: the serving process, from its main thread. Under the
// supervisor, systemd's main PID is the supervisor, so the unit needs
// NotifyAccess=all (docs/deploy/pounce-host.service): the serving process is
// the one that knows when it is ready, reloading or draining, and whether
// its loops still turn (WATCHDOG=1).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pounce {

class SdNotifier {
 public:
  // Reads NOTIFY_SOCKET (and the watchdog variables); inactive without it.
  SdNotifier();
  ~SdNotifier();
  SdNotifier(const SdNotifier&) = delete;
  SdNotifier& operator=(const SdNotifier&) = delete;

  bool active() const { return fd_ >= 0; }
  // Sends one message ("READY=1", "RELOADING=1\nMONOTONIC_USEC=..."). Never
  // blocks; a message the manager's queue refuses is dropped (logged once).
  void send(std::string_view message);

  // "RELOADING=1\nMONOTONIC_USEC=<now>": the manager requires the clock
  // with RELOADING (Type=notify-reload) to tell this reload from an older
  // one.
  void reloading();

  // The watchdog interval the manager expects pings within, in
  // microseconds; 0 when off (WATCHDOG_USEC unset, or WATCHDOG_PID names
  // a process other than this one or, supervised, its parent).
  uint64_t watchdog_usec() const { return watchdog_usec_; }

 private:
  int fd_ = -1;
  std::string address_;  // sun_path bytes; a leading NUL for abstract names
  uint64_t watchdog_usec_ = 0;
  bool warned_ = false;
};

}  // namespace pounce
