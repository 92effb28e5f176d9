// What plugins and the access log see of TLS (issue 12 §4), on cleartext:
// request_tls answers 0 with an empty struct from every kind of hook (sync,
// blocking, async, on_ws_upgrade), and the access log's $tls_* variables
// print "-". The https side of the same checks joins once serving TLS
// lands; the plugin (tests/plugins/tls_info_plugin.c) serves both.
#include <gtest/gtest.h>

#include <string>

#include "host_process.h"
#include "raw_client.h"
#include "ws_client.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

std::string get_body(uint16_t port, const std::string& path) {
  RawClient c(port);
  c.send("GET " + path + " HTTP/1.1\r\nHost: example.test\r\n\r\n");
  auto r = c.read_response();
  return r ? r->body : "(no response)";
}

std::string cleartext_json(const std::string& mode) {
  return "{\"tls\":false,\"mode\":\"" + mode + "\",\"rc\":0,\"clean\":true}";
}

class TlsInfoCleartext : public ::testing::Test {
 protected:
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"--plugin", test_plugin_path("tls_info")};
    args.insert(args.end(), extra.begin(), extra.end());
    host_ = std::make_unique<HostProcess>(args);
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }
  uint16_t port() const { return host_->port(); }
  std::unique_ptr<HostProcess> host_;
};

TEST_F(TlsInfoCleartext, SyncHandlersSeeNoTls) {
  start();
  EXPECT_EQ(get_body(port(), "/sync/x"), cleartext_json("sync"));
}

TEST_F(TlsInfoCleartext, BlockingHandlersSeeNoTls) {
  start();
  EXPECT_EQ(get_body(port(), "/blocking/x"), cleartext_json("blocking"));
}

TEST_F(TlsInfoCleartext, AsyncHandlersSeeNoTls) {
  start();
  EXPECT_EQ(get_body(port(), "/async/x"), cleartext_json("async"));
}

TEST_F(TlsInfoCleartext, WebSocketUpgradesSeeNoTls) {
  start();
  WsClient c(port());
  auto r = c.handshake("/ws");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 101);
  auto f = c.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, cleartext_json("ws_upgrade"));
  c.send_close(1000);
  c.read_until_close();
}

// The TLS fields of a template print "-" on cleartext; the rest of the line
// is filled in.
TEST_F(TlsInfoCleartext, AccessLogTemplateShowsDashesForTls) {
  start({"--access-log-format",
         "$scheme $tls_version $tls_cipher $tls_sni \"$request\" $status"});
  ASSERT_EQ(get_body(port(), "/sync/x"), cleartext_json("sync"));
  EXPECT_TRUE(
      host_->wait_for_stdout("http - - - \"GET /sync/x HTTP/1.1\" 200\n"))
      << host_->stdout_text();
}

// The default line is unchanged by the option's existence.
TEST_F(TlsInfoCleartext, AccessLogDefaultIsTheCombinedLine) {
  start();
  ASSERT_EQ(get_body(port(), "/sync/x"), cleartext_json("sync"));
  ASSERT_TRUE(host_->wait_for_stdout("\"GET /sync/x HTTP/1.1\" 200 "))
      << host_->stdout_text();
  const std::string out = host_->stdout_text();
  EXPECT_EQ(out.rfind("127.0.0.1 - - [", 0), 0u) << out;
}

TEST_F(TlsInfoCleartext, AnUnknownVariableStopsTheStart) {
  HostProcess bad({"--plugin", test_plugin_path("tls_info"),
                   "--access-log-format", "$remote_addr $tls_versoin"});
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.wait_exit(), 2);
  EXPECT_NE(bad.stderr_text().find(
                "--access-log-format (config key access_log_format): unknown "
                "variable $tls_versoin"),
            std::string::npos)
      << bad.stderr_text();
}

}  // namespace
