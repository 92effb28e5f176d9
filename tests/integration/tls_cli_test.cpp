// TLS settings (issue 12, section 2) seen by the real command-line clients:
// openssl s_client for SNI, signature algorithms, ALPN, versions,
// resumption (-sess_out / -sess_in), client certificates and OCSP stapling,
// curl --resolve for SNI with verification, and the startup errors that
// name the bad file. Certificates come from a run-time test CA.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "host_process.h"
#include "test_certs.h"

using namespace pounce::test;
namespace fs = std::filesystem;

namespace {

constexpr const char* kRequest =
    "GET / HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n";

class TlsCli : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pounce-tls-cli-XXXXXX";
    dir_ = mkdtemp(tmpl);
    pki_ = std::make_unique<TestPki>(TestPki::create(dir_));
  }
  void TearDown() override {
    host_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Starts the host on one https listener with `extra` TLS flags.
  void start(const std::vector<std::string>& extra) {
    std::vector<std::string> a = {"--plugin",  plugin_path("hello"),
                                  "--listen",  "https://127.0.0.1:0",
                                  "--workers", "1"};
    a.insert(a.end(), extra.begin(), extra.end());
    host_ = std::make_unique<HostProcess>(a);
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }

  std::string connect_arg() const {
    return "127.0.0.1:" + std::to_string(host_->port());
  }

  // Runs `openssl s_client <args>`, sends one request and reads until the
  // server closes (so that TLS 1.3 tickets, sent after the handshake, are
  // read). Returns stdout and stderr together.
  CommandResult s_client(const std::string& args) const {
    std::string cmd = "printf '" + std::string(kRequest) +
                      "' | openssl s_client -connect " + connect_arg() +
                      " -ign_eof " + args + " 2>&1";
    return run_command({"sh", "-c", cmd});
  }

  // The serial of the certificate s_client was served ("1001"), or "".
  std::string served_serial(const std::string& args) const {
    CommandResult r = run_command(
        {"sh", "-c",
         "openssl s_client -connect " + connect_arg() + " " + args +
             " </dev/null 2>/dev/null | openssl x509 -noout -serial"});
    std::string out = r.out;
    while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) {
      out.pop_back();
    }
    const std::string prefix = "serial=";
    return out.rfind(prefix, 0) == 0 ? out.substr(prefix.size()) : "";
  }

  std::vector<std::string> curl(std::vector<std::string> extra) const {
    std::vector<std::string> a = {"curl", "-sS",      "--max-time",
                                  "30",   "--cacert", pki_->ca_cert()};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }

  std::string url(const std::string& name) const {
    return "https://" + name + ":" + std::to_string(host_->port()) + "/";
  }
  std::string resolve(const std::string& name) const {
    return name + ":" + std::to_string(host_->port()) + ":127.0.0.1";
  }

  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<HostProcess> host_;
};

bool served_hello(const CommandResult& r) {
  return r.out.find("HTTP/1.1 200") != std::string::npos;
}

TEST_F(TlsCli, SniChoosesTheCertificateAndUnknownNamesGetTheDefault) {
  CertFiles first = pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x2001);
  CertFiles second =
      pki_->server_cert({"*.example.test"}, KeyType::Ecdsa, 0x2002);
  start({"--tls-cert", first.cert_path, "--tls-key", first.key_path,
         "--tls-cert", second.cert_path, "--tls-key", second.key_path});

  EXPECT_EQ(served_serial("-servername localhost"), "2001");
  EXPECT_EQ(served_serial("-servername a.example.test"), "2002");
  EXPECT_EQ(served_serial("-servername unknown.test"), "2001");
  EXPECT_EQ(served_serial("-noservername"), "2001");

  // curl verifies the wildcard certificate for the name it sent.
  CommandResult ok = run_command(curl(
      {"--resolve", resolve("www.example.test"), url("www.example.test")}));
  EXPECT_EQ(ok.status, 0) << ok.err;
  EXPECT_NE(ok.out.find("Hello"), std::string::npos) << ok.out;
  // A wildcard covers one label only: the default certificate is served,
  // and it does not name a.b.example.test.
  CommandResult bad = run_command(curl(
      {"--resolve", resolve("a.b.example.test"), url("a.b.example.test")}));
  EXPECT_NE(bad.status, 0) << bad.out;
}

TEST_F(TlsCli, TheClientsSignatureAlgorithmsChooseRsaOrEcdsa) {
  CertFiles rsa = pki_->server_cert({"localhost"}, KeyType::Rsa, 0x2101);
  CertFiles ec = pki_->server_cert({"localhost"}, KeyType::Ecdsa, 0x2102);
  start({"--tls-cert", rsa.cert_path, "--tls-key", rsa.key_path, "--tls-cert",
         ec.cert_path, "--tls-key", ec.key_path});
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    const std::string v = version;
    EXPECT_EQ(served_serial(v + " -sigalgs ecdsa_secp256r1_sha256"), "2102")
        << v;
    EXPECT_EQ(served_serial(v + " -sigalgs rsa_pss_rsae_sha256"), "2101") << v;
  }
}

TEST_F(TlsCli, AlpnAgreesOnHttp11AndRefusesOnlyUnknownProtocols) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path});

  CommandResult h1 = s_client("-alpn http/1.1");
  EXPECT_NE(h1.out.find("ALPN protocol: http/1.1"), std::string::npos)
      << h1.out;
  EXPECT_TRUE(served_hello(h1)) << h1.out;

  CommandResult none = s_client("");
  EXPECT_NE(none.out.find("No ALPN negotiated"), std::string::npos) << none.out;
  EXPECT_TRUE(served_hello(none)) << none.out;

  CommandResult unknown = s_client("-alpn spdy/3,foo");
  EXPECT_NE(unknown.out.find("no application protocol"), std::string::npos)
      << unknown.out;
  EXPECT_FALSE(served_hello(unknown));
}

TEST_F(TlsCli, VersionsFollowTlsMinVersion) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path});
  CommandResult v13 = s_client("-tls1_3");
  EXPECT_NE(v13.out.find("Protocol  : TLSv1.3"), std::string::npos) << v13.out;
  EXPECT_TRUE(served_hello(v13));
  CommandResult v12 = s_client("-tls1_2");
  EXPECT_NE(v12.out.find("Protocol  : TLSv1.2"), std::string::npos) << v12.out;
  EXPECT_TRUE(served_hello(v12));
  // TLS 1.1 is below every profile we offer.
  EXPECT_FALSE(served_hello(s_client("-tls1_1 -cipher ALL@SECLEVEL=0")));

  host_.reset();
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path,
         "--tls-min-version", "1.3"});
  EXPECT_TRUE(served_hello(s_client("-tls1_3")));
  CommandResult refused = s_client("-tls1_2");
  EXPECT_FALSE(served_hello(refused)) << refused.out;
  EXPECT_NE(refused.out.find("alert protocol version"), std::string::npos)
      << refused.out;
}

// The first connection saves its session, the second offers it: the
// server resumes it (s_client prints "Reused"), in both versions.
TEST_F(TlsCli, SessionsResumeWithSessOutAndSessIn) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path});
  for (const char* version : {"-tls1_3", "-tls1_2"}) {
    const std::string v = version;
    const std::string sess = dir_ + "/sess" + v;
    CommandResult first = s_client(v + " -sess_out " + sess);
    ASSERT_TRUE(served_hello(first)) << first.out;
    EXPECT_NE(first.out.find("\nNew, "), std::string::npos) << first.out;
    ASSERT_TRUE(fs::exists(sess)) << v;
    CommandResult second = s_client(v + " -sess_in " + sess);
    EXPECT_TRUE(served_hello(second)) << second.out;
    EXPECT_NE(second.out.find("\nReused, "), std::string::npos) << v << "\n"
                                                                << second.out;
  }
}

// --no-tls-session-tickets: no ticket in either version. TLS 1.3 then has
// nothing to resume (s_client has no session to save); TLS 1.2 clients
// resume by session ID from the in-process cache (docs/tls.md).
TEST_F(TlsCli, WithoutSessionTicketsNoTicketIsIssued) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path,
         "--no-tls-session-tickets"});

  const std::string sess13 = dir_ + "/sess13";
  CommandResult first13 = s_client("-tls1_3 -sess_out " + sess13);
  ASSERT_TRUE(served_hello(first13)) << first13.out;
  EXPECT_EQ(first13.out.find("TLS session ticket"), std::string::npos)
      << first13.out;
  EXPECT_FALSE(fs::exists(sess13));

  const std::string sess12 = dir_ + "/sess12";
  CommandResult first12 = s_client("-tls1_2 -sess_out " + sess12);
  ASSERT_TRUE(served_hello(first12)) << first12.out;
  EXPECT_EQ(first12.out.find("TLS session ticket"), std::string::npos)
      << first12.out;
  CommandResult second12 = s_client("-tls1_2 -sess_in " + sess12);
  EXPECT_TRUE(served_hello(second12)) << second12.out;
  EXPECT_NE(second12.out.find("\nReused, "), std::string::npos) << second12.out;

  // With tickets (the default), the first connection gets one.
  host_.reset();
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path});
  CommandResult ticketed = s_client("-tls1_2");
  EXPECT_NE(ticketed.out.find("TLS session ticket"), std::string::npos)
      << ticketed.out;
}

TEST_F(TlsCli, RequiredClientCertificates) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path, "--tls-client-ca",
         pki_->ca_cert(), "--tls-client-auth", "required"});
  CertFiles alice = pki_->client_cert("alice");
  CertFiles mallory = pki_->client_cert("mallory", /*other_ca=*/true);

  CommandResult with = run_command(
      curl({"--resolve", resolve("localhost"), "--cert", alice.cert_path,
            "--key", alice.key_path, url("localhost")}));
  EXPECT_EQ(with.status, 0) << with.err;
  EXPECT_NE(with.out.find("Hello"), std::string::npos);

  CommandResult without =
      run_command(curl({"--resolve", resolve("localhost"), url("localhost")}));
  EXPECT_NE(without.status, 0) << without.out;
  EXPECT_EQ(without.out.find("Hello"), std::string::npos);

  CommandResult foreign = run_command(
      curl({"--resolve", resolve("localhost"), "--cert", mallory.cert_path,
            "--key", mallory.key_path, url("localhost")}));
  EXPECT_NE(foreign.status, 0) << foreign.out;
  EXPECT_EQ(foreign.out.find("Hello"), std::string::npos);

  // openssl s_client with the certificate is served; without it, the
  // server's alert says why.
  CommandResult s_with =
      s_client("-cert " + alice.cert_path + " -key " + alice.key_path);
  EXPECT_TRUE(served_hello(s_with)) << s_with.out;
  CommandResult s_without = s_client("");
  EXPECT_FALSE(served_hello(s_without));
  EXPECT_NE(s_without.out.find("certificate required"), std::string::npos)
      << s_without.out;
}

TEST_F(TlsCli, OptionalClientCertificates) {
  CertFiles c = pki_->server_cert({"localhost"});
  start({"--tls-cert", c.cert_path, "--tls-key", c.key_path, "--tls-client-ca",
         pki_->ca_cert(), "--tls-client-auth", "optional"});
  CertFiles alice = pki_->client_cert("alice");
  CommandResult with = run_command(
      curl({"--resolve", resolve("localhost"), "--cert", alice.cert_path,
            "--key", alice.key_path, url("localhost")}));
  EXPECT_EQ(with.status, 0) << with.err;
  CommandResult without =
      run_command(curl({"--resolve", resolve("localhost"), url("localhost")}));
  EXPECT_EQ(without.status, 0) << without.err;
  EXPECT_NE(without.out.find("Hello"), std::string::npos);
  // The server asks, naming the CA it trusts.
  CommandResult s = s_client("");
  EXPECT_NE(s.out.find("Acceptable client certificate CA names"),
            std::string::npos)
      << s.out;
}

// The stapled response comes from the file, and SIGHUP re-reads it.
TEST_F(TlsCli, OcspStaplingFromAFileRefreshedOnReload) {
  CertFiles c = pki_->server_cert({"localhost"});
  const std::string live = dir_ + "/live.ocsp.der";
  fs::copy_file(pki_->ocsp_response(c), live);
  start(
      {"--tls-cert", c.cert_path, "--tls-key", c.key_path, "--tls-ocsp", live});
  CommandResult good = s_client("-status");
  EXPECT_NE(good.out.find("OCSP Response Status: successful"),
            std::string::npos)
      << good.out;
  EXPECT_NE(good.out.find("Cert Status: good"), std::string::npos) << good.out;

  // A revoked response replaces it (written beside, then renamed over).
  CertFiles same = c;
  const std::string revoked = pki_->ocsp_response(same, /*revoke=*/true);
  fs::copy_file(revoked, live + ".tmp");
  fs::rename(live + ".tmp", live);
  host_->signal(SIGHUP);
  ASSERT_TRUE(host_->wait_for_stderr("reloaded generation"))
      << host_->stderr_text();
  CommandResult after = s_client("-status");
  EXPECT_NE(after.out.find("Cert Status: revoked"), std::string::npos)
      << after.out;
}

// Startup refuses a key that does not match, and an expired certificate
// unless --tls-allow-expired; either way the message names the file.
TEST_F(TlsCli, StartupErrorsNameTheFile) {
  CertFiles a = pki_->server_cert({"localhost"});
  CertFiles b = pki_->server_cert({"localhost"});
  CertFiles old = pki_->expired_cert({"localhost"});

  HostOptions mismatch;
  mismatch.args = {
      "--plugin",   plugin_path("hello"), "--listen",  "https://127.0.0.1:0",
      "--tls-cert", a.cert_path,          "--tls-key", b.key_path};
  HostProcess m(mismatch);
  EXPECT_FALSE(m.ok());
  EXPECT_NE(m.wait_exit(), 0);
  EXPECT_NE(m.stderr_text().find(b.key_path), std::string::npos)
      << m.stderr_text();

  HostOptions expired;
  expired.args = {
      "--plugin",   plugin_path("hello"), "--listen",  "https://127.0.0.1:0",
      "--tls-cert", old.cert_path,        "--tls-key", old.key_path};
  HostProcess e(expired);
  EXPECT_FALSE(e.ok());
  EXPECT_NE(e.wait_exit(), 0);
  EXPECT_NE(e.stderr_text().find(old.cert_path), std::string::npos)
      << e.stderr_text();
  EXPECT_NE(e.stderr_text().find("expired"), std::string::npos)
      << e.stderr_text();

  HostOptions allowed = expired;
  allowed.args.push_back("--tls-allow-expired");
  HostProcess w(allowed);
  ASSERT_TRUE(w.ok()) << w.stderr_text();
  EXPECT_NE(w.stderr_text().find(old.cert_path), std::string::npos)
      << w.stderr_text();
  CommandResult served =
      run_command({"curl", "-sSk", "--max-time", "30",
                   "https://127.0.0.1:" + std::to_string(w.port()) + "/"});
  EXPECT_NE(served.out.find("Hello"), std::string::npos) << served.err;
}

}  // namespace
