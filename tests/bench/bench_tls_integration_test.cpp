// `pounce-host bench --tls` against real servers. The peers (nginx, h2o)
// get the bench's own generated TLS configs (peer_target with the run's
// certificate) and are loaded by the real load generator over TLS, with
// body checks on: right bodies are good, a wrong expected body is counted
// wrong over TLS as in cleartext. Then the CLI over https (--url), with
// --new-conn and --tls-resume. The full `--tls --compare nginx,h2o` run
// needs pounce-host to serve TLS and is skipped, saying so, until it does.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/load_generator.h"
#include "bench/options.h"
#include "bench/server_process.h"
#include "bench/subprocess.h"
#include "bench/targets.h"
#include "bench/tls_cert.h"
#include "host_process.h"

using nlohmann::json;
using namespace pounce::bench;
using pounce::test::CommandResult;
using pounce::test::host_binary;
using pounce::test::run_command;
using namespace std::chrono_literals;

namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/bench-tls-it.XXXXXX";
    if (mkdtemp(tmpl)) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

json read_json(const std::string& path) {
  std::ifstream in(path);
  return json::parse(in, nullptr, /*allow_exceptions=*/false);
}

// A peer started from the bench's own TLS config, for one test.
class TlsPeer {
 public:
  TlsPeer(const std::string& name, const TlsCertificate& cert,
          const std::string& dir) {
    BenchOptions o;
    o.tls = true;
    target_ = peer_target(name, o, dir, &cert);
    if (!target_.available) {
      skip_ = target_.unavailable_reason + " (make deps installs it)";
      return;
    }
    std::string error;
    if (!server_.start(target_.command, &error) ||
        !server_.wait_port(target_.port, 20s, &error)) {
      failure_ = name + " did not start with its TLS config: " + error;
    }
  }
  const std::string& skip() const { return skip_; }
  const std::string& failure() const { return failure_; }
  uint16_t port() const { return target_.port; }
  pid_t pid() const { return server_.pid(); }
  const Target& target() const { return target_; }

 private:
  Target target_;
  ServerProcess server_;
  std::string skip_, failure_;
};

LoadResult load(uint16_t port, const std::string& body, bool new_conn,
                bool resume) {
  LoadConfig c;
  c.port = port;
  c.tls = true;
  c.tls_options.resume = resume;
  c.new_conn = new_conn;
  c.request = std::string("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n") +
              (new_conn ? "Connection: close\r\n" : "") + "\r\n";
  c.expected_body = body;
  c.connections = 4;
  c.duration_s = 0.5;
  LoadGenerator g(c);
  return g.run(nullptr, nullptr);
}

void check_peer(const std::string& name) {
  TempDir dir;
  TlsCertificate cert;
  std::string error;
  ASSERT_TRUE(make_throwaway_certificate(dir.path(), &cert, &error)) << error;
  TlsPeer peer(name, cert, dir.path());
  if (!peer.skip().empty()) GTEST_SKIP() << peer.skip();
  ASSERT_TRUE(peer.failure().empty()) << peer.failure();

  LoadResult r = load(peer.port(), "Hello, World!", false, false);
  EXPECT_TRUE(r.connected) << r.tls_error;
  EXPECT_GT(r.counters.completed, 0u) << r.tls_error;
  EXPECT_EQ(r.counters.good(), r.counters.completed) << "bodies over TLS";
  EXPECT_EQ(r.counters.socket_errors(), 0u) << r.tls_error;
  EXPECT_EQ(r.tls.version, "TLSv1.3");
  EXPECT_EQ(r.tls.peer_key, "EC prime256v1");
  EXPECT_EQ(r.tls.peer_cert_sha256, cert.sha256)
      << name << " must present the run's certificate";
  // Keep-alive: one handshake per connection (made before the window,
  // counted with it as connect errors are), none per request.
  EXPECT_EQ(r.counters.tls_handshakes, 4u);
  EXPECT_EQ(r.counters.tls_resumed, 0u);

  // The body check still bites over TLS.
  LoadResult wrong = load(peer.port(), "Hello, World?", false, false);
  EXPECT_GT(wrong.counters.completed, 0u);
  EXPECT_EQ(wrong.counters.wrong_body, wrong.counters.completed);
  EXPECT_EQ(wrong.counters.good(), 0u);

  // One request per connection, full handshakes, then resumed ones.
  LoadResult full = load(peer.port(), "Hello, World!", true, false);
  EXPECT_GT(full.counters.completed, 0u) << full.tls_error;
  EXPECT_EQ(full.counters.good(), full.counters.completed);
  EXPECT_GE(full.counters.tls_handshakes, full.counters.completed);
  EXPECT_EQ(full.counters.tls_resumed, 0u);
  LoadResult resumed = load(peer.port(), "Hello, World!", true, true);
  EXPECT_GT(resumed.counters.completed, 0u) << resumed.tls_error;
  EXPECT_EQ(resumed.counters.good(), resumed.counters.completed);
  EXPECT_GT(resumed.counters.tls_resumed, 0u)
      << name << " resumes nothing: sessions are not offered or refused";
}

}  // namespace

TEST(BenchTls, NginxWithTheBenchTlsConfigServesRightBodies) {
  check_peer("nginx");
}

TEST(BenchTls, H2oWithTheBenchTlsConfigServesRightBodies) {
  check_peer("h2o");
}

// The CLI over https: the artifact says TLS, what was agreed, and how
// many handshakes resumed.
TEST(BenchTls, UrlOverHttpsRecordsTheTransportAndResumption) {
  TempDir dir;
  TlsCertificate cert;
  std::string error;
  ASSERT_TRUE(make_throwaway_certificate(dir.path(), &cert, &error)) << error;
  TlsPeer peer("nginx", cert, dir.path());
  if (!peer.skip().empty()) GTEST_SKIP() << peer.skip();
  ASSERT_TRUE(peer.failure().empty()) << peer.failure();
  const std::string out = dir.path() + "/a.json";
  const std::string url =
      "https://127.0.0.1:" + std::to_string(peer.port()) + "/hello";
  CommandResult r =
      run_command({host_binary(), "bench", "--url", url, "--workload", "hello",
                   "--duration", "1", "--connections", "4", "--new-conn",
                   "--tls-resume", "--no-progress", "--artifact-output", out},
                  120s);
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("TLS: every server over https"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("NEW CONNECTION PER REQUEST (TLS session resumed)"),
            std::string::npos)
      << r.out;
  json a = read_json(out);
  ASSERT_FALSE(a.is_discarded());
  EXPECT_EQ(a["transport"], "https");
  EXPECT_EQ(a["connection_mode"], "new connection per request, TLS resumed");
  EXPECT_EQ(a["tls"]["client_version"], "TLSv1.3");
  ASSERT_EQ(a["samples"].size(), 1u);
  const json& s = a["samples"][0];
  EXPECT_EQ(s["tls"]["version"], "TLSv1.3");
  EXPECT_EQ(s["tls"]["server_certificate_sha256"], cert.sha256);
  EXPECT_GT(s["tls"]["handshakes"].get<uint64_t>(), 0u);
  EXPECT_GT(s["tls"]["resumed"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["errors"]["total"], 0);
}

// The whole thing: pounce, nginx and h2o over TLS with one certificate.
TEST(BenchTls, CompareRunsPounceNginxAndH2oOverTls) {
  TempDir dir;
  const std::string out = dir.path() + "/a.json";
  CommandResult r = run_command(
      {host_binary(), "bench", "--tls", "--workload", "hello,json,echo",
       "--duration", "1", "--connections", "4", "--compare", "nginx,h2o",
       "--no-progress", "--artifact-output", out},
      180s);
  if (r.err.find("does not serve TLS") != std::string::npos) {
    GTEST_SKIP() << "pounce-host does not serve TLS in this build yet "
                    "(--listen https:// prints an http:// startup line): "
                    "the --tls run against pounce waits for the server side";
  }
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  json a = read_json(out);
  ASSERT_FALSE(a.is_discarded());
  EXPECT_EQ(a["transport"], "https");
  ASSERT_TRUE(a["tls"].contains("certificate"));
  const std::string sha = a["tls"]["certificate"]["sha256"];
  for (const json& s : a["samples"]) {
    SCOPED_TRACE(s["workload"].get<std::string>() + " " +
                 s["server"].get<std::string>());
    EXPECT_EQ(s["tls"]["version"], "TLSv1.3");
    EXPECT_EQ(s["tls"]["server_certificate_sha256"], sha);
    EXPECT_EQ(s["errors"]["total"], 0);
    EXPECT_EQ(s["good"], s["completed"]);
  }
}

// sse and WebSocket over TLS (only pounce serves them).
TEST(BenchTls, StreamsAndWebSocketsOverTls) {
  TempDir dir;
  const std::string out = dir.path() + "/a.json";
  std::string workloads = "ws-64,ws-64-deflate";
  if (access((std::string(POUNCE_PLUGIN_DIR) + "/libsse.so").c_str(), R_OK) ==
      0) {
    workloads += ",sse";
  }
  CommandResult r = run_command(
      {host_binary(), "bench", "--tls", "--workload", workloads, "--duration",
       "1", "--connections", "4", "--no-progress", "--artifact-output", out},
      180s);
  if (r.err.find("does not serve TLS") != std::string::npos) {
    GTEST_SKIP() << "pounce-host does not serve TLS in this build yet";
  }
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  json a = read_json(out);
  ASSERT_FALSE(a.is_discarded());
  for (const json& s : a["samples"]) {
    SCOPED_TRACE(s["workload"].get<std::string>());
    EXPECT_EQ(s["tls"]["version"], "TLSv1.3");
    EXPECT_GT(s["completed"].get<uint64_t>(), 0u);
    EXPECT_EQ(s["errors"]["total"], 0);
  }
}
