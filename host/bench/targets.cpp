#include "bench/targets.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "bench/subprocess.h"
#include "bench/workload.h"

namespace pounce::bench {

namespace {

// The hello plugin's responses (plugins/hello/hello.c), which the peers
// must reproduce byte for byte.
constexpr char kHelloBody[] = "Hello, World!";
constexpr char kJsonBody[] = "{\"message\":\"Hello, World!\"}";

// The hello plugin's /big (65,536 bytes, 'a'..'z' repeated), which the
// peers serve as a static file.
std::string big_body() {
  std::string body(65536, 'a');
  for (size_t i = 0; i < body.size(); ++i) {
    body[i] = static_cast<char>('a' + i % 26);
  }
  return body;
}

// What a peer adds to HTTP/1.1 responses that pounce does not send; over
// HTTP/2 there is no Connection field.
std::string keep_alive_note(const BenchOptions& o) {
  return o.h2 ? "" : "; adds Connection: keep-alive";
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  return out.good();
}

int server_cpu(const BenchOptions& o) {
  return o.pin ? 0 : -1;
}

// The idle workload opens its connections one by one (with --tls, a
// handshake each) and then reads memory: that can take longer than a
// server's default idle timeout (pounce 5 s, h2o 10 s), and a server that
// closed connections would look cheap. Every server then gets nginx's
// default, 75 s.
constexpr int kIdleTimeoutS = 75;

bool measures_idle(const BenchOptions& o) {
  return std::find(o.workloads.begin(), o.workloads.end(), "idle") !=
         o.workloads.end();
}

// nginx: `return 200` answers from memory, with default_type as the
// Content-Type. Everything that would cost per request and that the other
// servers do not do (access log, keep-alive request limit) is off, and the
// Server header is as short as pounce's. What cannot be made the same is
// said in t.differences.
// With --tls: the same listener with `ssl`, the run's certificate, the
// versions pounce accepts by default (the client pins one), and stateless
// session tickets as pounce has them (nginx's default; no session cache).
// With --h2: `http2` on the listener (nginx 1.22's syntax): ALPN h2 with
// `ssl`, and h2c with prior knowledge without it (such a listener speaks
// nothing but h2c). keepalive_requests bounds HTTP/2 requests per
// connection too since nginx 1.19.7.
// /big is a static file, without ETag and ranges (pounce sends neither);
// nginx cannot drop its Last-Modified without a module.
Target nginx_target(Target t, const BenchOptions& o, const std::string& dir,
                    const TlsCertificate* cert) {
  std::string conf_path = dir + "/nginx.conf";
  std::string big_path = dir + "/big.txt";
  std::string tls;
  if (cert) {
    tls = "    ssl_certificate " + cert->cert_path +
          ";\n"
          "    ssl_certificate_key " +
          cert->key_path +
          ";\n"
          "    ssl_protocols TLSv1.2 TLSv1.3;\n"
          "    ssl_session_tickets on;\n";
  }
  std::string conf =
      // As root, nginx's workers would drop to `nobody`, who cannot read
      // the private work directory that holds /big.
      std::string(geteuid() == 0 ? "user root;\n" : "") + "worker_processes " +
      std::to_string(o.workers) +
      ";\n"
      "daemon off;\n"
      "pid " +
      dir +
      "/nginx.pid;\n"
      "error_log " +
      dir +
      "/error.log;\n"
      "events { worker_connections 10000; }\n"
      "http {\n"
      "  access_log off;\n"
      "  server_tokens off;\n"
      "  keepalive_requests 10000000;\n"
      "  server {\n"
      "    listen 127.0.0.1:" +
      std::to_string(t.port) + (cert ? " ssl" : "") + (o.h2 ? " http2" : "") +
      " reuseport;\n" + tls +
      "    location = /hello { default_type text/plain; return 200 \"" +
      kHelloBody +
      "\"; }\n"
      "    location = /json { default_type application/json; return 200 '" +
      kJsonBody +
      "'; }\n"
      "    location = /big { alias " +
      big_path +
      "; default_type text/plain; etag off; max_ranges 0; }\n"
      "  }\n"
      "}\n";
  if (!write_file(conf_path, conf) || !write_file(big_path, big_body())) {
    t.available = false;
    t.unavailable_reason = "cannot write " + conf_path;
    return t;
  }
  const std::string ka = keep_alive_note(o);
  t.differences = {
      {"hello", "answers from its config (no handler call per request)" + ka},
      {"json",
       "returns a constant string where pounce serializes the object per "
       "request" +
           ka},
      {"big",
       "serves a static file (pounce: a plugin's memory); adds "
       "Last-Modified" +
           ka}};
  // -e: nginx opens its compiled-in error log before reading the config.
  t.command.argv = {t.binary, "-c", conf_path,         "-p",
                    dir,      "-e", dir + "/error.log"};
  return t;
}

// The handler of one h2o path. With mruby (Debian's h2o has it), a Ruby
// proc answers from memory, as a plugin call does in pounce; otherwise a
// static file, minus the validators pounce does not send.
std::string h2o_path(bool mruby, const std::string& file,
                     const char* content_type, const char* body) {
  if (!mruby) {
    return "        file.file: " + file +
           "\n"
           "        file.etag: OFF\n"
           "        header.unset: last-modified\n"
           "        header.unset: accept-ranges\n";
  }
  // h2o adds the Content-Length of an Array body.
  std::string quoted;
  for (const char* c = body; *c; ++c) {
    if (*c == '"' || *c == '\\') quoted += '\\';
    quoted += *c;
  }
  return std::string(
             "        mruby.handler: |\n"
             "          Proc.new do |env|\n"
             "            [200, {\"content-type\" => \"") +
         content_type + "\"}, [\"" + quoted +
         "\"]]\n"
         "          end\n";
}

// h2o: an mruby handler per path when h2o has mruby, else static files
// typed by extension (.txt text/plain, .json application/json).
// With --tls: the listener gets `ssl` with the run's certificate and
// pounce's default minimum version; session resumption is h2o's default
// (cache and tickets). HTTP/2 needs nothing: h2o offers ALPN h2 on TLS and
// takes h2c with prior knowledge on a plain listener. /big is a static
// file.
Target h2o_target(Target t, const BenchOptions& o, const std::string& dir,
                  const TlsCertificate* cert) {
  std::string www = dir + "/www";
  mkdir(www.c_str(), 0755);
  const bool mruby = t.version_text.find("mruby: YES") != std::string::npos;
  std::string conf_path = dir + "/h2o.conf";
  std::string conf =
      "user: root\n"
      "listen:\n"
      "  host: 127.0.0.1\n"
      "  port: " +
      std::to_string(t.port) + "\n" +
      (cert ? "  ssl:\n"
              "    certificate-file: " +
                  cert->cert_path +
                  "\n"
                  "    key-file: " +
                  cert->key_path +
                  "\n"
                  "    minimum-version: TLSv1.2\n"
            : std::string()) +
      "num-threads: " + std::to_string(o.workers) +
      "\n"
      "error-log: " +
      dir +
      "/error.log\n"
      "pid-file: " +
      dir +
      "/h2o.pid\n"
      "server-name: h2o\n" +
      (measures_idle(o)
           ? "http1-request-timeout: " + std::to_string(kIdleTimeoutS) +
                 "\n"
                 "http2-idle-timeout: " +
                 std::to_string(kIdleTimeoutS) + "\n"
           : std::string()) +
      "hosts:\n"
      "  default:\n"
      "    paths:\n"
      "      /hello:\n" +
      h2o_path(mruby, www + "/hello.txt", "text/plain", kHelloBody) +
      "      /json:\n" +
      h2o_path(mruby, www + "/hello.json", "application/json", kJsonBody) +
      "      /big:\n" + h2o_path(false, www + "/big.txt", "text/plain", "");
  const std::string how =
      mruby ? "answers from an mruby handler"
            : "serves a file (opened per request; no mruby in this h2o)";
  const std::string ka = keep_alive_note(o);
  t.differences = {
      {"hello", how + ka},
      {"json", how +
                   " with a constant string where pounce serializes the "
                   "object per request" +
                   ka},
      {"big", "serves a static file (pounce: a plugin's memory)" + ka}};
  if (!write_file(www + "/hello.txt", kHelloBody) ||
      !write_file(www + "/big.txt", big_body()) ||
      !write_file(www + "/hello.json", kJsonBody) ||
      !write_file(conf_path, conf)) {
    t.available = false;
    t.unavailable_reason = "cannot write the h2o config in " + dir;
    return t;
  }
  t.command.argv = {t.binary, "-c", conf_path};
  return t;
}

}  // namespace

bool Target::serves(const std::string& workload) const {
  return std::find(workloads.begin(), workloads.end(), workload) !=
         workloads.end();
}

std::string dir_of(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Target pounce_target(const std::string& self, const std::string& plugin_dir,
                     const BenchOptions& o, const std::string& work_dir,
                     const TlsCertificate* cert) {
  Target t;
  t.name = "pounce";
  t.binary = self;
  t.version = POUNCE_VERSION;
  t.available = true;
  t.command.name = "pounce";
  t.command.log_path = work_dir + "/pounce.log";
  t.command.cpu = server_cpu(o);
  t.command.argv = {self};
  // Mount points of ARCHITECTURE.md §3 "Bench".
  struct Mount {
    const char* prefix;
    const char* file;
  };
  const Mount mounts[] = {
      {"", "libhello.so"}, {"/echo", "libecho.so"}, {"/sse", "libsse.so"}};
  for (const Mount& m : mounts) {
    std::string path = plugin_dir + "/" + m.file;
    if (!exists(path)) continue;
    t.command.argv.push_back("--plugin");
    t.command.argv.push_back(*m.prefix ? std::string(m.prefix) + "=" + path
                                       : path);
  }
  std::vector<std::string> listen = {"--port", "0"};
  if (cert) {
    t.tls = true;
    t.command.url_scheme = "https";
    listen = {"--listen",      "https://127.0.0.1:0", "--tls-cert",
              cert->cert_path, "--tls-key",           cert->key_path};
  }
  for (const std::string& a : listen) t.command.argv.push_back(a);
  for (const std::string& a :
       {std::string("--workers"), std::to_string(o.workers),
        std::string("--no-access-log")}) {
    t.command.argv.push_back(a);
  }
  if (measures_idle(o)) {
    t.command.argv.push_back("--keep-alive-timeout");
    t.command.argv.push_back(std::to_string(kIdleTimeoutS));
  }
  // Last, so that they override what the bench chose.
  for (const std::string& a : o.server_args) t.command.argv.push_back(a);
  for (const Workload& w : all_workloads()) {
    if (!w.implemented) {
      t.missing.emplace_back(w.name, w.unavailable_reason);
    } else if (!exists(plugin_dir + "/" + w.plugin_file)) {
      t.missing.emplace_back(w.name, std::string(w.plugin_file) + " not built");
    } else {
      t.workloads.push_back(w.name);
    }
  }
  return t;
}

Target external_target(const std::string& url) {
  Target t;
  t.name = "external";
  t.command.name = "external";
  std::string rest = url.substr(url.find("//") + 2);
  size_t slash = rest.find('/');
  std::string hostport = rest.substr(0, slash);
  t.path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = hostport.rfind(':');
  t.host = hostport.substr(0, colon);
  t.tls = url.rfind("https://", 0) == 0;
  int port = colon == std::string::npos ? (t.tls ? 443 : 80)
                                        : atoi(hostport.c_str() + colon + 1);
  if (port <= 0 || port > 65535 || t.host.empty()) {
    t.unavailable_reason = "cannot parse " + url;
    return t;
  }
  t.port = static_cast<uint16_t>(port);
  t.available = true;
  t.version = "unknown";
  for (const Workload& w : all_workloads()) {
    if (w.implemented) t.workloads.push_back(w.name);
  }
  return t;
}

Target peer_target(const std::string& name, const BenchOptions& o,
                   const std::string& work_dir, const TlsCertificate* cert) {
  Target t;
  t.name = name;
  t.binary = find_in_path(name);
  if (t.binary.empty()) {
    t.unavailable_reason = name + " not found in PATH";
    return t;
  }
  Captured v = capture({t.binary, name == "nginx" ? "-v" : "--version"});
  t.version = first_line(v.output);
  t.version_text = v.output;
  t.available = true;
  std::string dir = work_dir + "/" + name;
  mkdir(dir.c_str(), 0755);
  t.port = pick_free_port();
  t.command.name = name;
  t.command.log_path = dir + "/output.log";
  t.command.cpu = server_cpu(o);
  for (const Workload& w : all_workloads()) {
    if (w.peers_serve) t.workloads.push_back(w.name);
  }
  t.tls = cert != nullptr;
  return name == "nginx" ? nginx_target(std::move(t), o, dir, cert)
                         : h2o_target(std::move(t), o, dir, cert);
}

}  // namespace pounce::bench
