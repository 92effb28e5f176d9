// Configuration tooling (issue 14 §6): `pounce-host check`, `pounce-host
// config show`, and unknown config-file keys reported with name and line.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "host_process.h"
#include "ops_support.h"

using namespace pounce::test;
using nlohmann::json;

namespace {

CommandResult host(std::vector<std::string> args) {
  args.insert(args.begin(), host_binary());
  return run_command(args);
}

// A TCP socket listening on a loopback port the kernel chose: held by the
// test, so that a command that tried to bind that port would fail.
class HeldPort {
 public:
  HeldPort() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(fd_, 1);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~HeldPort() { close(fd_); }
  std::string text() const { return std::to_string(port_); }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

}  // namespace

// ---------------------------------------------------------------------------
// pounce-host check

TEST(Check, AGoodConfigurationPassesAndBindsNothing) {
  OpsTempDir dir;
  HeldPort port;
  const std::string sock = dir.file("p.sock");
  CommandResult r =
      host({"check", "--plugin", plugin_path("hello"), "--plugin",
            "/api=" + plugin_path("echo"), "--listen",
            "http://127.0.0.1:" + port.text(), "--listen", "unix:" + sock,
            "--admin-listen", "http://127.0.0.1:" + port.text()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("pounce-host check: configuration OK (2 plugins"),
            std::string::npos)
      << r.out;
  // The plugins were loaded and initialized (their log lines), but neither
  // the held port nor the socket path was touched.
  EXPECT_EQ(access(sock.c_str(), F_OK), -1);
}

TEST(Check, APluginWhoseInitFailsFailsTheCheck) {
  CommandResult r = host({"check", "--plugin", test_plugin_path("init_fail")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("deliberate init failure"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("pounce-host check: "), std::string::npos) << r.err;
}

TEST(Check, APluginThatCannotLoadFailsTheCheck) {
  CommandResult r = host({"check", "--plugin", "/nonexistent/libx.so"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/libx.so"), std::string::npos) << r.err;
}

TEST(Check, AnUnreadableCertificateFailsTheCheck) {
  OpsTempDir dir;
  write_file(dir.file("cert.pem"), "not a certificate\n");
  write_file(dir.file("key.pem"), "not a key\n");
  CommandResult r =
      host({"check", "--plugin", plugin_path("hello"), "--tls-cert",
            dir.file("cert.pem"), "--tls-key", dir.file("key.pem")});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(dir.file("cert.pem")), std::string::npos) << r.err;
  CommandResult missing =
      host({"check", "--plugin", plugin_path("hello"), "--tls-cert",
            dir.file("none.pem"), "--tls-key", dir.file("none.pem")});
  EXPECT_EQ(missing.status, 1) << missing.err;
}

TEST(Check, BadOptionsFailTheCheckWithTheReason) {
  CommandResult r =
      host({"check", "--plugin", plugin_path("hello"), "--workers", "300"});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--workers"), std::string::npos) << r.err;
  CommandResult admin = host({"check", "--plugin", plugin_path("hello"),
                              "--admin-listen", "https://127.0.0.1:9000"});
  EXPECT_EQ(admin.status, 1);
  EXPECT_NE(admin.err.find("--admin-listen"), std::string::npos) << admin.err;
  CommandResult no_plugin = host({"check"});
  EXPECT_EQ(no_plugin.status, 1);
  EXPECT_NE(no_plugin.err.find("no plugin given"), std::string::npos);
}

// ---------------------------------------------------------------------------
// Unknown keys

TEST(ConfigFile, AnUnknownKeyIsReportedWithItsNameAndLine) {
  OpsTempDir dir;
  const std::string file = dir.file("pounce.json");
  write_file(file,
             "{\n  \"plugin\": [\"" + plugin_path("hello") +
                 "\"],\n  \"workers\": 2,\n  \"keep_alive\": {\"nested\": "
                 "{\"wrokers\": 1}},\n  \"wrokers\": 3\n}\n");
  CommandResult check = host({"check", "--config", file});
  EXPECT_EQ(check.status, 1);
  // "keep_alive" comes first in the file.
  EXPECT_NE(check.err.find("unknown configuration key: keep_alive (in " + file +
                           ", line 4)"),
            std::string::npos)
      << check.err;
  write_file(file, "{\n  \"plugin\": [\"" + plugin_path("hello") +
                       "\"],\n  \"note\": \"\\\"wrokers\\\": 1\",\n\n"
                       "  \"wrokers\": 3\n}\n");
  CommandResult serve = host({"--config", file});
  EXPECT_EQ(serve.status, 2);
  EXPECT_NE(serve.err.find("(in " + file + ", line 3)"), std::string::npos)
      << serve.err;  // "note" is unknown too, and comes first
  write_file(file, "{\"plugin\": [\"" + plugin_path("hello") +
                       "\"],\n\"wrokers\": 3}");
  CommandResult only = host({"check", "--config", file});
  EXPECT_NE(only.err.find("unknown configuration key: wrokers (in " + file +
                          ", line 2)"),
            std::string::npos)
      << only.err;
}

TEST(ConfigFile, ASyntaxErrorNamesTheLine) {
  OpsTempDir dir;
  const std::string file = dir.file("pounce.json");
  write_file(file, "{\n  \"workers\": 2,\n  \"port\": 80,,\n}\n");
  CommandResult r = host({"check", "--config", file});
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
}

// ---------------------------------------------------------------------------
// pounce-host config show

TEST(ConfigShow, PrintsEveryKeyTheFileReadsAndRoundTrips) {
  OpsTempDir dir;
  const std::string file = dir.file("pounce.json");
  write_file(file, "{\"plugin\": [\"" + plugin_path("hello") +
                       "\"], \"workers\": 3, \"no_compression\": true, "
                       "\"keep_alive_timeout\": 2.5}");
  CommandResult r =
      host({"config", "show", "--config", file, "--workers", "2", "--listen",
            "unix:/run/p.sock?fd-name=web", "--admin-listen",
            "http://127.0.0.1:9000", "--uds-mode", "0600"});
  ASSERT_EQ(r.status, 0) << r.err;
  json shown = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(shown.is_object()) << r.out;
  // The command line wins over the file; defaults are shown too.
  EXPECT_EQ(shown["workers"], 2);
  EXPECT_EQ(shown["compression"], false);
  EXPECT_EQ(shown["keep_alive_timeout"], 2.5);
  EXPECT_EQ(shown["max_body_size"], 1048576);
  EXPECT_EQ(shown["listen"], json::array({"unix:/run/p.sock?fd-name=web"}));
  EXPECT_EQ(shown["admin_listen"], "http://127.0.0.1:9000");
  EXPECT_EQ(shown["uds_mode"], "0600");
  EXPECT_EQ(shown["plugin"], json::array({"/=" + plugin_path("hello")}));
  EXPECT_FALSE(shown.contains("config"));
  // Every key is one --config reads: fed back, it shows the same.
  const std::string again_file = dir.file("again.json");
  write_file(again_file, r.out);
  CommandResult again = host({"config", "show", "--config", again_file});
  ASSERT_EQ(again.status, 0) << again.err;
  EXPECT_EQ(again.out, r.out);
  // And it is a configuration the server accepts.
  CommandResult check = host({"check", "--config", again_file});
  EXPECT_EQ(check.status, 0) << check.err;
}

TEST(ConfigShow, HelpListsTheSubcommands) {
  CommandResult r = host({"--help"});
  EXPECT_NE(r.out.find("pounce-host check"), std::string::npos);
  EXPECT_NE(r.out.find("pounce-host config show"), std::string::npos);
  CommandResult bad = host({"config", "dump"});
  EXPECT_EQ(bad.status, 2);
}
