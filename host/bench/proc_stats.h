// What a server costs, read from /proc like peer-bench does: CPU time
// (user + sys) and peak resident memory (VmHWM) of a process and all its
// descendants, so that nginx's master and workers count as one server.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace pounce::bench {

// `root` and every process below it that is alive now, except the helpers
// that do not serve (is_helper_process) and what runs below them.
std::vector<pid_t> process_tree(pid_t root);

// A process a server starts that takes no part in serving: h2o's crash
// handler, `perl -x .../annotate-backtrace-symbols`, which otherwise adds
// about 40% to h2o's peak RSS. Recognised by its command line.
bool is_helper_process(pid_t pid);
bool is_helper_command_line(const std::string& cmdline);  // NULs as spaces

// CPU time of the given processes, in microseconds: user + sys of all their
// threads, plus cutime + cstime, the CPU of their children that exited and
// were reaped (a respawned nginx worker's, for one). Granularity is one
// clock tick (10 ms at USER_HZ 100), which is why runs should last seconds.
uint64_t tree_cpu_us(const std::vector<pid_t>& pids);

// The server's CPU over a window. The tree is read at both ends: a process
// that started in between counts, and one that exited in between counts
// through its parent's cutime/cstime (every process of a server is reaped
// by its parent in the tree). A helper (is_helper_process) counts neither
// way, as long as it lives, which h2o's does for the server's lifetime.
class CpuWindow {
 public:
  void open(pid_t root);
  // CPU microseconds since open(); -1 when the tree vanished.
  int64_t close();

 private:
  pid_t root_ = -1;
  uint64_t start_us_ = 0;
};

// Sum of VmHWM over the processes, in KiB. Pages shared between processes
// (nginx's master and workers) are counted in each: an upper bound for
// multi-process servers.
uint64_t tree_peak_rss_kib(const std::vector<pid_t>& pids);

// Resets each process's VmHWM to its current RSS (clear_refs "5", Linux
// 4.0+), so that a run's peak is its own. Best effort: returns false when a
// process refused.
bool reset_peak_rss(const std::vector<pid_t>& pids);

}  // namespace pounce::bench
