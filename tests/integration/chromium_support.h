// Headless Chromium for the integration tests that drive a real browser
// (tls_browser_test, early_hints_browser_test): where the binary is, and the
// browser in its own process group, ended with everything it started.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_files.h"

extern char** environ;

namespace pounce::test {

// The chromium binary: $POUNCE_CHROMIUM, else `chromium` on the PATH.
inline std::string find_chromium() {
  if (const char* env = getenv("POUNCE_CHROMIUM"); env && *env) {
    return access(env, X_OK) == 0 ? env : "";
  }
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    std::string candidate = (dir.empty() ? "." : dir) + "/chromium";
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// Headless Chromium in its own process group (it forks a zygote, a GPU and
// renderer processes), its output in a file; the destructor ends the whole
// group, which is ours alone. The test process is a child subreaper, so
// that the helpers that outlive the browser are reaped here rather than
// left as zombies under an init that may not reap.
class Chromium {
 public:
  // `dir`: a directory of the test's own, for the profile, HOME and the
  // browser's output.
  // `extra`: more switches, before the URL.
  Chromium(const std::string& binary, const std::string& dir,
           const std::string& spki, const std::string& url,
           const std::vector<std::string>& extra = {})
      : log_(dir + "/chromium.log") {
    std::vector<std::string> args = {
        binary,
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--user-data-dir=" + dir + "/profile",
        "--ignore-certificate-errors-spki-list=" + spki,
    };
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(url);
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    // HOME in the temporary directory: nothing lands in the real one.
    std::vector<std::string> env_store;
    for (char** e = environ; *e; ++e) {
      if (strncmp(*e, "HOME=", 5) != 0) env_store.emplace_back(*e);
    }
    env_store.push_back("HOME=" + dir);
    std::vector<char*> envp;
    for (std::string& e : env_store) envp.push_back(e.data());
    envp.push_back(nullptr);

    prctl(PR_SET_CHILD_SUBREAPER, 1);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    if (posix_spawn(&pid_, argv[0], &actions, &attr, argv.data(),
                    envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
  }

  ~Chromium() {
    if (pid_ <= 0) return;
    // The group id is the child's pid (POSIX_SPAWN_SETPGROUP with 0).
    kill(-pid_, SIGTERM);
    if (!reap(std::chrono::seconds(5))) {
      kill(-pid_, SIGKILL);
      reap(std::chrono::seconds(10));
    }
    kill(-pid_, SIGKILL);  // any helper process that outlived the browser
    // Its members are our children now (subreaper): reap them all.
    while (waitpid(-pid_, nullptr, 0) > 0) {
    }
  }

  bool started() const { return pid_ > 0; }
  // The end of its output (the start is mostly D-Bus complaints).
  std::string output() const {
    std::string text = read_file(log_);
    constexpr size_t kKeep = 16384;
    return text.size() > kKeep ? "..." + text.substr(text.size() - kKeep)
                               : text;
  }

 private:
  bool reap(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || r < 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string log_;
  pid_t pid_ = -1;
};

}  // namespace pounce::test
