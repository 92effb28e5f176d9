#include "bench/proc_stats.h"

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>

namespace pounce::bench {

namespace {

// The fields after "(comm)": comm may hold spaces and parentheses, so split
// at the last ')'.
bool stat_fields(pid_t pid, std::vector<std::string>* fields) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 2));
  fields->clear();
  std::string f;
  while (rest >> f) fields->push_back(f);
  // fields[0] is field 3 (state): ppid is field 4, utime 14, stime 15,
  // cutime 16, cstime 17.
  return fields->size() >= 15;
}

}  // namespace

std::vector<pid_t> process_tree(pid_t root) {
  std::multimap<pid_t, pid_t> children;
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      char* end;
      long pid = strtol(e->d_name, &end, 10);
      if (*end != '\0' || pid <= 0) continue;
      std::vector<std::string> f;
      if (!stat_fields(static_cast<pid_t>(pid), &f)) continue;
      children.emplace(static_cast<pid_t>(atol(f[1].c_str())),
                       static_cast<pid_t>(pid));
    }
    closedir(d);
  }
  std::vector<pid_t> tree{root};
  for (size_t i = 0; i < tree.size(); ++i) {
    auto [lo, hi] = children.equal_range(tree[i]);
    for (auto it = lo; it != hi; ++it) {
      // A helper's subtree is left out with it.
      if (!is_helper_process(it->second)) tree.push_back(it->second);
    }
  }
  return tree;
}

bool is_helper_command_line(const std::string& cmdline) {
  return cmdline.find("annotate-backtrace-symbols") != std::string::npos;
}

bool is_helper_process(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline",
                   std::ios::binary);
  std::string cmdline((std::istreambuf_iterator<char>(in)), {});
  for (char& c : cmdline) {
    if (c == '\0') c = ' ';
  }
  return is_helper_command_line(cmdline);
}

uint64_t tree_cpu_us(const std::vector<pid_t>& pids) {
  static const long hz = sysconf(_SC_CLK_TCK);
  uint64_t ticks = 0;
  for (pid_t p : pids) {
    std::vector<std::string> f;
    if (!stat_fields(p, &f)) continue;
    // utime, stime, cutime, cstime (fields 14-17). cutime/cstime hold the
    // children this process waited for, and theirs in turn: a process that
    // exited is gone from the tree but not from its parent's figure.
    for (size_t i = 11; i <= 14; ++i) {
      ticks += std::strtoull(f[i].c_str(), nullptr, 10);
    }
  }
  return ticks * 1'000'000 / static_cast<uint64_t>(hz > 0 ? hz : 100);
}

void CpuWindow::open(pid_t root) {
  root_ = root;
  start_us_ = tree_cpu_us(process_tree(root));
}

int64_t CpuWindow::close() {
  if (root_ <= 0 || kill(root_, 0) != 0) return -1;
  // Read afresh: a worker respawned in the window is not in the old list,
  // and one that died is counted by its parent now.
  uint64_t end_us = tree_cpu_us(process_tree(root_));
  return end_us >= start_us_ ? static_cast<int64_t>(end_us - start_us_) : -1;
}

uint64_t tree_peak_rss_kib(const std::vector<pid_t>& pids) {
  uint64_t total = 0;
  for (pid_t p : pids) {
    std::ifstream in("/proc/" + std::to_string(p) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) {
        total += std::strtoull(line.c_str() + 6, nullptr, 10);
        break;
      }
    }
  }
  return total;
}

bool reset_peak_rss(const std::vector<pid_t>& pids) {
  bool ok = true;
  for (pid_t p : pids) {
    std::ofstream out("/proc/" + std::to_string(p) + "/clear_refs");
    out << "5";
    out.flush();
    ok = ok && out.good();
  }
  return ok;
}

}  // namespace pounce::bench
