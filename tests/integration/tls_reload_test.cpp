// Certificate reload (issue 12, section 3): SIGHUP re-reads certificates and
// keys with the plugins, all or nothing. New handshakes get the new
// certificate, open connections keep theirs, and a bad file keeps
// everything as it was. Checked under load: keep-alive connections (wrk) and
// a handshake per request (ab) run across the reload and may not fail once.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "host_process.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

class TlsReload : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pounce-tls-reload-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pki_ = std::make_unique<TestPki>(TestPki::create(dir_));
    // The host reads these two paths; the test replaces their contents.
    cert_ = dir_ + "/live.pem";
    key_ = dir_ + "/live.key";
    install(pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x1111));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Puts a certificate in place the way a deployment tool does: written
  // beside, then renamed over, so that no reader sees half a file.
  void install(const CertFiles& files) {
    fs::copy_file(files.cert_path, cert_ + ".tmp",
                  fs::copy_options::overwrite_existing);
    fs::copy_file(files.key_path, key_ + ".tmp",
                  fs::copy_options::overwrite_existing);
    fs::rename(cert_ + ".tmp", cert_);
    fs::rename(key_ + ".tmp", key_);
  }

  std::vector<std::string> host_args() const {
    return {"--plugin",   plugin_path("hello"),
            "--listen",   "https://127.0.0.1:0",
            "--tls-cert", cert_,
            "--tls-key",  key_,
            "--workers",  "2"};
  }

  // The serial of the certificate a new connection is served, as openssl
  // prints it ("serial=1111"), or what went wrong.
  static std::string served_serial(uint16_t port) {
    CommandResult r = run_command(
        {"sh", "-c",
         "openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
             " -servername localhost </dev/null 2>/dev/null | "
             "openssl x509 -noout -serial"});
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
      out.pop_back();
    }
    return out;
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::string cert_;
  std::string key_;
};

TEST_F(TlsReload, NewHandshakesGetTheNewCertificateWithoutAFailedRequest) {
  HostProcess host(host_args());
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  const uint16_t port = host.port();
  ASSERT_EQ(served_serial(port), "serial=1111");

  // Load across the reload: keep-alive connections and a handshake per
  // request. Each tool reports its failures; the test waits until both are
  // visibly running before it reloads (the access log), not for a time.
  const std::string url = "https://127.0.0.1:" + std::to_string(port) + "/";
  CommandResult wrk, ab;
  std::thread wrk_thread([&] {
    wrk = run_command({"wrk", "-t1", "-c4", "-d4s", url}, 60s);
  });
  std::thread ab_thread([&] {
    ab = run_command({"ab", "-q", "-n", "1500", "-c", "2", url}, 120s);
  });
  EXPECT_TRUE(host.wait_for_stdout("\"GET / HTTP/1.", 20s, 200));

  install(pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x2222));
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reloaded generation 2", 20s))
      << host.stderr_text();
  EXPECT_EQ(served_serial(port), "serial=2222");

  wrk_thread.join();
  ab_thread.join();
  EXPECT_EQ(wrk.status, 0) << wrk.err;
  EXPECT_NE(wrk.out.find("requests in"), std::string::npos) << wrk.out;
  EXPECT_EQ(wrk.out.find("Socket errors"), std::string::npos) << wrk.out;
  EXPECT_EQ(wrk.out.find("Non-2xx"), std::string::npos) << wrk.out;
  EXPECT_EQ(ab.status, 0) << ab.out << ab.err;
  EXPECT_NE(ab.out.find("Complete requests:      1500"), std::string::npos)
      << ab.out;
  EXPECT_NE(ab.out.find("Failed requests:        0"), std::string::npos)
      << ab.out;
  EXPECT_EQ(ab.out.find("Non-2xx"), std::string::npos) << ab.out;
}

TEST_F(TlsReload, AnOpenConnectionKeepsItsCertificate) {
  HostProcess host(host_args());
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  // One TLS connection opened before the reload, used after it: python's
  // ssl module reports the certificate that connection was given.
  const std::string script = R"(
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))),
                    server_hostname="localhost")
def get():
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while not data.endswith(b"Hello, World!"):
        chunk = s.recv(4096)
        if not chunk:
            raise SystemExit("closed")
        data += chunk
get()
der = s.getpeercert(binary_form=True)
print("ready", flush=True)
sys.stdin.readline()          # the test reloads meanwhile
get()
print("same" if s.getpeercert(binary_form=True) == der else "changed")
)";
  std::string script_path = dir_ + "/client.py";
  std::ofstream(script_path) << script;
  // The client waits on a fifo-like pipe: the test writes a line once the
  // reload is done.
  int to_client[2];
  ASSERT_EQ(pipe(to_client), 0);
  FILE* out =
      popen(("/usr/bin/python3 " + script_path + " " +
             std::to_string(host.port()) + " <&" + std::to_string(to_client[0]))
                .c_str(),
            "r");
  ASSERT_NE(out, nullptr);
  char line[64] = {};
  ASSERT_NE(fgets(line, sizeof line, out), nullptr);
  EXPECT_STREQ(line, "ready\n");

  install(pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x3333));
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reloaded generation 2", 20s));
  EXPECT_EQ(served_serial(host.port()), "serial=3333");

  ASSERT_EQ(write(to_client[1], "go\n", 3), 3);
  close(to_client[1]);
  std::string rest;
  while (fgets(line, sizeof line, out)) rest += line;
  close(to_client[0]);
  EXPECT_EQ(pclose(out), 0);
  EXPECT_EQ(rest, "same\n");
}

TEST_F(TlsReload, ABadFileKeepsEverythingAsItWas) {
  HostProcess host(host_args());
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  // A certificate that is not PEM at all.
  std::ofstream(cert_ + ".tmp") << "not a certificate\n";
  fs::rename(cert_ + ".tmp", cert_);
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reload failed: " + cert_ + ": ", 20s))
      << host.stderr_text();
  EXPECT_EQ(served_serial(host.port()), "serial=1111");

  // A key that belongs to another certificate: named too.
  CertFiles other = pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x4444);
  fs::copy_file(other.cert_path, cert_, fs::copy_options::overwrite_existing);
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reload failed: " + key_ + ": ", 20s))
      << host.stderr_text();
  EXPECT_EQ(served_serial(host.port()), "serial=1111");

  // Fixed: the next reload takes it.
  fs::copy_file(other.key_path, key_, fs::copy_options::overwrite_existing);
  host.signal(SIGHUP);
  ASSERT_TRUE(host.wait_for_stderr("reloaded generation 2", 20s))
      << host.stderr_text();
  EXPECT_EQ(served_serial(host.port()), "serial=4444");
}

TEST_F(TlsReload, StartupNamesTheBadFile) {
  std::ofstream(key_) << "garbage\n";
  HostOptions o;
  o.args = host_args();
  o.startup_timeout = 10s;
  HostProcess host(o);
  EXPECT_FALSE(host.ok());
  EXPECT_NE(host.wait_exit(20s), 0);
  EXPECT_NE(host.stderr_text().find(key_ + ": "), std::string::npos)
      << host.stderr_text();
}

}  // namespace
