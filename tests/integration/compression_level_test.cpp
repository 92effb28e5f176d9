// --gzip-level and --zstd-level, and the gzip encoders behind them (issue 15
// §4): libdeflate for whole bodies (sync and blocking responses), ISA-L
// igzip for streams. Whatever encodes it, a gzip body must be one that
// curl, Python's gzip module (zlib) and a per-chunk inflater decode.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "host_process.h"
#include "json_records.h"
#include "raw_client.h"
#include "stream_decoder.h"

using namespace pounce::test;
namespace fs = std::filesystem;

namespace {

const std::string& json() {
  static const std::string b =
      pounce::testdata::json_records(pounce::testdata::kJsonBodySize);
  return b;
}

std::string request(const std::string& path, const std::string& coding) {
  return "GET " + path + " HTTP/1.1\r\nHost: x\r\nAccept-Encoding: " + coding +
         "\r\n\r\n";
}

HostProcess start(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {
      "--plugin",           test_plugin_path("json_body"),
      "--workers",          "1",
      "--blocking-threads", "1",
      "--async-threads",    "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  return HostProcess(args);
}

// The compressed size of the sync response in `coding`.
size_t encoded_size(HostProcess& h, const std::string& coding) {
  RawClient c(h.port());
  c.send(request("/", coding));
  auto r = c.read_response();
  if (!r) return 0;
  EXPECT_EQ(r->header("Content-Encoding"), coding);
  bool ok = false;
  const std::string decoded =
      decode_all(coding == "gzip" ? StreamDecoder::Coding::Gzip
                                  : StreamDecoder::Coding::Zstd,
                 r->body, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(decoded == json()) << coding;
  return r->body.size();
}

// Each path is one way a response is made; each must decode with the
// clients people use: curl --compressed and Python's gzip (zlib).
TEST(GzipEncoders, CurlAndPythonDecodeSyncBlockingAndStreamedBodies) {
  HostProcess h = start();
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  const fs::path dir =
      fs::temp_directory_path() / ("pounce-gzip-" + std::to_string(h.port()));
  fs::create_directories(dir);
  std::ofstream(dir / "plain.json", std::ios::binary) << json();
  for (const std::string path : {"/", "/blocking", "/stream"}) {
    SCOPED_TRACE(path);
    auto viacurl =
        run_command({"curl", "-sS", "--max-time", "20", "--compressed", "-H",
                     "Accept-Encoding: gzip", "-D", "-", h.url(path)});
    ASSERT_EQ(viacurl.status, 0) << viacurl.err;
    const size_t end = viacurl.out.find("\r\n\r\n");
    ASSERT_NE(end, std::string::npos);
    EXPECT_NE(viacurl.out.substr(0, end).find("Content-Encoding: gzip"),
              std::string::npos)
        << viacurl.out.substr(0, end);
    EXPECT_TRUE(viacurl.out.substr(end + 4) == json());

    const fs::path raw = dir / "body.gz";
    auto fetch =
        run_command({"curl", "-sS", "--max-time", "20", "-H",
                     "Accept-Encoding: gzip", "-o", raw.string(), h.url(path)});
    ASSERT_EQ(fetch.status, 0) << fetch.err;
    auto py = run_command(
        {"/usr/bin/python3", "-c",
         "import gzip,sys; a=gzip.decompress(open(sys.argv[1],'rb').read()); "
         "b=open(sys.argv[2],'rb').read(); print('same' if a==b else "
         "'differ %d %d' % (len(a), len(b)))",
         raw.string(), (dir / "plain.json").string()});
    EXPECT_EQ(py.out, "same\n") << py.err;
  }
  fs::remove_all(dir);
}

// Every write of a streamed response is one chunk that decodes on arrival
// to exactly what was written (igzip's sync flush), and the stream ends
// with a valid gzip trailer.
TEST(GzipEncoders, EachStreamedChunkDecodesOnArrival) {
  HostProcess h = start();
  ASSERT_TRUE(h.ok()) << h.stderr_text();
  RawClient c(h.port());
  c.send(request("/stream", "gzip"));
  auto head = c.read_head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("Content-Encoding"), "gzip");
  StreamDecoder d(StreamDecoder::Coding::Gzip);
  std::string so_far;
  bool ended = false;
  while (auto chunk = c.read_chunk(&ended)) {
    const std::string text = d.feed(*chunk);
    ASSERT_TRUE(d.ok());
    if (text.empty()) continue;  // the gzip trailer
    so_far += text;
    // The plugin writes 4 KiB at a time: whole writes, nothing pending.
    EXPECT_TRUE(so_far.size() % 4096 == 0 || so_far.size() == json().size())
        << so_far.size();
  }
  EXPECT_TRUE(ended);
  EXPECT_TRUE(d.finished());
  EXPECT_TRUE(so_far == json());
}

// The default gzip level is 1 (nginx's): the same bytes as --gzip-level 1,
// and level 9 is smaller. Likewise zstd: default 3, level 19 smaller.
TEST(CompressionLevels, FlagsSetTheLevelOfSyncResponses) {
  HostProcess dflt = start();
  HostProcess one = start({"--gzip-level", "1", "--zstd-level", "3"});
  HostProcess nine = start({"--gzip-level", "9", "--zstd-level", "19"});
  ASSERT_TRUE(dflt.ok()) << dflt.stderr_text();
  ASSERT_TRUE(one.ok()) << one.stderr_text();
  ASSERT_TRUE(nine.ok()) << nine.stderr_text();
  const size_t gzip_default = encoded_size(dflt, "gzip");
  EXPECT_EQ(gzip_default, encoded_size(one, "gzip"));
  EXPECT_LT(encoded_size(nine, "gzip"), gzip_default);
  const size_t zstd_default = encoded_size(dflt, "zstd");
  EXPECT_EQ(zstd_default, encoded_size(one, "zstd"));
  EXPECT_LT(encoded_size(nine, "zstd"), zstd_default);
}

// A level out of range stops the start with a message naming the flag.
TEST(CompressionLevels, OutOfRangeLevelIsAStartupError) {
  for (const auto& [flag, value] :
       std::vector<std::pair<std::string, std::string>>{
           {"--gzip-level", "0"},
           {"--gzip-level", "10"},
           {"--zstd-level", "0"},
           {"--zstd-level", "20"}}) {
    auto r = run_command({host_binary(), "--plugin",
                          test_plugin_path("json_body"), flag, value});
    EXPECT_NE(r.status, 0) << flag << ' ' << value;
    EXPECT_NE(r.err.find(flag + " (config key"), std::string::npos) << r.err;
  }
}

}  // namespace
