// File bodies (issue 15 §2, ABI 1.1): response_file (sync and blocking)
// and stream_write_file (async), through the test plugin file_body
// (tests/plugins/file_body.c), over HTTP/1.1 cleartext (sendfile), HTTP/1.1
// over TLS (pread pieces), h2c and h2 over TLS (pread as nghttp2 asks for
// DATA).
//
// The bodies must arrive byte for byte, whole or as a range; HEAD gets the
// length and no body; requests pipelined behind a file come back in order;
// a client that does not read costs the server no more memory than a piece
// (VmRSS after the first body bytes, with a 64 MiB file: reading it whole
// would show); a file that shrinks while it is sent ends the response short
// (never padded) with a log line; refused descriptors are closed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "test_files.h"
#include "test_protocols.h"
#include "tls_support.h"

using namespace pounce::test;
using namespace std::chrono_literals;

namespace {

// A sparse file of `size` bytes: a large body without the disk traffic.
void make_sparse(const std::string& path, off_t size) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, size), 0);
  close(fd);
}

long vm_rss_kb(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

bool contains(const std::string& hay, const std::string& needle) {
  return hay.find(needle) != std::string::npos;
}

class FileBodies : public ::testing::TestWithParam<Proto> {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/pounce-files-XXXXXX";
    dir_ = new std::string(mkdtemp(tmpl));
    small_ = new std::string(random_bytes(1000, 1));
    big_ = new std::string(random_bytes(8 << 20, 2));
    write_file(*dir_ + "/small.bin", *small_);
    write_file(*dir_ + "/big.bin", *big_);
    cert_ = new TempCert();
    std::vector<std::string> args = {"--listen",
                                     "http://127.0.0.1:0",
                                     "--listen",
                                     "https://127.0.0.1:0",
                                     "--plugin",
                                     "/f=" + test_plugin_path("file_body"),
                                     "--stream-high-water",
                                     "262144",
                                     "--workers",
                                     "1",
                                     "--async-threads",
                                     "1"};
    for (const std::string& a : cert_->host_args()) args.push_back(a);
    host_ = new HostProcess(args);
  }
  static void TearDownTestSuite() {
    delete host_;
    delete cert_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete small_;
    delete big_;
  }
  void SetUp() override {
    ASSERT_TRUE(cert_->ok()) << cert_->error();
    ASSERT_TRUE(host_->ok()) << host_->stderr_text();
  }

  bool tls() const {
    return GetParam() == Proto::Https11 || GetParam() == Proto::H2Tls;
  }
  bool h2() const {
    return GetParam() == Proto::H2c || GetParam() == Proto::H2Tls;
  }
  uint16_t port() const { return host_->ports()[tls() ? 1 : 0]; }
  std::string url(const std::string& path) const {
    return (tls() ? "https://localhost:" : "http://127.0.0.1:") +
           std::to_string(port()) + path;
  }
  CommandResult curl(std::vector<std::string> args) const {
    std::vector<std::string> argv = {"curl", "-sS", "--max-time", "60"};
    switch (GetParam()) {
      case Proto::Http11:
        argv.push_back("--http1.1");
        break;
      case Proto::Https11:
        argv.push_back("--http1.1");
        break;
      case Proto::H2c:
        argv.push_back("--http2-prior-knowledge");
        break;
      case Proto::H2Tls:
        argv.push_back("--http2");
        break;
    }
    if (tls()) {
      argv.insert(argv.end(),
                  {"-k", "--resolve",
                   "localhost:" + std::to_string(port()) + ":127.0.0.1"});
    }
    for (auto& a : args) argv.push_back(std::move(a));
    return run_command(argv, 90s);
  }
  // GET `path` into a file: its bytes, and curl's "code version".
  std::string get(const std::string& path, std::string* info) const {
    const std::string out = *dir_ + "/out.bin";
    std::filesystem::remove(out);
    CommandResult r =
        curl({"-o", out, "-w", "%{http_code} %{http_version}", url(path)});
    EXPECT_EQ(r.status, 0) << path << " " << r.err;
    *info = r.out;
    return read_file(out);
  }
  std::string expect_version() const { return h2() ? "2" : "1.1"; }
  std::string file(const char* name) const { return *dir_ + "/" + name; }
  // A fresh file for one test (it may be changed while it is sent).
  std::string own_file(const std::string& name) const {
    return *dir_ + "/" + name + "-" + proto_name({GetParam(), 0});
  }

  static std::string* dir_;
  static std::string* small_;
  static std::string* big_;
  static TempCert* cert_;
  static HostProcess* host_;
};

std::string* FileBodies::dir_ = nullptr;
std::string* FileBodies::small_ = nullptr;
std::string* FileBodies::big_ = nullptr;
TempCert* FileBodies::cert_ = nullptr;
HostProcess* FileBodies::host_ = nullptr;

TEST_P(FileBodies, BodiesAreByteIdentical) {
  for (const char* route :
       {"/f/file", "/f/blk/file", "/f/async/file", "/f/async/file?declare=1",
        "/f/async/file?piece=1000003"}) {
    for (const char* name : {"small.bin", "big.bin"}) {
      std::string r = route;
      r +=
          (r.find('?') == std::string::npos ? "?path=" : "&path=") + file(name);
      std::string info;
      const std::string body = get(r, &info);
      EXPECT_EQ(info, "200 " + expect_version()) << r;
      const std::string& want =
          std::string(name) == "small.bin" ? *small_ : *big_;
      EXPECT_EQ(body.size(), want.size()) << r;
      EXPECT_TRUE(body == want) << r << ": the bytes differ";
    }
  }
}

TEST_P(FileBodies, ARangeInTheMiddle) {
  const uint64_t off = 1234567, len = 3000001;
  for (const char* route :
       {"/f/file", "/f/blk/file", "/f/async/file", "/f/async/file?declare=1"}) {
    std::string r = route;
    r += r.find('?') == std::string::npos ? "?" : "&";
    r += "path=" + file("big.bin");
    r += "&off=" + std::to_string(off);
    r += "&len=" + std::to_string(len);
    std::string info;
    const std::string body = get(r, &info);
    EXPECT_EQ(info, "200 " + expect_version()) << r;
    EXPECT_EQ(body.size(), len) << r;
    EXPECT_TRUE(body == big_->substr(off, len)) << r << ": the bytes differ";
  }
}

TEST_P(FileBodies, HeadHasTheLengthAndNoBody) {
  for (const char* route : {"/f/file", "/f/blk/file"}) {
    const std::string r =
        std::string(route) + "?path=" + file("big.bin") + "&off=10&len=5000000";
    CommandResult c = curl({"--head", "-w", "size=%{size_download}", url(r)});
    ASSERT_EQ(c.status, 0) << c.err;
    std::string h = c.out;
    for (char& ch : h) ch = static_cast<char>(tolower(ch));
    EXPECT_TRUE(contains(h, "content-length: 5000000\r\n")) << r << h;
    EXPECT_TRUE(contains(h, "size=0")) << r << h;
  }
}

TEST_P(FileBodies, RefusedDescriptorsAreAnsweredAndClosed) {
  if (GetParam() == Proto::H2c) {
    // curl 7.88 cannot reuse an h2c prior-knowledge connection for the
    // next URL ("Error in the HTTP2 framing layer", whatever the server):
    // the refusals are decided before any protocol, and H2Tls covers
    // HTTP/2.
    GTEST_SKIP() << "curl cannot reuse an h2c connection";
  }
  // One connection for all (curl reuses it): the count of descriptors
  // before and after differs only by what the calls leaked.
  std::vector<std::string> args = {"-w", " %{http_code}\n", url("/f/fdcount")};
  const char* whats[] = {"dir", "pipe", "past", "twice", "body", "after"};
  for (const char* w : whats) {
    args.push_back(url(std::string("/f/bad?what=") + w));
  }
  args.push_back(url("/f/fdcount"));
  CommandResult c = curl(args);
  ASSERT_EQ(c.status, 0) << c.err;
  std::istringstream lines(c.out);
  std::vector<std::string> codes;
  std::string first_count, last_count, line;
  std::vector<std::string> all;
  while (std::getline(lines, line)) all.push_back(line);
  // fdcount: "N\n 200"; the 500s: "<error text> 500".
  ASSERT_GE(all.size(), 3u) << c.out;
  first_count = all.front();
  size_t n500 = 0;
  for (const std::string& l : all) {
    if (l.size() >= 4 && l.substr(l.size() - 4) == " 500") ++n500;
  }
  EXPECT_EQ(n500, std::size(whats)) << c.out;
  last_count = all[all.size() - 2];
  EXPECT_EQ(first_count, last_count) << "descriptors leaked:\n" << c.out;
  for (const char* w : whats) {
    EXPECT_TRUE(
        host_->wait_for_stderr(std::string("file_body: bad ") + w + " rc -2"))
        << w;
  }
}

TEST_P(FileBodies, ASlowReaderCostsNoMoreThanAPiece) {
  const std::string path = own_file("huge");
  make_sparse(path, 64 << 20);
  const pid_t pid = host_->serving_pid();
  // Warm: the code paths and buffers of a file response exist already.
  std::string info;
  get("/f/file?path=" + file("small.bin"), &info);
  const long before = vm_rss_kb(pid);
  ASSERT_GT(before, 0);
  long during = -1;
  const std::string req =
      "GET /f/file?path=" + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  if (GetParam() == Proto::Http11) {
    RawClient c(port(), ClientSocketOptions{65536, 0});
    ASSERT_TRUE(c.send(req));
    auto head = c.read_head(30s);
    ASSERT_TRUE(head) << "no head";
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
    EXPECT_FALSE(c.read_some(10s).empty());
    during = vm_rss_kb(pid);
  } else {
    CommandResult r = run_command(
        {"/usr/bin/python3", POUNCE_H2_FILE_CLIENT, std::to_string(port()),
         tls() ? "1" : "0", "/f/file?path=" + path, "rss", std::to_string(pid)},
        120s);
    ASSERT_EQ(r.status, 0) << r.err;
    const size_t at = r.out.find("\"rss_kb\": ");
    ASSERT_NE(at, std::string::npos) << r.out;
    during = std::stol(r.out.substr(at + 10));
    EXPECT_TRUE(contains(r.out, "\"length\": 67108864")) << r.out;
  }
  // The response has started: the whole file read into memory would show
  // as 64 MiB more. A piece (and the loop's buffers) is far below 16 MiB.
  EXPECT_LT(during - before, 16 * 1024)
      << "VmRSS " << before << " kB -> " << during << " kB";
  std::filesystem::remove(path);
}

TEST_P(FileBodies, AFileThatShrinksEndsTheResponseShort) {
  const std::string path = own_file("shrinks");
  write_file(path, random_bytes(32 << 20, 3));
  const std::string req =
      "GET /f/file?path=" + path + " HTTP/1.1\r\nHost: localhost\r\n\r\n";
  size_t received = 0;
  if (!h2()) {
    std::string rest;
    if (GetParam() == Proto::Http11) {
      RawClient c(port(), ClientSocketOptions{65536, 0});
      ASSERT_TRUE(c.send(req));
      auto head = c.read_head(30s);
      ASSERT_TRUE(head);
      ASSERT_EQ(head->header("Content-Length").value_or(""), "33554432");
      ASSERT_EQ(truncate(path.c_str(), 1 << 20), 0);
      rest = c.read_all(60s);
    } else {
      TlsClientOptions o;
      o.socket.receive_buffer = 65536;
      TlsClient c(port(), o);
      ASSERT_TRUE(c.connected()) << c.error();
      ASSERT_TRUE(c.send(req));
      auto head = c.read_head(30s);
      ASSERT_TRUE(head);
      ASSERT_EQ(head->header("Content-Length").value_or(""), "33554432");
      ASSERT_EQ(truncate(path.c_str(), 1 << 20), 0);
      rest = c.read_all(60s);
    }
    received = rest.size();
  } else {
    CommandResult r = run_command(
        {"/usr/bin/python3", POUNCE_H2_FILE_CLIENT, std::to_string(port()),
         tls() ? "1" : "0", "/f/file?path=" + path, "shrink", path,
         std::to_string(1 << 20)},
        120s);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "\"length\": 33554432")) << r.out;
    // RST_STREAM INTERNAL_ERROR (2).
    EXPECT_TRUE(contains(r.out, "\"reset\": 2")) << r.out;
    const size_t at = r.out.find("\"received\": ");
    ASSERT_NE(at, std::string::npos);
    received = std::stoul(r.out.substr(at + 12));
  }
  EXPECT_LT(received, size_t{32} << 20) << "padded or complete";
  EXPECT_TRUE(host_->wait_for_stderr(
      "of 33554432; " + std::string(h2() ? "resetting the stream" : "closing")))
      << host_->stderr_text();
  EXPECT_TRUE(contains(host_->stderr_text(), "the file (fd "));
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(Protocols, FileBodies,
                         ::testing::Values(Proto::Http11, Proto::Https11,
                                           Proto::H2c, Proto::H2Tls),
                         proto_name);

// ---------------------------------------------------------------------------
// HTTP/1.1's own: pipelining and the stream's high-water mark

class FileBodiesHttp1 : public FileBodies {};

TEST_F(FileBodiesHttp1, PipelinedRequestsBehindAFileComeBackInOrder) {
  // A small receive buffer: the file cannot all leave at once, so the
  // requests behind it wait while it is sent.
  RawClient c(host_->ports()[0], ClientSocketOptions{32768, 0});
  const std::string big =
      "GET /f/file?path=" + *dir_ + "/big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string small =
      "GET /f/file?path=" + *dir_ + "/small.bin HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::string count = "GET /f/fdcount HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(c.send(big + count + small + big + small));
  auto r1 = c.read_response(false, 60s);
  auto r2 = c.read_response(false, 60s);
  auto r3 = c.read_response(false, 60s);
  auto r4 = c.read_response(false, 60s);
  auto r5 = c.read_response(false, 60s);
  ASSERT_TRUE(r1 && r2 && r3 && r4 && r5);
  EXPECT_TRUE(r1->body == *big_);
  EXPECT_EQ(r2->header("Content-Type").value_or(""), "text/plain");
  EXPECT_TRUE(r3->body == *small_);
  EXPECT_TRUE(r4->body == *big_);
  EXPECT_TRUE(r5->body == *small_);
}

TEST_F(FileBodiesHttp1, StreamWriteFileObeysTheHighWaterMark) {
  RawClient c(host_->ports()[0], ClientSocketOptions{32768, 0});
  ASSERT_TRUE(c.send("GET /f/async/file?piece=1048576&path=" + *dir_ +
                     "/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
  // The client reads nothing yet: the queue passes the mark.
  ASSERT_TRUE(host_->wait_for_stderr("file_body: high water at byte", 30s))
      << host_->stderr_text();
  auto r = c.read_response(false, 60s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Transfer-Encoding").value_or(""), "chunked");
  EXPECT_TRUE(r->body == *big_) << r->body.size();
  EXPECT_TRUE(host_->wait_for_stderr("file_body: writable"));
}

TEST_F(FileBodiesHttp1, AClientThatStopsReadingMeetsTheWriteTimeout) {
  // sendfile writes behind libuv's back: the write timeout must still be
  // armed while the socket is full, and restarted by each piece it takes.
  HostProcess host({"--plugin", "/f=" + test_plugin_path("file_body"),
                    "--write-timeout", "1", "--workers", "1"});
  ASSERT_TRUE(host.ok()) << host.stderr_text();
  const std::string path = *dir_ + "/never-read";
  make_sparse(path, 64 << 20);
  RawClient c(host.port(), ClientSocketOptions{32768, 0});
  ASSERT_TRUE(
      c.send("GET /f/file?path=" + path + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(host.wait_for_stderr("write timeout: ", 20s))
      << host.stderr_text();
  EXPECT_TRUE(c.wait_closed(20s));
  std::filesystem::remove(path);
}

TEST_F(FileBodiesHttp1, ACompressedStreamRefusesFileBytes) {
  // text/plain of unknown length, gzip accepted: the host compresses the
  // stream, so file bytes would have to be read to be compressed.
  RawClient c(host_->ports()[0]);
  ASSERT_TRUE(c.send("GET /f/async/file?type=text/plain&path=" + *dir_ +
                     "/big.bin HTTP/1.1\r\nHost: x\r\n"
                     "Accept-Encoding: gzip\r\n\r\n"));
  EXPECT_TRUE(host_->wait_for_stderr("file_body: write_file rc -6", 30s))
      << host_->stderr_text();
  // The stream was aborted: a cut response, not a complete one.
  EXPECT_FALSE(c.read_response(false, 10s).has_value());
}

}  // namespace
