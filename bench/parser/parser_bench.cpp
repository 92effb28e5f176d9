// Head parser and body decoder throughput, with http-parser (2.9, Debian's
// libhttp-parser-dev) as the reference in the same binary.
//
//   build/bench/parser_bench --benchmark_repetitions=5
//   (add --benchmark_report_aggregates_only=true for the summary only)
//
// Fairness: http-parser is given the same bytes (the head only for the head
// benchmarks; head and body for the chunked request) and callbacks that
// record the method, URL, and each header name and value as views, which is
// the work our parser does. Every input is checked once at start-up.
#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/body_decoder.h"
#include "http/head_parser.h"

namespace {

using namespace pounce::http;

// shared/data/browser-request-703.http, byte for byte.
constexpr char kBrowser703[] =
    "GET /wp-content/uploads/2010/03/hello-kitty-darth-vader-pink.jpg "
    "HTTP/1.1\r\n"
    "Host: www.kittyhell.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10.6; ja-JP-mac; "
    "rv:1.9.2.3) Gecko/20100401 Firefox/3.6.3 Pathtraq/0.9\r\n"
    "Accept: "
    "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
    "Accept-Language: ja,en-us;q=0.7,en;q=0.3\r\n"
    "Accept-Encoding: gzip,deflate\r\n"
    "Accept-Charset: Shift_JIS,utf-8;q=0.7,*;q=0.7\r\n"
    "Keep-Alive: 115\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: wp_ozh_wsa_visits=2; wp_ozh_wsa_visit_lasttime=xxxxxxxxxx; "
    "__utma=xxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.xxxxxxxxxx.x; "
    "__utmz=xxxxxxxxx.xxxxxxxxxx.x.x.utmccn=(referral)|utmcsr=reader."
    "livedoor.com|utmcct=/reader/|utmcmd=referral\r\n"
    "\r\n";
static_assert(sizeof(kBrowser703) - 1 == 703, "the 703-byte request");

constexpr char kMinimalGet[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";

constexpr char kPostHead[] =
    "POST /echo HTTP/1.1\r\n"
    "Host: 127.0.0.1:8000\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 27\r\n"
    "\r\n";
constexpr char kPostBody[] = "{\"message\":\"Hello, World!\"}";

constexpr char kChunkedHead[] =
    "POST /upload HTTP/1.1\r\n"
    "Host: 127.0.0.1:8000\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Transfer-Encoding: chunked\r\n"
    "\r\n";

// Eight chunks of 128 bytes (one with an extension), then a trailer.
std::string make_chunked_body() {
  std::string s;
  for (int i = 0; i < 8; ++i) {
    s += i == 3 ? "80;name=value\r\n" : "80\r\n";
    s += std::string(128, static_cast<char>('a' + i));
    s += "\r\n";
  }
  s += "0\r\nX-Checksum: 1234\r\n\r\n";
  return s;
}

const std::string kChunkedBody = make_chunked_body();
const std::string kChunkedMessage = kChunkedHead + kChunkedBody;

// --- http-parser with view-recording callbacks ----------------------------

struct HpViews {
  const char* url = nullptr;
  size_t url_len = 0;
  pounce_header_t headers[100];
  size_t count = 0;
  bool in_value = false;
  size_t body_bytes = 0;
  bool complete = false;
  bool headers_done = false;
};

int hp_url(http_parser* p, const char* at, size_t n) {
  auto* v = static_cast<HpViews*>(p->data);
  v->url = at;
  v->url_len = n;
  return 0;
}
int hp_field(http_parser* p, const char* at, size_t n) {
  auto* v = static_cast<HpViews*>(p->data);
  if (v->count == 100) return 1;
  v->headers[v->count].name = {at, n};
  v->in_value = false;
  return 0;
}
int hp_value(http_parser* p, const char* at, size_t n) {
  auto* v = static_cast<HpViews*>(p->data);
  v->headers[v->count++].value = {at, n};
  return 0;
}
int hp_headers_complete(http_parser* p) {
  static_cast<HpViews*>(p->data)->headers_done = true;
  return 0;
}
int hp_body(http_parser* p, const char*, size_t n) {
  static_cast<HpViews*>(p->data)->body_bytes += n;
  return 0;
}
int hp_message_complete(http_parser* p) {
  static_cast<HpViews*>(p->data)->complete = true;
  return 0;
}

const http_parser_settings& hp_settings() {
  static const http_parser_settings s = [] {
    http_parser_settings st;
    http_parser_settings_init(&st);
    st.on_url = hp_url;
    st.on_header_field = hp_field;
    st.on_header_value = hp_value;
    st.on_headers_complete = hp_headers_complete;
    st.on_body = hp_body;
    st.on_message_complete = hp_message_complete;
    return st;
  }();
  return s;
}

// Returns the bytes parsed, 0 on error.
size_t hp_parse(std::string_view in, HpViews* views) {
  http_parser parser;
  http_parser_init(&parser, HTTP_REQUEST);
  parser.data = views;
  views->count = 0;
  views->headers_done = false;
  views->complete = false;
  views->body_bytes = 0;
  const size_t n =
      http_parser_execute(&parser, &hp_settings(), in.data(), in.size());
  if (HTTP_PARSER_ERRNO(&parser) != HPE_OK) return 0;
  return n;
}

// --- the benchmarks -------------------------------------------------------

using HeadFn = ParseResult (*)(const char*, size_t, const HeadLimits&,
                               pounce_header_t*, RequestHead*);

void head_bench(benchmark::State& state, HeadFn fn, std::string_view in) {
  const HeadLimits limits;
  pounce_header_t storage[100];
  RequestHead head;
  for (auto _ : state) {
    const ParseResult r = fn(in.data(), in.size(), limits, storage, &head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}

void http_parser_bench(benchmark::State& state, std::string_view in) {
  HpViews views;
  for (auto _ : state) {
    const size_t n = hp_parse(in, &views);
    benchmark::DoNotOptimize(n);
    benchmark::DoNotOptimize(views);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}

// The chunked body alone, decoded into a separate buffer.
void body_decoder_bench(benchmark::State& state) {
  std::vector<char> out(kChunkedBody.size());
  pounce_header_t trailers[100];
  BodyDecoder dec;
  for (auto _ : state) {
    dec.start_chunked(BodyLimits{}, trailers);
    const DecodeResult r =
        dec.decode(kChunkedBody.data(), kChunkedBody.size(), out.data());
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * kChunkedBody.size()));
}

// Head and chunked body, the way a connection handles a request.
void chunked_message_bench(benchmark::State& state, HeadFn fn) {
  std::vector<char> out(kChunkedMessage.size());
  pounce_header_t storage[100];
  pounce_header_t trailers[100];
  const HeadLimits limits;
  RequestHead head;
  BodyDecoder dec;
  const std::string_view in = kChunkedMessage;
  for (auto _ : state) {
    const ParseResult r = fn(in.data(), in.size(), limits, storage, &head);
    benchmark::DoNotOptimize(r);
    dec.start_chunked(BodyLimits{}, trailers);
    const DecodeResult d = dec.decode(in.data() + head.head_size,
                                      in.size() - head.head_size, out.data());
    benchmark::DoNotOptimize(d);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}

struct Input {
  const char* name;
  std::string_view bytes;
};

const Input kHeads[] = {
    {"Browser703", kBrowser703},
    {"MinimalGet", kMinimalGet},
    {"PostContentLength", kPostHead},
    {"ChunkedPost", kChunkedHead},
};

// Refuses to measure anything that does not parse.
void check_inputs() {
  const auto die = [](const char* what) {
    std::fprintf(stderr, "parser_bench: %s\n", what);
    std::exit(1);
  };
  pounce_header_t storage[100];
  RequestHead head;
  HpViews views;
  for (const Input& in : kHeads) {
    for (HeadFn fn : {parse_request_head_simd, parse_request_head_scalar}) {
      const ParseResult r =
          fn(in.bytes.data(), in.bytes.size(), HeadLimits{}, storage, &head);
      if (r.status != ParseStatus::Complete ||
          head.head_size != in.bytes.size()) {
        die(in.name);
      }
    }
    if (hp_parse(in.bytes, &views) != in.bytes.size() || !views.headers_done) {
      die("http-parser rejects an input");
    }
  }
  const std::string post = std::string(kPostHead) + kPostBody;
  if (hp_parse(post, &views) != post.size() || !views.complete) {
    die("http-parser: POST");
  }
  if (hp_parse(kChunkedMessage, &views) != kChunkedMessage.size() ||
      !views.complete || views.body_bytes != 1024) {
    die("http-parser: chunked");
  }
  pounce_header_t trailers[100];
  std::vector<char> out(kChunkedBody.size());
  BodyDecoder dec;
  dec.start_chunked(BodyLimits{}, trailers);
  const DecodeResult d =
      dec.decode(kChunkedBody.data(), kChunkedBody.size(), out.data());
  if (d.status != DecodeStatus::Done || d.produced != 1024 ||
      d.consumed != kChunkedBody.size() || dec.trailer_count() != 1) {
    die("BodyDecoder: chunked");
  }
}

void register_all() {
  for (const Input& in : kHeads) {
    const std::string base = std::string("Head/") + in.name;
    benchmark::RegisterBenchmark((base + "/simd").c_str(), head_bench,
                                 parse_request_head_simd, in.bytes);
    benchmark::RegisterBenchmark((base + "/scalar").c_str(), head_bench,
                                 parse_request_head_scalar, in.bytes);
    benchmark::RegisterBenchmark((base + "/http_parser").c_str(),
                                 http_parser_bench, in.bytes);
  }
  benchmark::RegisterBenchmark("ChunkedBody/BodyDecoder", body_decoder_bench);
  benchmark::RegisterBenchmark("ChunkedMessage/simd+BodyDecoder",
                               chunked_message_bench, parse_request_head_simd);
  benchmark::RegisterBenchmark("ChunkedMessage/scalar+BodyDecoder",
                               chunked_message_bench,
                               parse_request_head_scalar);
  benchmark::RegisterBenchmark("ChunkedMessage/http_parser", http_parser_bench,
                               std::string_view(kChunkedMessage));
}

// `--count-only=INPUT/PARSER:N` parses one head N times and exits, for
// bench/scripts/callgrind-parser.sh: instructions per parse are the
// difference between two such runs divided by the difference in N, which no
// neighbour on a shared machine can disturb.
int count_only(const std::string& spec) {
  const size_t slash = spec.find('/');
  const size_t colon = spec.rfind(':');
  if (slash == std::string::npos || colon == std::string::npos ||
      colon < slash) {
    std::fprintf(stderr, "parser_bench: --count-only=INPUT/PARSER:N\n");
    return 2;
  }
  const std::string input = spec.substr(0, slash);
  const std::string parser = spec.substr(slash + 1, colon - slash - 1);
  const long n = std::atol(spec.c_str() + colon + 1);
  for (const Input& in : kHeads) {
    if (input != in.name) continue;
    const HeadLimits limits;
    pounce_header_t storage[100];
    RequestHead head;
    HpViews views;
    for (long i = 0; i < n; ++i) {
      if (parser == "http_parser") {
        const size_t r = hp_parse(in.bytes, &views);
        benchmark::DoNotOptimize(r);
      } else {
        const HeadFn fn = parser == "scalar" ? parse_request_head_scalar
                                             : parse_request_head_simd;
        const ParseResult r =
            fn(in.bytes.data(), in.bytes.size(), limits, storage, &head);
        benchmark::DoNotOptimize(r);
      }
      benchmark::ClobberMemory();
    }
    return 0;
  }
  std::fprintf(stderr, "parser_bench: no input %s\n", input.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  check_inputs();
  if (argc == 2 && std::string_view(argv[1]).starts_with("--count-only=")) {
    return count_only(argv[1] + 13);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("scanner", std::string(active_scanner_name()));
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
