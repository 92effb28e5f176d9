// What plugins and the access log see of TLS (issue 12 §4), over https:
// request_tls gives the same facts in every kind of hook (sync, blocking,
// async, on_ws_upgrade), with the client certificate's subject, issuer,
// serial, fingerprint and verification result, and whether the session was
// resumed. The client is python3's ssl module (and websockets for wss://).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host_process.h"
#include "test_certs.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// argv: port cert|- key|- ; prints one JSON body per line: three requests
// on one connection (sync, blocking, async), the first message of a wss://
// upgrade, then the sync answer on a second connection that resumes the
// first one's session.
constexpr const char* kClient = R"PY(
import asyncio, socket, ssl, sys
import websockets
port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_alpn_protocols(["http/1.1"])
if cert != "-":
    ctx.load_cert_chain(cert, key)

def get(s, path):
    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n\r\n" % path).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    head, body = data.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n")
                  if l.lower().startswith(b"content-length:")][0])
    while len(body) < length:
        body += s.recv(65536)
    return body.decode()

def connect(session=None):
    raw = socket.create_connection(("127.0.0.1", port))
    return ctx.wrap_socket(raw, server_hostname="localhost", session=session)

s = connect()
for path in ("/sync/x", "/blocking/x", "/async/x"):
    print(get(s, path), flush=True)
session = s.session

async def ws():
    async with websockets.connect("wss://localhost:%d/ws" % port, ssl=ctx,
                                  host="127.0.0.1", port=port,
                                  server_hostname="localhost") as c:
        print(await c.recv(), flush=True)
asyncio.run(ws())

s.close()
s2 = connect(session)
print(get(s2, "/sync/x"), flush=True)
)PY";

std::string field(const std::string& json, const std::string& name) {
  // Flat JSON from the test plugin: "name":value up to the next , or }.
  const std::string key = "\"" + name + "\":";
  size_t at = json.find(key);
  if (at == std::string::npos) return "(absent)";
  at += key.size();
  if (json[at] == '"') {
    size_t end = json.find('"', at + 1);
    return json.substr(at + 1, end - at - 1);
  }
  size_t end = json.find_first_of(",}", at);
  return json.substr(at, end - at);
}

class TlsInfoHttps : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pounce-tls-info-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pki_ = std::make_unique<TestPki>(TestPki::create(dir_));
    server_ = pki_->server_cert({"localhost"});
    std::ofstream(dir_ + "/client.py") << kClient;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "--plugin",          test_plugin_path("tls_info"),
        "--listen",          "https://127.0.0.1:0",
        "--tls-cert",        server_.cert_path,
        "--tls-key",         server_.key_path,
        "--tls-client-ca",   pki_->ca_cert(),
        "--tls-client-auth", "optional"};
    args.insert(args.end(), extra.begin(), extra.end());
    host_ = std::make_unique<HostProcess>(args);
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }

  // The five JSON lines of kClient.
  std::vector<std::string> run_client(const CertFiles* client) {
    CommandResult r = run_command(
        {"/usr/bin/python3", dir_ + "/client.py", std::to_string(host_->port()),
         client ? client->cert_path : "-", client ? client->key_path : "-"},
        60s);
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    std::vector<std::string> lines;
    size_t at = 0;
    while (at < r.out.size()) {
      size_t nl = r.out.find('\n', at);
      if (nl == std::string::npos) nl = r.out.size();
      lines.push_back(r.out.substr(at, nl - at));
      at = nl + 1;
    }
    EXPECT_EQ(lines.size(), 5u) << r.out << r.err;
    return lines;
  }

  static std::string sha256_of(const std::string& cert) {
    CommandResult r = run_command(
        {"openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"});
    std::string hex;
    for (char c : r.out.substr(r.out.find('=') + 1)) {
      if (std::isxdigit(static_cast<unsigned char>(c))) {
        hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    return hex;
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  CertFiles server_;
  std::unique_ptr<HostProcess> host_;
};

TEST_F(TlsInfoHttps, EveryHookSeesTheConnectionAndItsClientCertificate) {
  start();
  CertFiles alice = pki_->client_cert("alice");
  std::vector<std::string> lines = run_client(&alice);
  ASSERT_EQ(lines.size(), 5u);
  const char* modes[] = {"sync", "blocking", "async", "ws_upgrade", "sync"};
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& j = lines[i];
    SCOPED_TRACE(j);
    EXPECT_EQ(field(j, "mode"), modes[i]);
    EXPECT_EQ(field(j, "tls"), "true");
    EXPECT_EQ(field(j, "rc"), "1");
    EXPECT_EQ(field(j, "version"), "TLSv1.3");
    EXPECT_EQ(field(j, "sni"), "localhost");
    EXPECT_EQ(field(j, "client_cert"), "true");
    EXPECT_NE(field(j, "subject").find("CN=alice"), std::string::npos);
    EXPECT_NE(field(j, "issuer"), "(absent)");
    EXPECT_EQ(field(j, "serial"), TestPki::serial_hex(alice.cert_path));
    EXPECT_EQ(field(j, "sha256"), sha256_of(alice.cert_path));
    EXPECT_EQ(field(j, "verify_result"), "0");
    EXPECT_EQ(field(j, "verify_text"), "ok");
  }
  // The websockets client offers no ALPN; the others offer http/1.1.
  EXPECT_EQ(field(lines[0], "alpn"), "http/1.1");
  EXPECT_EQ(field(lines[0], "resumed"), "false");
  EXPECT_EQ(field(lines[4], "resumed"), "true");
}

TEST_F(TlsInfoHttps, AnUntrustedClientCertificateIsReportedNotRefused) {
  start();
  CertFiles mallory = pki_->client_cert("mallory", /*other_ca=*/true);
  std::vector<std::string> lines = run_client(&mallory);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(field(lines[0], "client_cert"), "true");
  EXPECT_NE(field(lines[0], "verify_result"), "0");
  EXPECT_NE(field(lines[0], "verify_text"), "ok");
}

TEST_F(TlsInfoHttps, WithoutAClientCertificateTheCertificateFieldsAreNull) {
  start();
  std::vector<std::string> lines = run_client(nullptr);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(field(lines[0], "tls"), "true");
  EXPECT_EQ(field(lines[0], "client_cert"), "false");
  EXPECT_EQ(field(lines[0], "subject"), "null");
}

TEST_F(TlsInfoHttps, AccessLogShowsVersionAndCipher) {
  start({"--access-log-format",
         "$scheme $tls_version $tls_cipher $tls_sni \"$request\" $status"});
  run_client(nullptr);
  EXPECT_TRUE(host_->wait_for_stdout(
      "https TLSv1.3 TLS_AES_256_GCM_SHA384 localhost \"GET /sync/x "
      "HTTP/1.1\" 200\n"))
      << host_->stdout_text();
}

}  // namespace
