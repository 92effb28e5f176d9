#include "bench/environment.h"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <random>

#include "bench/subprocess.h"

namespace pounce::bench {

namespace {

std::string os_release() {
  std::ifstream in("/etc/os-release");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        v = v.substr(1, v.size() - 2);
      }
      return v;
    }
  }
  return "unknown";
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "unknown";
}

}  // namespace

nlohmann::json build_info() {
  nlohmann::json b;
#if defined(__clang__)
  b["compiler"] = "clang";
#elif defined(__GNUC__)
  b["compiler"] = "g++";
#else
  b["compiler"] = "unknown";
#endif
  b["compiler_version"] = __VERSION__;
#ifdef POUNCE_BUILD_TYPE
  b["build_type"] = POUNCE_BUILD_TYPE;
  b["build_type_source"] = "cmake";
#else
#ifdef NDEBUG
  b["build_type"] = "Release (inferred: NDEBUG)";
#else
  b["build_type"] = "Debug (inferred: no NDEBUG)";
#endif
  b["build_type_source"] = "inferred";
#endif
#ifdef POUNCE_CXX_FLAGS
  b["flags"] = POUNCE_CXX_FLAGS;
#else
  b["flags"] = "unknown (POUNCE_CXX_FLAGS not defined by the build)";
#endif
#ifdef __OPTIMIZE__
  b["optimized"] = true;
#else
  b["optimized"] = false;
#endif
#ifdef NDEBUG
  b["ndebug"] = true;
#else
  b["ndebug"] = false;
#endif
#if defined(__SANITIZE_ADDRESS__)
  b["sanitizers"] = "address";
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  b["sanitizers"] = "address";
#else
  b["sanitizers"] = "none";
#endif
#else
  b["sanitizers"] = "none";
#endif
  return b;
}

nlohmann::json host_info() {
  nlohmann::json h;
  h["os"] = os_release();
  utsname u{};
  if (uname(&u) == 0) {
    h["kernel"] = std::string(u.sysname) + " " + u.release;
    h["machine"] = u.machine;
    h["hostname"] = u.nodename;
  }
  h["cpu_model"] = cpu_model();
  h["cpu_count"] = sysconf(_SC_NPROCESSORS_ONLN);
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    h["cpus_allowed"] = CPU_COUNT(&set);
  }
  double load[3];
  if (getloadavg(load, 3) == 3) h["load_average"] = {load[0], load[1], load[2]};
  return h;
}

std::string git_sha(const std::string& dir, bool* dirty) {
  *dirty = false;
  Captured head = capture({"git", "-C", dir, "rev-parse", "HEAD"});
  std::string sha = first_line(head.output);
  if (head.status != 0 || sha.size() != 40) return "unknown";
  Captured status = capture(
      {"git", "-C", dir, "status", "--porcelain", "--untracked-files=no"});
  *dirty = status.status == 0 && !status.output.empty();
  return sha;
}

std::string utc_timestamp() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string make_artifact_id() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  std::random_device rd;
  char id[64];
  snprintf(id, sizeof id, "bench-%s-%08x", stamp, rd());
  return id;
}

}  // namespace pounce::bench
