// --static PREFIX=DIR (issue 15, "Done when") through the real clients that
// are not curl: wrk (HTTP/1.1, cleartext and TLS), h2load (h2c with prior
// knowledge, h2 over TLS by ALPN) and headless Chromium (h2 over https,
// HTTP/1.1 over http); and, through the static path itself, a file that
// shrinks while it is sent and a client that reads a 64 MiB file slowly,
// over HTTP/1.1 (sendfile), HTTP/1.1 over TLS (pread pieces), h2c and h2
// over TLS (pread as nghttp2 asks; python3-h2 through h2_file_client.py).
//
// No timing is asserted. wrk runs with -d 2s, each thread stopping sooner
// after 500 responses (wrk's main thread sleeps out the whole -d whatever
// its threads do, so no fixed count ends a run sooner), and a Lua script
// checks every status and body: the test asserts that responses came and
// that none was wrong, not how many. h2load runs a fixed number of
// requests. Each client is required: a missing one
// fails the test (Debian wrk, nghttp2-client, chromium, python3-h2).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "chromium_support.h"
#include "host_process.h"
#include "raw_client.h"
#include "temp_dir.h"
#include "test_certs.h"
#include "test_files.h"
#include "test_protocols.h"
#include "tls_support.h"

using namespace pounce::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

// 64 MiB whose every 8-byte word is its own offset: a byte that is not the
// file's at its place (padding, a stale piece) shows.
constexpr size_t kHuge = size_t{64} << 20;
std::string offset_pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t at = 0; at + 8 <= n; at += 8) {
    const uint64_t v = at;
    memcpy(s.data() + at, &v, 8);
  }
  return s;
}

long vm_rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The number right after `key` in `text`; -1 when there is none.
long long number_after(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  const size_t from = at + key.size();
  size_t end = from;
  while (end < text.size() && isdigit(static_cast<unsigned char>(text[end])))
    ++end;
  return end == from ? -1 : std::stoll(text.substr(from, end - from));
}

// The number right before `key` in `text`; -1 when there is none.
long long number_before(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  size_t from = at;
  while (from > 0 && isdigit(static_cast<unsigned char>(text[from - 1])))
    --from;
  return from == at ? -1 : std::stoll(text.substr(from, at - from));
}

// A site served at "/" for the load generators and the slow readers.
class StaticClients : public ::testing::TestWithParam<Proto> {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pounce-static-clients-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    small_ = new std::string(random_bytes(4096, 1));
    medium_ = new std::string(random_bytes(200 << 10, 2));
    write_file(*dir_ + "/small.bin", *small_);
    write_file(*dir_ + "/medium.bin", *medium_);
    cert_ = new TempCert();
    std::vector<std::string> args = {
        "--listen", "http://127.0.0.1:0", "--listen",  "https://127.0.0.1:0",
        "--static", "/=" + *dir_,         "--workers", "1"};
    for (const std::string& a : cert_->host_args()) args.push_back(a);
    host_ = new HostProcess(args);
  }
  static void TearDownTestSuite() {
    delete host_;
    delete cert_;
    fs::remove_all(*dir_);
    delete dir_;
    delete small_;
    delete medium_;
  }
  void SetUp() override {
    ASSERT_TRUE(cert_->ok()) << cert_->error();
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }

  bool tls() const { return is_tls(GetParam()); }
  bool h2() const { return is_h2(GetParam()); }
  uint16_t port() const { return host_->ports()[tls() ? 1 : 0]; }
  std::string url(const std::string& path) const {
    return (tls() ? "https://127.0.0.1:" : "http://127.0.0.1:") +
           std::to_string(port()) + path;
  }
  // The file's ETag, from a HEAD on the cleartext listener.
  std::string etag_of(const std::string& path) const {
    RawClient c(host_->ports()[0]);
    c.send("HEAD " + path + " HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read_response(/*head_request=*/true);
    EXPECT_TRUE(r);
    return r ? r->header("ETag").value_or("") : "";
  }
  // A file of the test's own (it is changed while it is sent).
  std::string own_file(const std::string& name) const {
    return name + "-" + proto_name({GetParam(), 0}) + ".bin";
  }

  static std::string* dir_;
  static std::string* small_;
  static std::string* medium_;
  static TempCert* cert_;
  static HostProcess* host_;
};

std::string* StaticClients::dir_ = nullptr;
std::string* StaticClients::small_ = nullptr;
std::string* StaticClients::medium_ = nullptr;
TempCert* StaticClients::cert_ = nullptr;
HostProcess* StaticClients::host_ = nullptr;

// ---------------------------------------------------------------------------
// wrk

// Each wrk thread stops after `per_thread` responses (or at the end of
// -d, whichever comes first); every response's
// status and body are compared with what they must be (the body with the
// file read from disk, or empty for a 304), and done() prints the sums.
std::string wrk_script(int status, const std::string& body_file,
                       int per_thread) {
  std::ostringstream s;
  s << "local want_status = " << status << "\n"
    << "local body_file = \"" << body_file << "\"\n"
    << "local per_thread = " << per_thread << "\n"
    << R"LUA(
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  responses, wrong_status, wrong_body = 0, 0, 0
  want_body = ""
  if body_file ~= "" then
    local f = assert(io.open(body_file, "rb"))
    want_body = f:read("*a")
    f:close()
  end
end
function response(status, headers, body)
  responses = responses + 1
  if status ~= want_status then wrong_status = wrong_status + 1 end
  if (body or "") ~= want_body then wrong_body = wrong_body + 1 end
  if responses == per_thread then wrk.thread:stop() end
end
function done(summary, latency, requests)
  local r, s, b = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    s = s + t:get("wrong_status")
    b = b + t:get("wrong_body")
  end
  io.write(string.format("pounce: responses=%d wrong_status=%d wrong_body=%d\n", r, s, b))
end
)LUA";
  return s.str();
}

using StaticWrk = StaticClients;

TEST_P(StaticWrk, FilesAndRevalidationsAllSucceed) {
  constexpr int kThreads = 2, kPerThread = 500;
  const std::string etag = etag_of("/medium.bin");
  ASSERT_FALSE(etag.empty());
  struct Run {
    const char* what;
    std::string path;
    int status;
    std::string body_file;
    std::vector<std::string> headers;
  };
  const Run runs[] = {
      {"4 KiB (kept in memory)", "/small.bin", 200, *dir_ + "/small.bin", {}},
      {"200 KiB (sendfile; pread over TLS)",
       "/medium.bin",
       200,
       *dir_ + "/medium.bin",
       {}},
      {"304 revalidation", "/medium.bin", 304, "", {"If-None-Match: " + etag}},
  };
  int n = 0;
  for (const Run& run : runs) {
    SCOPED_TRACE(run.what);
    const std::string script = *dir_ + "/wrk-" + proto_name({GetParam(), 0}) +
                               std::to_string(n++) + ".lua";
    write_file(script, wrk_script(run.status, run.body_file, kPerThread));
    std::vector<std::string> argv = {
        "wrk", "-t",        std::to_string(kThreads),
        "-c",  "8",         "-d",
        "2s",  "--timeout", "20s",
        "-s",  script};
    for (const std::string& h : run.headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back(url(run.path));
    CommandResult r = run_command(argv, 120s);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    SCOPED_TRACE("wrk output:\n" + r.out + r.err);
    // wrk's own verdicts: it prints these lines only when there were any
    // (it counts a status over 399 as non-2xx/3xx, so a 304 is fine).
    EXPECT_FALSE(contains(r.out, "Socket errors"));
    EXPECT_FALSE(contains(r.out, "Non-2xx or 3xx responses"));
    EXPECT_GT(number_before(r.out, " requests in"), 0);
    // The script's: responses came, each as it must be.
    EXPECT_GT(number_after(r.out, "pounce: responses="), 0);
    EXPECT_EQ(number_after(r.out, " wrong_status="), 0);
    EXPECT_EQ(number_after(r.out, " wrong_body="), 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, StaticWrk,
                         ::testing::Values(Proto::Http11, Proto::Https11),
                         proto_name);

// ---------------------------------------------------------------------------
// h2load

using StaticH2load = StaticClients;

TEST_P(StaticH2load, FilesAndRevalidationsAllSucceed) {
  const std::string etag = etag_of("/medium.bin");
  ASSERT_FALSE(etag.empty());
  struct Run {
    const char* what;
    std::string path;
    size_t size;  // body bytes per response
    std::vector<std::string> headers;
    const char* codes;
  };
  const Run runs[] = {
      {"4 KiB", "/small.bin", small_->size(), {}, "2000 2xx, 0 3xx"},
      {"200 KiB", "/medium.bin", medium_->size(), {}, "2000 2xx, 0 3xx"},
      {"304 revalidation",
       "/medium.bin",
       0,
       {"if-none-match: " + etag},
       "0 2xx, 2000 3xx"},
  };
  for (const Run& run : runs) {
    SCOPED_TRACE(run.what);
    std::vector<std::string> argv = {"h2load", "-n", "2000", "-c",
                                     "4",      "-m", "16"};
    for (const std::string& h : run.headers) {
      argv.push_back("-H");
      argv.push_back(h);
    }
    argv.push_back(url(run.path));
    CommandResult r = run_command(argv, 120s);
    ASSERT_EQ(r.status, 0) << r.out << r.err;
    SCOPED_TRACE("h2load output:\n" + r.out + r.err);
    EXPECT_TRUE(contains(
        r.out, "Application protocol: " + std::string(tls() ? "h2" : "h2c")));
    EXPECT_TRUE(contains(r.out, "2000 succeeded, 0 failed, 0 errored"));
    EXPECT_TRUE(contains(r.out, std::string("status codes: ") + run.codes));
    // Every body whole: the DATA bytes are the file's size per response.
    EXPECT_EQ(number_before(r.out, ") data"),
              static_cast<long long>(2000 * run.size));
  }
}

INSTANTIATE_TEST_SUITE_P(Protocols, StaticH2load,
                         ::testing::Values(Proto::H2c, Proto::H2Tls),
                         proto_name);

// ---------------------------------------------------------------------------
// A file that shrinks while it is sent; a slow reader of a big file

using StaticFileChanges = StaticClients;

// The response has started (its head and some body bytes are out) when
// the file is cut to 1 MiB: the client gets fewer bytes than the
// Content-Length, every one of them the file's, then the end of the
// connection (HTTP/1.1) or a RST_STREAM (HTTP/2); a log line says why.
TEST_P(StaticFileChanges, AFileThatShrinksEndsTheResponseShort) {
  const std::string name = own_file("shrinks");
  const std::string path = *dir_ + "/" + name;
  const std::string pattern = offset_pattern(kHuge);
  write_file(path, pattern);
  const std::string needle = "of " + std::to_string(kHuge) + "; " +
                             (h2() ? "resetting the stream" : "closing");
  const size_t logged_before = count_of(host_->stderr_text(), needle);
  const std::string req =
      "GET /" + name + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  size_t received = 0;
  if (!h2()) {
    std::string body;
    auto run = [&](auto& c) {
      ASSERT_TRUE(c.send(req));
      auto head = c.read_head(30s);
      ASSERT_TRUE(head) << "no head";
      ASSERT_EQ(head->status, 200);
      ASSERT_EQ(head->header("Content-Length").value_or(""),
                std::to_string(kHuge));
      body = c.read_some(30s);
      ASSERT_FALSE(body.empty()) << "no body bytes";
      ASSERT_EQ(truncate(path.c_str(), 1 << 20), 0);
      body += c.read_all(60s);
    };
    if (GetParam() == Proto::Http11) {
      RawClient c(port(), ClientSocketOptions{65536, 0});
      run(c);
      EXPECT_FALSE(c.stays_open(100ms)) << "the connection stays open";
    } else {
      TlsClientOptions o;
      o.socket.receive_buffer = 65536;
      TlsClient c(port(), o);
      ASSERT_TRUE(c.connected()) << c.error();
      run(c);
      EXPECT_NE(c.close_kind(), TlsClose::StillOpen);
    }
    if (HasFatalFailure()) return;
    received = body.size();
    // Never padded: each byte that came is the file's at its offset.
    // With sendfile, one exception that is the kernel's, not the host's:
    // the socket queue holds references to page-cache pages, not copies,
    // and the truncation zeroes in place the part of the page (a large
    // folio, on ext4 under Linux 6.18 here) past the new end, so bytes that
    // sendfile had queued before it may arrive as zeros. pread copies, so
    // TLS never shows it. What still is the file arrives exactly; past it,
    // a word is the file's old one or zero, nothing else.
    const size_t kept = std::min(body.size(), size_t{1} << 20);
    EXPECT_EQ(pattern.compare(0, kept, body, 0, kept), 0)
        << "the first " << kept << " bytes are not the file's";
    size_t zeroed = 0, other = 0, first_other = 0;
    for (size_t at = kept; at + 8 <= body.size(); at += 8) {
      if (memcmp(body.data() + at, pattern.data() + at, 8) == 0) continue;
      if (memcmp(body.data() + at, "\0\0\0\0\0\0\0\0", 8) == 0) {
        ++zeroed;
      } else if (other++ == 0) {
        first_other = at;
      }
    }
    EXPECT_EQ(other, 0u) << "words that are neither the file's nor zero, "
                            "the first at "
                         << first_other;
    if (GetParam() == Proto::Https11) {
      EXPECT_EQ(zeroed, 0u) << "zeroed words in pread copies";
    }
  } else {
    CommandResult r =
        run_command({"/usr/bin/python3", POUNCE_H2_FILE_CLIENT,
                     std::to_string(port()), tls() ? "1" : "0", "/" + name,
                     "shrink", path, std::to_string(1 << 20)},
                    120s);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "\"status\": 200")) << r.out;
    EXPECT_TRUE(contains(r.out, "\"length\": " + std::to_string(kHuge)))
        << r.out;
    // RST_STREAM INTERNAL_ERROR (2).
    EXPECT_TRUE(contains(r.out, "\"reset\": 2")) << r.out;
    const size_t at = r.out.find("\"received\": ");
    ASSERT_NE(at, std::string::npos) << r.out;
    received = std::stoul(r.out.substr(at + 12));
  }
  EXPECT_LT(received, kHuge) << "padded or complete";
  EXPECT_TRUE(host_->wait_for_stderr(needle, 30s, logged_before + 1))
      << host_->stderr_text();
  EXPECT_TRUE(contains(host_->stderr_text(), "file response to "));
  fs::remove(path);
}

// After the head and the first body bytes of a 64 MiB file, while the
// client reads nothing more, the serving process has grown by far less
// than the file: it was not read whole into memory, nor queued.
TEST_P(StaticFileChanges, ASlowReaderCostsNoMoreThanAPiece) {
  const std::string name = own_file("huge");
  const std::string path = *dir_ + "/" + name;
  {
    // Sparse: a large body without the disk traffic.
    const int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(ftruncate(fd, static_cast<off_t>(kHuge)), 0);
    close(fd);
  }
  // The process that serves, not the supervisor.
  const pid_t pid = host_->serving_pid();
  // Warm: the code paths and buffers of a file response exist already.
  {
    RawClient c(host_->ports()[0]);
    c.send("GET /medium.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(c.read_response());
  }
  const long before = vm_rss_kb(pid);
  ASSERT_GT(before, 0);
  long during = -1;
  const std::string req =
      "GET /" + name + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if (GetParam() == Proto::Http11) {
    RawClient c(port(), ClientSocketOptions{65536, 0});
    ASSERT_TRUE(c.send(req));
    auto head = c.read_head(30s);
    ASSERT_TRUE(head) << "no head";
    ASSERT_EQ(head->header("Content-Length").value_or(""),
              std::to_string(kHuge));
    EXPECT_FALSE(c.read_some(10s).empty());
    during = vm_rss_kb(pid);
  } else if (GetParam() == Proto::Https11) {
    TlsClientOptions o;
    o.socket.receive_buffer = 65536;
    TlsClient c(port(), o);
    ASSERT_TRUE(c.connected()) << c.error();
    ASSERT_TRUE(c.send(req));
    auto head = c.read_head(30s);
    ASSERT_TRUE(head) << "no head";
    ASSERT_EQ(head->header("Content-Length").value_or(""),
              std::to_string(kHuge));
    EXPECT_FALSE(c.read_some(10s).empty());
    during = vm_rss_kb(pid);
  } else {
    CommandResult r = run_command(
        {"/usr/bin/python3", POUNCE_H2_FILE_CLIENT, std::to_string(port()),
         tls() ? "1" : "0", "/" + name, "rss", std::to_string(pid)},
        120s);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "\"length\": " + std::to_string(kHuge)))
        << r.out;
    const size_t at = r.out.find("\"rss_kb\": ");
    ASSERT_NE(at, std::string::npos) << r.out;
    during = std::stol(r.out.substr(at + 10));
  }
  // Reading the file whole would show as 64 MiB more; a piece and the
  // loop's buffers are far below 16 MiB.
  EXPECT_LT(during - before, 16 * 1024)
      << "VmRSS " << before << " kB -> " << during << " kB";
  fs::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Protocols, StaticFileChanges,
                         ::testing::Values(Proto::Http11, Proto::Https11,
                                           Proto::H2c, Proto::H2Tls),
                         proto_name);

// ---------------------------------------------------------------------------
// Headless Chromium

std::string gzip_bytes(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A query value as the page's URLSearchParams wrote it ('+' and %XX).
std::string url_decode(const std::string& in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out += ' ';
    } else if (in[i] == '%' && i + 2 < in.size()) {
      out += static_cast<char>(std::stoi(in.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += in[i];
    }
  }
  return out;
}

// The fields of the first "GET /report?..." line of the access log.
std::map<std::string, std::string> report_fields(const std::string& log) {
  std::map<std::string, std::string> out;
  const std::string start = "\"GET /report?";
  size_t at = log.find(start);
  if (at == std::string::npos) return out;
  at += start.size();
  const std::string query = log.substr(at, log.find(' ', at) - at);
  std::stringstream parts(query);
  for (std::string kv; std::getline(parts, kv, '&');) {
    const size_t eq = kv.find('=');
    if (eq == std::string::npos) continue;
    out[url_decode(kv.substr(0, eq))] = url_decode(kv.substr(eq + 1));
  }
  return out;
}

constexpr int kBigLines = 8000;

// The page: a style sheet and two scripts, all static. lib.js has a
// precompressed lib.js.gz beside it whose text differs on purpose (it sets
// libFrom to "gz", the file to "plain"): the page tells which one the
// browser ran. app.js checks the rest and navigates to /report?<results>
// (a 404 from the static mount, which the access log records).
void write_site(const std::string& www) {
  write_file(www + "/index.html",
             "<!doctype html>\n<html><head><meta charset=utf-8>"
             "<title>static</title>\n"
             "<link rel=stylesheet href=/style.css></head>\n"
             "<body><p id=box>box</p>\n"
             "<script src=/lib.js></script>\n"
             "<script src=/app.js></script></body></html>\n");
  write_file(www + "/style.css", "#box { color: rgb(1, 2, 3) }\n");
  write_file(www + "/data.txt", "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
  std::string big;
  for (int i = 0; i < kBigLines; ++i) {
    big += "line " + std::to_string(i) + " of the big text\n";
  }
  write_file(www + "/big.txt", big);
  std::string padding;
  for (int i = 0; i < 200; ++i) padding += "// padding to compress\n";
  write_file(www + "/lib.js", "window.libFrom = 'plain';\n" + padding);
  // The variant must not be older than its file: make the file older.
  const struct timeval old[2] = {{time(nullptr) - 60, 0},
                                 {time(nullptr) - 60, 0}};
  utimes((www + "/lib.js").c_str(), old);
  write_file(www + "/lib.js.gz",
             gzip_bytes("window.libFrom = 'gz';\n" + padding));
  write_file(www + "/app.js", R"JS(
(async () => {
  const r = {};
  let sent = false;
  const report = () => {
    if (sent) return;
    sent = true;
    location.href = '/report?' + new URLSearchParams(r).toString();
  };
  // Whatever has not settled by then is reported as it is.
  const watchdog = setTimeout(() => { r.watchdog = '1'; report(); }, 20000);
  try {
    const color = getComputedStyle(document.getElementById('box')).color;
    r.css = color === 'rgb(1, 2, 3)' ? 'ok' : 'bad:' + color;
    r.proto = performance.getEntriesByType('navigation')[0].nextHopProtocol;
    r.lib = window.libFrom || 'none';
    const lib = performance.getEntriesByName(new URL('/lib.js', location).href)[0];
    r.lib_sizes = lib ? lib.encodedBodySize + '/' + lib.decodedBodySize : 'none';

    const range = await fetch('/data.txt', {headers: {Range: 'bytes=0-9'}});
    r.range_status = range.status;
    r.range_body = await range.text();
    r.range_cr = range.headers.get('content-range');

    // no-cache: the browser revalidates what it has (a 304 to it); the page
    // sees the 200 and the text it kept.
    const css = await fetch('/style.css', {cache: 'no-cache'});
    r.again_status = css.status;
    r.again_body = (await css.text()).includes('rgb(1, 2, 3)') ? 'ok' : 'bad';

    const big = await fetch('/big.txt');
    const text = await big.text();
    let want = '';
    for (let i = 0; i < BIG_LINES; ++i) want += 'line ' + i + ' of the big text\n';
    r.big = text === want ? 'ok' : 'bad:' + text.length;
    r.big_enc = big.headers.get('content-encoding') || 'identity';
    const e = performance.getEntriesByName(big.url)[0];
    r.big_smaller = e && e.encodedBodySize > 0 &&
        e.encodedBodySize < e.decodedBodySize ? 'yes' :
        (e ? e.encodedBodySize + '/' + e.decodedBodySize : 'none');
  } catch (err) {
    r.jserror = String(err);
  }
  clearTimeout(watchdog);
  report();
})();
)JS");
  // BIG_LINES in the script is the count the test wrote.
  std::string app = read_file(www + "/app.js");
  app.replace(app.find("BIG_LINES"), 9, std::to_string(kBigLines));
  write_file(www + "/app.js", app);
}

// true: https with ALPN h2; false: cleartext http, HTTP/1.1.
class StaticBrowser : public ::testing::TestWithParam<bool> {};

TEST_P(StaticBrowser, ChromiumLoadsAPageFromTheStaticMount) {
  const bool https = GetParam();
  const std::string chromium = find_chromium();
  ASSERT_FALSE(chromium.empty())
      << "no chromium binary (Debian package chromium, or set "
         "POUNCE_CHROMIUM)";
  TempDir dir("pounce-static-browser");
  ASSERT_FALSE(dir.path().empty());
  const std::string www = dir.path() + "/www";
  fs::create_directories(www);
  write_site(www);

  std::vector<std::string> args = {"--static", "/=" + www, "--workers", "1"};
  std::string spki = "none";
  if (https) {
    // A certificate from the test CA, accepted by chromium through the
    // hash of its public key.
    CertFiles server;
    try {
      TestPki pki = TestPki::create(dir.path());
      CertRequest request;
      request.dns_names = {"localhost"};
      request.ip_addresses = {"127.0.0.1"};
      server = pki.issue(request);
      spki = TestPki::spki_sha256_base64(server.cert_path);
    } catch (const std::exception& e) {
      FAIL() << "test certificates: " << e.what();
    }
    args.insert(args.end(), {"--listen", "https://127.0.0.1:0", "--tls-cert",
                             server.cert_path, "--tls-key", server.key_path});
  } else {
    args.insert(args.end(), {"--listen", "http://127.0.0.1:0"});
  }
  HostProcess host(args);
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  const std::string origin = host.listener_urls()[0];

  Chromium browser(chromium, dir.path(), spki, origin + "/");
  ASSERT_TRUE(browser.started()) << "cannot start " << chromium;
  // Generous: chromium starts in 1-3 s; a sanitizer build or a loaded
  // machine is slower, and the page's watchdog reports at 20 s.
  const bool reported = host.wait_for_stdout("\"GET /report?", 90s);
  ASSERT_TRUE(reported) << "the page never reported.\n--- chromium output:\n"
                        << browser.output() << "\n--- host stdout:\n"
                        << host.stdout_text() << "\n--- host stderr:\n"
                        << host.stderr_text();
  const std::string log = host.stdout_text();
  std::map<std::string, std::string> r = report_fields(log);
  std::string all;
  for (const auto& [k, v] : r) all += "  " + k + "=" + v + "\n";
  SCOPED_TRACE("page report:\n" + all + "access log:\n" + log);

  EXPECT_EQ(r.count("jserror"), 0u);
  EXPECT_EQ(r.count("watchdog"), 0u);
  EXPECT_EQ(r["css"], "ok");
  EXPECT_EQ(r["proto"], https ? "h2" : "http/1.1");
  // The precompressed variant, decoded by the browser.
  EXPECT_EQ(r["lib"], "gz");
  EXPECT_EQ(r["range_status"], "206");
  EXPECT_EQ(r["range_body"], "ABCDEFGHIJ");
  EXPECT_EQ(r["range_cr"], "bytes 0-9/26");
  EXPECT_EQ(r["again_status"], "200");
  EXPECT_EQ(r["again_body"], "ok");
  // On-the-fly compression, decoded by the browser: smaller on the wire.
  EXPECT_EQ(r["big"], "ok");
  EXPECT_TRUE(r["big_enc"] == "gzip" || r["big_enc"] == "zstd") << r["big_enc"];
  EXPECT_EQ(r["big_smaller"], "yes");

  // The access log: each part over the page's protocol, the range a 206
  // and the style sheet's second fetch a revalidation (304).
  const std::string v = https ? "HTTP/2.0" : "HTTP/1.1";
  EXPECT_TRUE(contains(log, "\"GET / " + v + "\" 200"));
  EXPECT_TRUE(contains(log, "\"GET /style.css " + v + "\" 200"));
  EXPECT_TRUE(contains(log, "\"GET /style.css " + v + "\" 304"));
  EXPECT_TRUE(contains(log, "\"GET /data.txt " + v + "\" 206"));
  EXPECT_TRUE(contains(log, "\"GET /lib.js " + v + "\" 200"));
  EXPECT_TRUE(contains(log, "\"GET /big.txt " + v + "\" 200"));
}

INSTANTIATE_TEST_SUITE_P(Protocols, StaticBrowser, ::testing::Bool(),
                         [](const auto& info) {
                           return info.param ? "Https2" : "Http11";
                         });

}  // namespace
