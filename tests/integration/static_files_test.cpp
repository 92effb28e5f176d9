// --static PREFIX=DIR (issue 15 §1) through real clients: curl over
// HTTP/1.1, HTTP/2 (prior knowledge and ALPN) and TLS, and a raw socket
// for the bytes curl would clean up (a backslash, a NUL).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "host_process.h"
#include "raw_client.h"
#include "tls_support.h"

using namespace pounce::test;
namespace fs = std::filesystem;

namespace {

struct Reply {
  int status = 0;
  std::string version;
  std::multimap<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string raw_head;
  std::string err;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  bool has(const std::string& name) const { return headers.count(name) > 0; }
};

// curl with `args`, the response head dumped before the body; the last head
// when curl saw several (a 100 Continue).
Reply curl(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"curl", "-sS", "--max-time",
                                   "20",   "-D",  "-"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult r = run_command(argv);
  Reply out;
  out.err = r.err;
  if (r.status != 0) {
    out.status = -r.status;
    return out;
  }
  const size_t end = r.out.find("\r\n\r\n");
  if (end == std::string::npos) return out;
  out.raw_head = r.out.substr(0, end);
  out.body = r.out.substr(end + 4);
  size_t line_end = out.raw_head.find("\r\n");
  const std::string status_line = out.raw_head.substr(0, line_end);
  const size_t sp = status_line.find(' ');
  out.version = status_line.substr(0, sp);
  out.status = atoi(status_line.c_str() + sp + 1);
  size_t pos =
      line_end == std::string::npos ? out.raw_head.size() : line_end + 2;
  while (pos < out.raw_head.size()) {
    size_t next = out.raw_head.find("\r\n", pos);
    if (next == std::string::npos) next = out.raw_head.size();
    const std::string line = out.raw_head.substr(pos, next - pos);
    const size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(tolower(c));
      size_t v = colon + 1;
      while (v < line.size() && line[v] == ' ') ++v;
      out.headers.emplace(name, line.substr(v));
    }
    pos = next + 2;
  }
  return out;
}

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

std::string zstd_bytes(const std::string& in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 19));
  return out;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

// A site: an index, assets of each common type, a large binary for ranges,
// variants, and everything that must not be served.
class StaticSite {
 public:
  StaticSite() {
    base_ = fs::temp_directory_path() /
            ("pounce-static-it-" + std::to_string(getpid()) + "-" +
             std::to_string(counter_++));
    fs::remove_all(base_);
    www_ = base_ / "www";
    fs::create_directories(www_ / "docs");
    fs::create_directories(www_ / "empty");
    fs::create_directories(www_ / ".git");
    write_file(base_ / "outside.txt", "OUTSIDE-SECRET\n");
    write_file(www_ / "index.html", "<h1>home</h1>\n");
    write_file(www_ / "docs" / "index.html", "<h1>docs</h1>\n");
    write_file(www_ / "style.css", "body { color: red }\n");
    write_file(www_ / "data.json", "{\"a\": 1}\n");
    write_file(www_ / "logo.svg", "<svg/>\n");
    write_file(www_ / "pic.png", std::string("\x89PNG\r\n\x1a\n", 8));
    write_file(www_ / "file.unknownext", "?");
    write_file(www_ / ".env", "SECRET=1\n");
    write_file(www_ / ".git" / "config", "[core]\n");
    std::mt19937 rng(7);
    big_.resize(100000);
    for (char& c : big_) c = static_cast<char>(rng());
    write_file(www_ / "big.bin", big_);
    for (int i = 0; i < 200; ++i) {
      app_ += "function f" + std::to_string(i) + "() { return " +
              std::to_string(i * 7) + "; }\n";
    }
    write_file(www_ / "app.js", app_);
    write_file(www_ / "app.js.gz", gzip_bytes(app_));
    write_file(www_ / "app.js.zst", zstd_bytes(app_));
    write_file(www_ / "app.js.br", "BROTLI-BYTES");
    for (int i = 0; i < 100; ++i)
      text_ += "line " + std::to_string(i) + " of text\n";
    write_file(www_ / "plain.txt", text_);
    fs::create_symlink("../outside.txt", www_ / "out-link.txt");
    fs::create_symlink("style.css", www_ / "in-link.css");
    mkfifo((www_ / "pipe").c_str(), 0644);
    have_device_ =
        mknod((www_ / "null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0;
    fs::permissions(base_, fs::perms::owner_all | fs::perms::group_read |
                               fs::perms::group_exec | fs::perms::others_read |
                               fs::perms::others_exec);
  }
  ~StaticSite() { fs::remove_all(base_); }

  std::string dir() const { return www_.string(); }
  const fs::path& www() const { return www_; }
  const std::string& big() const { return big_; }
  const std::string& app() const { return app_; }
  const std::string& text() const { return text_; }
  bool have_device() const { return have_device_; }

 private:
  static inline int counter_ = 0;
  fs::path base_;
  fs::path www_;
  std::string big_;
  std::string app_;
  std::string text_;
  bool have_device_ = false;
};

HostProcess start(const StaticSite& site, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--static", "/s=" + site.dir(), "--workers",
                                   "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return HostProcess(args);
}

// A raw HTTP/1.1 request for a target curl would rewrite.
int raw_status(HostProcess& h, const std::string& target,
               std::string* body = nullptr) {
  RawClient c(h.port());
  c.send("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  auto r = c.read_response();
  if (!r) return 0;
  if (body) *body = r->body;
  return r->status;
}

}  // namespace

TEST(StaticFiles, GetAndHeadWithTypesAndValidators) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_TRUE(h.wait_for_stderr("serving static files at /s"));

  Reply r = curl({h.url("/s/style.css")});
  ASSERT_EQ(r.status, 200) << r.err;
  EXPECT_EQ(r.body, "body { color: red }\n");
  EXPECT_EQ(r.header("content-type"), "text/css; charset=utf-8");
  EXPECT_EQ(r.header("cache-control"), "public, max-age=3600");
  EXPECT_EQ(r.header("accept-ranges"), "bytes");
  EXPECT_EQ(r.header("content-length"), "20");
  const std::string etag = r.header("etag");
  ASSERT_FALSE(etag.empty());
  EXPECT_EQ(etag.front(), '"');  // strong
  EXPECT_EQ(r.header("last-modified").size(), 29u) << r.raw_head;

  Reply head = curl({"-I", h.url("/s/style.css")});
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.header("content-length"), "20");
  EXPECT_EQ(head.header("etag"), etag);

  // A HEAD has no body: the next response on the connection follows it.
  RawClient c(h.port());
  c.send(
      "HEAD /s/style.css HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /s/data.json HTTP/1.1\r\nHost: x\r\n\r\n");
  auto hr = c.read_response(/*head_request=*/true);
  ASSERT_TRUE(hr);
  EXPECT_EQ(hr->header("Content-Length"), "20");
  auto gr = c.read_response();
  ASSERT_TRUE(gr);
  EXPECT_EQ(gr->body, "{\"a\": 1}\n");

  const std::pair<const char*, const char*> types[] = {
      {"/s/data.json", "application/json; charset=utf-8"},
      {"/s/logo.svg", "image/svg+xml; charset=utf-8"},
      {"/s/pic.png", "image/png"},
      {"/s/index.html", "text/html; charset=utf-8"},
      {"/s/big.bin", "application/octet-stream"},
      {"/s/file.unknownext", "application/octet-stream"},
  };
  for (const auto& [path, type] : types) {
    Reply t = curl({"-I", h.url(path)});
    EXPECT_EQ(t.status, 200) << path;
    EXPECT_EQ(t.header("content-type"), type) << path;
  }
  // Logged like any request.
  EXPECT_TRUE(h.wait_for_stdout("\"GET /s/style.css HTTP/1.1\" 200"))
      << h.stdout_text();
}

TEST(StaticFiles, IndexRedirectAndMissing) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  Reply r = curl({h.url("/s/")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<h1>home</h1>\n");
  r = curl({h.url("/s/docs/")});
  EXPECT_EQ(r.body, "<h1>docs</h1>\n");
  // A directory without its slash: 301 to it, with the query.
  r = curl({h.url("/s/docs?x=1&y=2")});
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/s/docs/?x=1&y=2");
  r = curl({h.url("/s")});
  EXPECT_EQ(r.status, 301);
  EXPECT_EQ(r.header("location"), "/s/");
  // No listings.
  EXPECT_EQ(curl({h.url("/s/empty/")}).status, 404);
  EXPECT_EQ(curl({h.url("/s/missing.txt")}).status, 404);
  EXPECT_EQ(curl({h.url("/s/style.css/")}).status, 404);
  // Dotfiles and dot directories.
  EXPECT_EQ(curl({h.url("/s/.env")}).status, 404);
  EXPECT_EQ(curl({h.url("/s/.git/config")}).status, 404);
  EXPECT_EQ(curl({h.url("/s/.git/")}).status, 404);
}

TEST(StaticFiles, OnlyGetAndHead) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* method : {"POST", "PUT", "DELETE", "OPTIONS", "PATCH"}) {
    Reply r = curl({"-X", method, h.url("/s/style.css")});
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.header("allow"), "GET, HEAD") << method;
  }
  // No WebSocket on a static mount.
  Reply ws = curl(
      {"-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
       "Sec-WebSocket-Version: 13", "-H",
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", h.url("/s/style.css")});
  EXPECT_EQ(ws.status, 400);
  EXPECT_EQ(ws.header("x-pounce-error"), "WEBSOCKET_UNSUPPORTED");
}

// Every spelling of a climb, an encoded separator, a backslash, a NUL and an
// overlong '.', through curl --path-as-is and a raw socket. None serves a
// byte from outside the directory.
TEST(StaticFiles, TraversalIsRefused) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::pair<const char*, int> cases[] = {
      {"/s/../outside.txt", 404},  // normalized to /outside.txt: no route
      {"/s/../../../../etc/passwd", 400},
      {"/s/%2e%2e/%2e%2e/etc/passwd", 400},
      {"/s/%2E%2E/outside.txt", 404},  // lands on /outside.txt: no route
      {"/s/docs/%2e%2e/%2e%2e/outside.txt", 404},
      {"/s/..%2foutside.txt", 404},  // an encoded '/'
      {"/s/%2e%2e%2foutside.txt", 404},
      {"/s/..%5coutside.txt", 404},          // an encoded '\'
      {"/s/%c0%ae%c0%ae/outside.txt", 404},  // overlong UTF-8 '.'
      {"/s/%c0%ae%c0%ae%c0%afoutside.txt", 404},
      {"/s/out-link.txt", 404},  // a symlink out of DIR
      {"/s/a%00b", 400},         // an encoded NUL
  };
  for (const auto& [target, status] : cases) {
    Reply r = curl({"--path-as-is", h.url(target)});
    EXPECT_EQ(r.status, status) << target << "\n" << r.raw_head;
    EXPECT_EQ(r.body.find("OUTSIDE-SECRET"), std::string::npos) << target;
    EXPECT_EQ(r.body.find("root:"), std::string::npos) << target;
  }
  std::string body;
  EXPECT_EQ(raw_status(h, "/s/..\\outside.txt", &body), 404);
  EXPECT_EQ(raw_status(h, "/s/docs\\..\\..\\outside.txt", &body), 404);
  EXPECT_EQ(body.find("OUTSIDE-SECRET"), std::string::npos);
  // A raw NUL in the target is not HTTP.
  EXPECT_EQ(raw_status(h, std::string("/s/style.css\0x", 14)), 400);
  // A symlink that stays inside is followed.
  EXPECT_EQ(curl({h.url("/s/in-link.css")}).body, "body { color: red }\n");
}

TEST(StaticFiles, FollowSymlinksServesTheLinkOutside) {
  StaticSite site;
  HostProcess h = start(site, {"--static-follow-symlinks"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  Reply r = curl({h.url("/s/out-link.txt")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "OUTSIDE-SECRET\n");
  // Still no dotfiles, and still no climb.
  EXPECT_EQ(curl({h.url("/s/.env")}).status, 404);
}

// A FIFO must not hang the worker (it is never opened for reading) and a
// device is never opened at all: both 404.
TEST(StaticFiles, FifoAndDeviceAreRefused) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(curl({h.url("/s/pipe")}).status, 404);
  if (site.have_device()) {
    EXPECT_EQ(curl({h.url("/s/null")}).status, 404);
  }
  // The worker still serves.
  EXPECT_EQ(curl({h.url("/s/style.css")}).status, 200);
}

// A file the host may not read is 403 (docs/static-files.md). The host runs
// as nobody when the test runs as root, who may read anything.
TEST(StaticFiles, PermissionDeniedIsForbidden) {
  StaticSite site;
  write_file(site.www() / "private.txt", "private\n");
  fs::permissions(site.www() / "private.txt", fs::perms::owner_read);
  HostOptions o;
  o.args = {"--static", "/s=" + site.dir(), "--workers", "1"};
  if (geteuid() == 0) {
    o.prefix = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"};
  }
  HostProcess h(o);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(curl({h.url("/s/private.txt")}).status, 403);
  EXPECT_EQ(curl({h.url("/s/style.css")}).status, 200);
}

TEST(StaticFiles, ConditionalRequests) {
  StaticSite site;
  HostProcess h = start(site, {"--no-compression"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string url = h.url("/s/style.css");
  Reply first = curl({url});
  const std::string etag = first.header("etag");
  const std::string lm = first.header("last-modified");
  ASSERT_FALSE(etag.empty());

  Reply r = curl({"-H", "If-None-Match: " + etag, url});
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.header("etag"), etag);
  EXPECT_EQ(r.header("cache-control"), "public, max-age=3600");
  EXPECT_EQ(curl({"-H", "If-None-Match: W/" + etag, url}).status, 304);
  EXPECT_EQ(curl({"-H", "If-None-Match: \"a\", " + etag, url}).status, 304);
  EXPECT_EQ(curl({"-H", "If-None-Match: *", url}).status, 304);
  EXPECT_EQ(curl({"-H", "If-None-Match: \"other\"", url}).status, 200);
  EXPECT_EQ(curl({"-H", "If-Modified-Since: " + lm, url}).status, 304);
  EXPECT_EQ(
      curl({"-H", "If-Modified-Since: Thu, 01 Jan 1970 00:00:00 GMT", url})
          .status,
      200);
  // HEAD too.
  EXPECT_EQ(curl({"-I", "-H", "If-None-Match: " + etag, url}).status, 304);

  EXPECT_EQ(curl({"-H", "If-Match: \"other\"", url}).status, 412);
  EXPECT_EQ(curl({"-H", "If-Match: " + etag, url}).status, 200);
  EXPECT_EQ(curl({"-H", "If-Match: W/" + etag, url}).status, 412);
  EXPECT_EQ(
      curl({"-H", "If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT", url})
          .status,
      412);
  // 412 before 304 (RFC 9110 §13.2.2).
  EXPECT_EQ(
      curl({"-H", "If-Match: \"other\"", "-H", "If-None-Match: " + etag, url})
          .status,
      412);
  // Malformed: a date we cannot read is ignored; an ETag list we cannot
  // read matches nothing.
  EXPECT_EQ(curl({"-H", "If-Modified-Since: yesterday", url}).status, 200);
  EXPECT_EQ(curl({"-H", "If-Unmodified-Since: 1970-01-01", url}).status, 200);
  EXPECT_EQ(curl({"-H", "If-None-Match: no-quotes", url}).status, 200);
  EXPECT_EQ(curl({"-H", "If-Match: no-quotes", url}).status, 412);
}

TEST(StaticFiles, Ranges) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string url = h.url("/s/big.bin");
  const std::string& big = site.big();
  const std::string size = std::to_string(big.size());

  Reply r = curl({"-H", "Range: bytes=10-19", url});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-range"), "bytes 10-19/" + size);
  EXPECT_EQ(r.body, big.substr(10, 10));
  r = curl({"-H", "Range: bytes=-7", url});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(big.size() - 7));
  r = curl({"-H", "Range: bytes=99990-", url});
  EXPECT_EQ(r.body, big.substr(99990));

  // Several: multipart/byteranges, each part with its Content-Range.
  r = curl({"-H", "Range: bytes=0-4,100-104", url});
  EXPECT_EQ(r.status, 206);
  const std::string type = r.header("content-type");
  ASSERT_EQ(type.rfind("multipart/byteranges; boundary=", 0), 0u) << type;
  const std::string boundary = type.substr(type.find('=') + 1);
  EXPECT_NE(
      r.body.find("--" + boundary +
                  "\r\nContent-Type: "
                  "application/octet-stream\r\nContent-Range: bytes "
                  "0-4/" +
                  size + "\r\n\r\n" + big.substr(0, 5) + "\r\n--" + boundary),
      std::string::npos);
  EXPECT_NE(r.body.find("Content-Range: bytes 100-104/" + size + "\r\n\r\n" +
                        big.substr(100, 5) + "\r\n--" + boundary + "--\r\n"),
            std::string::npos);
  EXPECT_EQ(r.header("content-length"), std::to_string(r.body.size()));
  // A new boundary for every response.
  Reply again = curl({"-H", "Range: bytes=0-4,100-104", url});
  EXPECT_NE(again.header("content-type"), type);

  // Unsatisfiable: 416 with the size.
  for (const char* range :
       {"bytes=-0", "bytes=100000-", "bytes=99999999999999999999999999-"}) {
    r = curl({"-H", std::string("Range: ") + range, url});
    EXPECT_EQ(r.status, 416) << range;
    EXPECT_EQ(r.header("content-range"), "bytes */" + size) << range;
  }
  // Invalid or refused: the whole file, once.
  std::string thousand = "bytes=";
  for (int i = 0; i < 1000; ++i) {
    thousand += std::to_string(i * 10) + "-" + std::to_string(i * 10) + ",";
  }
  for (const std::string& range :
       {std::string("bytes=5-2"), std::string("bytes=0-50000,100-60000"),
        std::string("bytes=0-0,0-0,0-0"), std::string("items=0-1"), thousand}) {
    r = curl({"-H", "Range: " + range, url});
    EXPECT_EQ(r.status, 200) << range.substr(0, 40);
    EXPECT_TRUE(r.body == big) << range.substr(0, 40);
  }

  // If-Range: the range with the current validator, else the whole file.
  const std::string etag = curl({"-I", url}).header("etag");
  const std::string lm = curl({"-I", url}).header("last-modified");
  EXPECT_EQ(
      curl({"-H", "Range: bytes=0-0", "-H", "If-Range: " + etag, url}).status,
      206);
  EXPECT_EQ(
      curl({"-H", "Range: bytes=0-0", "-H", "If-Range: " + lm, url}).status,
      206);
  EXPECT_EQ(
      curl({"-H", "Range: bytes=0-0", "-H", "If-Range: \"old\"", url}).status,
      200);
  EXPECT_EQ(
      curl({"-H", "Range: bytes=0-0", "-H", "If-Range: W/" + etag, url}).status,
      200);
  // curl's own resume.
  r = curl({"-C", "99000", url});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, big.substr(99000));
  // HEAD ignores Range (RFC 9110 §14.2).
  EXPECT_EQ(curl({"-I", "-H", "Range: bytes=0-0", url}).status, 200);
}

TEST(StaticFiles, PrecompressedVariants) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string url = h.url("/s/app.js");

  // curl --compressed offers zstd, br and gzip: zstd is preferred.
  Reply z = curl({"--compressed", url});
  EXPECT_EQ(z.status, 200);
  EXPECT_EQ(z.header("content-encoding"), "zstd");
  EXPECT_EQ(z.header("vary"), "Accept-Encoding");
  EXPECT_EQ(z.header("content-type"), "text/javascript; charset=utf-8");
  EXPECT_TRUE(z.body == site.app());
  Reply zr = curl({"-H", "Accept-Encoding: zstd", url});
  EXPECT_EQ(zr.header("content-length"),
            std::to_string(fs::file_size(site.www() / "app.js.zst")));

  Reply g = curl({"--compressed", "-H", "Accept-Encoding: gzip", url});
  EXPECT_EQ(g.header("content-encoding"), "gzip");
  EXPECT_TRUE(g.body == site.app());

  Reply b = curl({"-H", "Accept-Encoding: br", url});
  EXPECT_EQ(b.header("content-encoding"), "br");
  EXPECT_EQ(b.body, "BROTLI-BYTES");

  Reply plain = curl({url});
  EXPECT_FALSE(plain.has("content-encoding"));
  EXPECT_EQ(plain.header("vary"), "Accept-Encoding");
  EXPECT_TRUE(plain.body == site.app());

  // Each representation has its own strong ETag, and revalidates as itself.
  const std::string ez = zr.header("etag");
  const std::string eg = g.header("etag");
  const std::string ep = plain.header("etag");
  EXPECT_NE(ez, eg);
  EXPECT_NE(ez, ep);
  EXPECT_NE(eg, ep);
  EXPECT_EQ(ez.front(), '"');
  Reply nm =
      curl({"-H", "Accept-Encoding: zstd", "-H", "If-None-Match: " + ez, url});
  EXPECT_EQ(nm.status, 304);
  EXPECT_EQ(nm.header("vary"), "Accept-Encoding");
  EXPECT_EQ(
      curl({"-H", "Accept-Encoding: gzip", "-H", "If-None-Match: " + ez, url})
          .status,
      200);
  // q=0 refuses a coding; identity preferred keeps the file.
  EXPECT_EQ(curl({"-H", "Accept-Encoding: zstd;q=0, gzip", url})
                .header("content-encoding"),
            "gzip");
  EXPECT_FALSE(curl({"-H", "Accept-Encoding: identity, gzip;q=0.5", url})
                   .has("content-encoding"));
  // A range is of the file itself, never of a variant.
  Reply range =
      curl({"-H", "Accept-Encoding: zstd", "-H", "Range: bytes=0-7", url});
  EXPECT_EQ(range.status, 206);
  EXPECT_FALSE(range.has("content-encoding"));
  EXPECT_EQ(range.body, site.app().substr(0, 8));
}

// Without a variant, the usual on-the-fly rules: a text file is compressed
// (weak ETag), a PNG is not, a small file is not.
TEST(StaticFiles, OnTheFlyCompressionWithoutAVariant) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  Reply t = curl(
      {"--compressed", "-H", "Accept-Encoding: gzip", h.url("/s/plain.txt")});
  EXPECT_EQ(t.status, 200);
  EXPECT_EQ(t.header("content-encoding"), "gzip");
  EXPECT_EQ(t.header("vary"), "Accept-Encoding");
  EXPECT_EQ(t.header("etag").rfind("W/\"", 0), 0u) << t.header("etag");
  EXPECT_TRUE(t.body == site.text());
  // Revalidating the compressed one: 304 with the same weak tag.
  Reply nm =
      curl({"-H", "Accept-Encoding: gzip", "-H",
            "If-None-Match: " + t.header("etag"), h.url("/s/plain.txt")});
  EXPECT_EQ(nm.status, 304);
  EXPECT_EQ(nm.header("etag"), t.header("etag"));
  EXPECT_EQ(nm.header("vary"), "Accept-Encoding");
  // Small, or not compressible.
  EXPECT_FALSE(curl({"-H", "Accept-Encoding: gzip", h.url("/s/style.css")})
                   .has("content-encoding"));
  EXPECT_FALSE(curl({"-H", "Accept-Encoding: gzip", h.url("/s/big.bin")})
                   .has("content-encoding"));
  // --no-compression: neither variants nor on the fly.
  HostProcess off = start(site, {"--no-compression"});
  ASSERT_TRUE(off.ok()) << off.stderr_text();
  EXPECT_FALSE(
      curl({"--compressed", off.url("/s/app.js")}).has("content-encoding"));
  EXPECT_FALSE(
      curl({"--compressed", off.url("/s/plain.txt")}).has("content-encoding"));
}

// Plugins and static mounts share one table: the longest prefix wins.
TEST(StaticFiles, LongestPrefixAmongPluginsAndStaticMounts) {
  StaticSite site;
  HostProcess h(
      {"--plugin", plugin_path("hello"), "--static", "/s=" + site.dir(),
       "--plugin", "/s/api=" + plugin_path("hello"), "--static",
       "/s/api/files=" + (site.www() / "docs").string(), "--workers", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  // hello answers "/" and "/hello" below its mount.
  EXPECT_EQ(curl({h.url("/")}).body, "Hello, World!");
  EXPECT_EQ(curl({h.url("/s/api/hello")}).body, "Hello, World!");
  EXPECT_EQ(curl({h.url("/s/api")}).body, "Hello, World!");
  EXPECT_EQ(curl({h.url("/s/style.css")}).body, "body { color: red }\n");
  EXPECT_EQ(curl({h.url("/s/api/files/")}).body, "<h1>docs</h1>\n");
  EXPECT_EQ(curl({h.url("/s/api/files")}).status, 301);
  // The static mount at /s does not take /s-other or /hello.
  EXPECT_EQ(curl({h.url("/hello")}).body, "Hello, World!");
}

TEST(StaticFiles, ConfigRejectsBadMounts) {
  CommandResult dup = run_command(
      {host_binary(), "check", "--static", "/s=/tmp", "--static", "/s/=/var"});
  EXPECT_NE(dup.status, 0);
  EXPECT_NE(dup.err.find("duplicate mount prefix /s"), std::string::npos)
      << dup.err;
  CommandResult bad =
      run_command({host_binary(), "check", "--static", "nodir"});
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.err.find("expected PREFIX=DIR"), std::string::npos) << bad.err;
  HostProcess missing(
      {"--static", "/s=/nonexistent-pounce-dir", "--no-supervise"});
  EXPECT_FALSE(missing.ok());
  EXPECT_NE(missing.stderr_text().find("/nonexistent-pounce-dir"),
            std::string::npos);
}

TEST(StaticFiles, Http2PriorKnowledge) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string url = h.url("/s/big.bin");
  Reply r = curl({"--http2-prior-knowledge", url});
  EXPECT_EQ(r.version, "HTTP/2");
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == site.big());
  r = curl({"--http2-prior-knowledge", "-H", "Range: bytes=5-9", url});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.body, site.big().substr(5, 5));
  r = curl({"--http2-prior-knowledge", "-H", "Range: bytes=0-1,10-11", url});
  EXPECT_EQ(r.status, 206);
  EXPECT_EQ(r.header("content-type").rfind("multipart/byteranges", 0), 0u);
  const std::string etag =
      curl({"--http2-prior-knowledge", "-I", url}).header("etag");
  EXPECT_EQ(
      curl({"--http2-prior-knowledge", "-H", "If-None-Match: " + etag, url})
          .status,
      304);
  Reply v =
      curl({"--http2-prior-knowledge", "--compressed", h.url("/s/app.js")});
  EXPECT_EQ(v.header("content-encoding"), "zstd");
  EXPECT_TRUE(v.body == site.app());
  EXPECT_EQ(curl({"--http2-prior-knowledge", h.url("/s/docs")}).status, 301);
  EXPECT_EQ(curl({"--http2-prior-knowledge", "-X", "POST", url}).status, 405);
  EXPECT_EQ(curl({"--http2-prior-knowledge", h.url("/s/.env")}).status, 404);
}

TEST(StaticFiles, OverTls) {
  TempCert cert;
  ASSERT_TRUE(cert.ok()) << cert.error();
  StaticSite site;
  std::vector<std::string> args = {"--static",  "/s=" + site.dir(),
                                   "--workers", "1",
                                   "--listen",  "https://127.0.0.1:0"};
  for (const std::string& a : cert.host_args()) args.push_back(a);
  HostProcess h(args);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const std::string url =
      "https://127.0.0.1:" + std::to_string(h.port()) + "/s/big.bin";
  for (const char* version : {"--http1.1", "--http2"}) {
    SCOPED_TRACE(version);
    Reply r = curl({"-k", version, url});
    EXPECT_EQ(r.status, 200) << r.err;
    EXPECT_TRUE(r.body == site.big());
    r = curl({"-k", version, "-H", "Range: bytes=1000-1999", url});
    EXPECT_EQ(r.status, 206);
    EXPECT_EQ(r.body, site.big().substr(1000, 1000));
    Reply v =
        curl({"-k", version, "--compressed",
              "https://127.0.0.1:" + std::to_string(h.port()) + "/s/app.js"});
    EXPECT_EQ(v.header("content-encoding"), "zstd");
    EXPECT_TRUE(v.body == site.app());
  }
}

// A reload builds a new generation: its static mounts are the same, and a
// changed file is served within the cache's second.
TEST(StaticFiles, ReloadKeepsStaticMountsAndChangesAreSeen) {
  StaticSite site;
  HostProcess h = start(site);
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  EXPECT_EQ(curl({h.url("/s/style.css")}).status, 200);
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation")) << h.stderr_text();
  EXPECT_EQ(curl({h.url("/s/style.css")}).body, "body { color: red }\n");
  // Replace the file (a new inode, as deploys do): after the revalidation
  // interval the new content is served. Polled: the interval is the
  // cache's, not a sleep of the test's.
  write_file(site.www() / "style.css.new", "body { color: blue }\n");
  fs::rename(site.www() / "style.css.new", site.www() / "style.css");
  std::string body;
  for (int i = 0; i < 100 && body != "body { color: blue }\n"; ++i) {
    body = curl({h.url("/s/style.css")}).body;
    if (body != "body { color: blue }\n") usleep(50000);
  }
  EXPECT_EQ(body, "body { color: blue }\n");
}

// Static mounts come from the --config file like plugins, and a reload
// re-reads them.
TEST(StaticFiles, ConfigFileMountsReloadOnSighup) {
  StaticSite site;
  const fs::path config =
      fs::temp_directory_path() /
      ("pounce-static-config-" + std::to_string(getpid()) + ".json");
  write_file(config, "{\"static\": [\"/s=" + site.dir() +
                         "\"], \"static_cache_control\": \"no-cache\"}");
  HostProcess h({"--config", config.string(), "--workers", "1"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  Reply r = curl({h.url("/s/style.css")});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("cache-control"), "no-cache");
  EXPECT_EQ(curl({h.url("/t/style.css")}).status, 404);
  write_file(config, "{\"static\": [\"/t=" + site.dir() +
                         "\"], \"static_cache_control\": \"no-cache\"}");
  h.signal(SIGHUP);
  ASSERT_TRUE(h.wait_for_stderr("reloaded generation")) << h.stderr_text();
  EXPECT_EQ(curl({h.url("/t/style.css")}).status, 200);
  EXPECT_EQ(curl({h.url("/s/style.css")}).status, 404);
  EXPECT_EQ(h.stderr_text().find("restart to apply"), std::string::npos)
      << h.stderr_text();
  fs::remove(config);
}

// Server-Timing and the per-mount request metrics, as for a plugin.
TEST(StaticFiles, ServerTimingAndAccessLog) {
  StaticSite site;
  HostProcess h = start(site, {"--server-timing"});
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  for (const char* path : {"/s/big.bin", "/s/plain.txt", "/s/missing"}) {
    Reply r = curl({"-H", "Accept-Encoding: gzip", h.url(path)});
    EXPECT_EQ(r.header("server-timing").rfind("parse;dur=", 0), 0u)
        << path << "\n"
        << r.raw_head;
  }
  EXPECT_TRUE(h.wait_for_stdout("\"GET /s/big.bin HTTP/1.1\" 200 100000"))
      << h.stdout_text();
  EXPECT_TRUE(h.wait_for_stdout("\"GET /s/missing HTTP/1.1\" 404"))
      << h.stdout_text();
}
