// What a server costs, read from /proc like peer-bench does: CPU time
// (user + sys) and peak resident memory (VmHWM) of a process and all its
// descendants, so that nginx's master and workers count as one server.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <vector>

namespace pounce::bench {

// `root` and every process below it that is alive now.
std::vector<pid_t> process_tree(pid_t root);

// user + sys CPU time of the given processes (all their threads), in
// microseconds. Granularity is one clock tick (10 ms at USER_HZ 100), which
// is why runs should last seconds.
uint64_t tree_cpu_us(const std::vector<pid_t>& pids);

// Sum of VmHWM over the processes, in KiB. Pages shared between processes
// (nginx's master and workers) are counted in each: an upper bound for
// multi-process servers.
uint64_t tree_peak_rss_kib(const std::vector<pid_t>& pids);

// Resets each process's VmHWM to its current RSS (clear_refs "5", Linux
// 4.0+), so that a run's peak is its own. Best effort: returns false when a
// process refused.
bool reset_peak_rss(const std::vector<pid_t>& pids);

}  // namespace pounce::bench
