// --access-log-format (issue 12 §4): the template compiler and renderer.
// Pure logic: no sockets, no loop.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "log/access_format.h"
#include "tls/session_info.h"

namespace {

using pounce::log::AccessFields;
using pounce::log::AccessFormat;

AccessFields cleartext() {
  AccessFields f;
  f.remote_addr = "127.0.0.1";
  f.time_local = "27/Nov/2026:18:36:07 +0000";
  f.request = "GET /hello HTTP/1.1";
  f.scheme = "http";
  f.status = 200;
  f.body_bytes_sent = 13;
  f.request_time = 0.000042;
  return f;
}

pounce::tls::SessionInfo tls13() {
  pounce::tls::SessionInfo t;
  t.version = "TLSv1.3";
  t.cipher = "TLS_AES_128_GCM_SHA256";
  t.sni = "api.example.test";
  t.alpn = "http/1.1";
  return t;
}

std::string render(const std::string& spec, const AccessFields& f,
                   size_t cap = 2048) {
  std::string error;
  auto format = AccessFormat::compile(spec, &error);
  if (!format) return "ERROR " + error;
  std::string buf(cap, '\0');
  buf.resize(format->render(f, buf.data(), cap));
  return buf;
}

std::string compile_error(const std::string& spec) {
  std::string error;
  return AccessFormat::compile(spec, &error) ? "(compiled)" : error;
}

// "combined" must stay byte for byte the line the connection's fast path
// writes (host/net/connection.cpp), which this reproduces.
TEST(AccessFormat, CombinedIsTodaysLine) {
  const AccessFields f = cleartext();
  char line[1024];
  int n =
      snprintf(line, sizeof line, "%s - - [%.*s] \"%.*s\" %d %zu %.6f\n",
               "127.0.0.1", static_cast<int>(f.time_local.size()),
               f.time_local.data(), static_cast<int>(f.request.size()),
               f.request.data(), f.status, f.body_bytes_sent, f.request_time);
  EXPECT_EQ(render("combined", f), std::string(line, static_cast<size_t>(n)));
  EXPECT_EQ(render(std::string(AccessFormat::kCombined), f),
            render("combined", f));
  std::string error;
  EXPECT_TRUE(AccessFormat::compile("combined", &error)->is_default());
  EXPECT_FALSE(
      AccessFormat::compile(std::string(AccessFormat::kCombined), &error)
          ->is_default());
}

TEST(AccessFormat, TlsVariablesPrintADashOnCleartext) {
  EXPECT_EQ(render("$scheme $tls_version $tls_cipher $tls_sni $tls_alpn "
                   "$tls_resumed $tls_client_subject $tls_client_verify",
                   cleartext()),
            "http - - - - - - -\n");
}

TEST(AccessFormat, TlsVariablesShowTheSession) {
  pounce::tls::SessionInfo t = tls13();
  AccessFields f = cleartext();
  f.scheme = "https";
  f.tls = &t;
  EXPECT_EQ(render("$remote_addr \"$request\" $status $scheme $tls_version "
                   "$tls_cipher $tls_sni $tls_alpn $tls_resumed "
                   "$tls_client_verify",
                   f),
            "127.0.0.1 \"GET /hello HTTP/1.1\" 200 https TLSv1.3 "
            "TLS_AES_128_GCM_SHA256 api.example.test http/1.1 . NONE\n");
  t.resumed = true;
  t.sni.clear();
  EXPECT_EQ(render("$tls_resumed $tls_sni", f), "r -\n");
}

TEST(AccessFormat, ClientVerifySpellsTheVerdict) {
  pounce::tls::SessionInfo t = tls13();
  t.has_client_cert = true;
  t.subject = "CN=alice,O=Example";
  AccessFields f = cleartext();
  f.tls = &t;
  EXPECT_EQ(render("$tls_client_subject $tls_client_verify", f),
            "CN=alice,O=Example SUCCESS\n");
  t.verify_result = 21;
  t.verify_text = "unable to verify the first certificate";
  EXPECT_EQ(render("$tls_client_verify", f),
            "FAILED:unable to verify the first certificate\n");
}

TEST(AccessFormat, NumbersAndTheDuration) {
  AccessFields f = cleartext();
  f.status = 503;
  f.body_bytes_sent = 1234567;
  f.request_time = 1.5;
  EXPECT_EQ(render("$status $body_bytes_sent $request_time", f),
            "503 1234567 1.500000\n");
}

// A client chooses the bytes of the request line and of the server name: a
// quote, a backslash or a control byte must not end the line or the field.
TEST(AccessFormat, ValuesAreEscaped) {
  pounce::tls::SessionInfo t = tls13();
  t.sni = std::string("evil\n\"x\\\x7f\xc3\xa9", 11);
  AccessFields f = cleartext();
  f.request = "GET /\"q\" HTTP/1.1";
  f.tls = &t;
  EXPECT_EQ(render("\"$request\" $tls_sni", f),
            "\"GET /\\x22q\\x22 HTTP/1.1\" "
            "evil\\x0A\\x22x\\x5C\\x7F\\xC3\\xA9\n");
}

TEST(AccessFormat, BracesDollarsAndLiterals) {
  AccessFields f = cleartext();
  EXPECT_EQ(render("${status}ms $$5 [$scheme]\tend", f),
            "200ms $5 [http]\tend\n");
  // A name runs as far as name characters go.
  EXPECT_EQ(compile_error("$statusx"), "unknown variable $statusx");
  EXPECT_EQ(render("$status-$status.", f), "200-200.\n");
}

TEST(AccessFormat, InvalidTemplatesAreRefusedWithTheReason) {
  EXPECT_EQ(compile_error("$nope"), "unknown variable $nope");
  EXPECT_EQ(compile_error("${tls_version"), "unterminated ${ at offset 0");
  EXPECT_EQ(compile_error("x $"),
            "a '$' without a variable name at offset 2 (write $$ for a dollar "
            "sign)");
  EXPECT_EQ(compile_error("a $ b"),
            "a '$' without a variable name at offset 2 (write $$ for a dollar "
            "sign)");
  EXPECT_EQ(compile_error("${}"),
            "a '$' without a variable name at offset 0 (write $$ for a dollar "
            "sign)");
  EXPECT_EQ(compile_error("$status\n$status"), "control byte 0x0A at offset 7");
  EXPECT_EQ(compile_error(""),
            "empty format (use combined, common, json, or a template of "
            "$variables)");
  EXPECT_EQ(compile_error(std::string(5000, 'x')),
            "format longer than 4096 bytes");
  // Names are for formats, not for templates without a variable.
  EXPECT_EQ(compile_error("commons"),
            "unknown format commons (use combined, common, json, or a "
            "template of $variables)");
  EXPECT_EQ(compile_error("$$"),
            "unknown format $$ (use combined, common, json, or a template of "
            "$variables)");
}

// A line longer than the buffer is cut and still ends the line.
TEST(AccessFormat, ALongLineIsCutAndKeepsItsNewline) {
  AccessFields f = cleartext();
  std::string target(3000, 'a');
  std::string request = "GET /" + target + " HTTP/1.1";
  f.request = request;
  std::string line = render("$remote_addr \"$request\"", f, 64);
  EXPECT_EQ(line.size(), 64u);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.rfind("127.0.0.1 \"GET /aaa", 0), 0u);
  // An escape is never cut in half.
  const std::string quotes(100, '"');
  f.request = quotes;
  line = render("$request", f, 11);
  EXPECT_EQ(line, "\\x22\\x22\n");
}

}  // namespace

namespace {

TEST(AccessFormat, CommonIsTheCommonLogFormat) {
  EXPECT_EQ(render("common", cleartext()),
            "127.0.0.1 - - [27/Nov/2026:18:36:07 +0000] \"GET /hello "
            "HTTP/1.1\" 200 13\n");
}

TEST(AccessFormat, JsonHasEveryField) {
  AccessFields f = cleartext();
  f.user_agent = "curl/7.88.1";
  f.request_id = "0123456789abcdef0123456789abcdef";
  f.mount = "/api";
  EXPECT_EQ(
      render("json", f),
      "{\"time\":\"2026-11-27T18:36:07+00:00\",\"client\":\"127.0.0.1\","
      "\"method\":\"GET\",\"target\":\"/hello\",\"protocol\":\"HTTP/1.1\","
      "\"status\":200,\"bytes\":13,\"duration\":0.000042,"
      "\"request_id\":\"0123456789abcdef0123456789abcdef\","
      "\"mount\":\"/api\",\"tls_version\":null,"
      "\"user_agent\":\"curl/7.88.1\"}\n");
  pounce::tls::SessionInfo t = tls13();
  f.tls = &t;
  EXPECT_NE(render("json", f).find("\"tls_version\":\"TLSv1.3\""),
            std::string::npos);
}

// Nothing a client sends can end the line, close a string or add a field:
// CR, LF, quotes, backslashes, control bytes and invalid UTF-8 in the
// target and the user agent.
TEST(AccessFormat, JsonEscapesWhatTheClientSent) {
  AccessFields f = cleartext();
  f.method = "GET";
  f.target = "/a\"b\\c\r\nd\x01\x7f";
  f.protocol = "HTTP/1.1";
  f.user_agent = std::string_view(
      "x\",\"forged\":\"1\xff\xc0\xaf\xed\xa0\x80 \xc3\xa9 \xf0\x9f\x98\x80");
  const std::string line = render("json", f);
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  EXPECT_NE(
      line.find("\"target\":\"/a\\\"b\\\\c\\u000d\\u000ad\\u0001\\u007f\""),
      std::string::npos)
      << line;
  // Invalid bytes (a stray 0xFF, an overlong '/', a surrogate) become
  // U+FFFD; valid multi-byte characters stay.
  EXPECT_NE(line.find("\"user_agent\":\"x\\\",\\\"forged\\\":\\\"1"
                      "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd \xc3\xa9 "
                      "\xf0\x9f\x98\x80\"}"),
            std::string::npos)
      << line;
}

TEST(AccessFormat, JsonLinesCutShortStayOneLine) {
  AccessFields f = cleartext();
  std::string ua(5000, '"');
  f.user_agent = ua;
  const std::string line = render("json", f, 512);
  EXPECT_EQ(line.size(), 512u);
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1);
}

TEST(AccessFormat, NewVariablesInTemplates) {
  AccessFields f = cleartext();
  f.user_agent = "ua";
  f.request_id = "id1";
  f.mount = "/m";
  EXPECT_EQ(render("$request_method|$request_uri|$server_protocol|"
                   "$http_user_agent|$request_id|$mount|$time_iso8601",
                   f),
            "GET|/hello|HTTP/1.1|ua|id1|/m|2026-11-27T18:36:07+00:00\n");
}

}  // namespace
