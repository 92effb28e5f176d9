// Helpers shared by the operations tests (issue 14): the admin listener's
// port, Unix-socket requests through curl, and a private directory.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "host_process.h"
#include "raw_client.h"

namespace pounce::test {

// A fresh directory under /tmp, removed with what is in it. Short, so that
// socket paths in it stay far below sun_path's 108 bytes.
class OpsTempDir {
 public:
  OpsTempDir() {
    char tmpl[] = "/tmp/pounce-ops-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~OpsTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  const std::string& path() const { return dir_; }
  std::string file(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

// The real port of the admin listener, from the startup line
// "pounce-host: admin on http://127.0.0.1:PORT" (0 when absent).
inline uint16_t admin_port(HostProcess& h) {
  if (!h.wait_for_stderr("pounce-host: admin on http://")) return 0;
  const std::string err = h.stderr_text();
  const std::string marker = "pounce-host: admin on http://";
  size_t at = err.find(marker) + marker.size();
  size_t line_end = err.find('\n', at);
  std::string hostport = err.substr(at, line_end - at);
  return static_cast<uint16_t>(
      std::stoi(hostport.substr(hostport.rfind(':') + 1)));
}

inline std::optional<HttpResponse> get_response(uint16_t port,
                                                const std::string& path) {
  return one_request(port, "GET " + path +
                               " HTTP/1.1\r\nHost: x\r\nConnection: "
                               "close\r\n\r\n");
}

// curl over a Unix socket: the body, then "\n" and the status code.
struct CurlResult {
  int status = 0;  // HTTP status, 0 when curl failed
  std::string body;
  std::string stderr_text;
};
inline CurlResult curl_unix(const std::string& socket_path,
                            const std::string& path) {
  CommandResult r = run_command({"curl", "-s", "-S", "--max-time", "10",
                                 "--unix-socket", socket_path, "-w",
                                 "\n%{http_code}", "http://localhost" + path});
  CurlResult out;
  out.stderr_text = r.err;
  size_t nl = r.out.rfind('\n');
  if (nl == std::string::npos) return out;
  out.body = r.out.substr(0, nl);
  out.status = std::atoi(r.out.c_str() + nl + 1);
  return out;
}

}  // namespace pounce::test
