#include "http_test_support.h"

#include <algorithm>

#include "http/char_class.h"

namespace pounce::http::testing {
namespace {

std::string escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7F) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const View& v) {
  return os << '"' << escaped(v.text) << "\"@" << v.offset;
}

std::unique_ptr<char[]> exact_copy(std::string_view s) {
  // new char[0] is valid and unique; every read through it is a bug.
  auto buf = std::make_unique<char[]>(s.size());
  if (!s.empty()) std::memcpy(buf.get(), s.data(), s.size());
  return buf;
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const HeadOutcome& o) {
  os << "{status=" << static_cast<int>(o.status)
     << " error=" << error_name(o.error);
  if (o.status == ParseStatus::Complete) {
    os << " method=" << o.method << " target=" << o.target << " path=" << o.path
       << " query=" << o.query << " host=" << o.host
       << " minor=" << o.version_minor
       << " body_kind=" << static_cast<int>(o.body_kind)
       << " cl=" << o.content_length << " keep_alive=" << o.keep_alive
       << " ws=" << o.upgrade_websocket << " expect=" << o.expect_continue
       << " head_size=" << o.head_size << " headers=[";
    for (const auto& [name, value] : o.headers) {
      os << name << ": " << value << "; ";
    }
    os << "]";
  }
  return os << "}";
}

std::ostream& operator<<(std::ostream& os, const BodyOutcome& o) {
  os << "{status=" << static_cast<int>(o.status)
     << " error=" << error_name(o.error) << " consumed=" << o.consumed
     << " body=\"" << escaped(o.body) << "\" trailers=[";
  for (const auto& [name, value] : o.trailers) {
    os << escaped(name) << ": " << escaped(value) << "; ";
  }
  return os << "]}";
}

const std::vector<EntryPoint>& entry_points() {
  static const std::vector<EntryPoint> points = [] {
    std::vector<EntryPoint> v = {
        {"Scalar", parse_request_head_scalar},
        {"Simd", parse_request_head_simd},
    };
#if POUNCE_X86_SIMD
    if (__builtin_cpu_supports("sse4.2")) {
      v.push_back({"Sse42", detail::parse_request_head_sse42});
    }
    if (__builtin_cpu_supports("avx2")) {
      v.push_back({"Avx2", detail::parse_request_head_avx2});
    }
#endif
    return v;
  }();
  return points;
}

HeadOutcome parse_head(HeadParseFn fn, std::string_view input,
                       const HeadLimits& limits) {
  const auto buf = exact_copy(input);
  const char* base = buf.get();
  const size_t n = input.size();
  std::vector<pounce_header_t> storage(limits.max_headers + 1);
  RequestHead head;
  const ParseResult r = fn(base, n, limits, storage.data(), &head);
  HeadOutcome o;
  o.status = r.status;
  o.error = r.error;
  if (r.status != ParseStatus::Complete) return o;
  const auto v = [&](std::string_view s) {
    return view_of(s.data(), s.size(), base, n);
  };
  o.method = v(head.method);
  o.target = v(head.target);
  o.path = v(head.path);
  o.query = v(head.query);
  o.host = v(head.host);
  o.version_minor = head.version_minor;
  o.body_kind = head.body_kind;
  o.content_length = head.content_length;
  o.keep_alive = head.keep_alive;
  o.upgrade_websocket = head.upgrade_websocket;
  o.expect_continue = head.expect_continue;
  o.head_size = head.head_size;
  for (size_t i = 0; i < head.header_count; ++i) {
    const pounce_header_t& h = head.headers[i];
    o.headers.emplace_back(view_of(h.name.data, h.name.len, base, n),
                           view_of(h.value.data, h.value.len, base, n));
  }
  return o;
}

BodyOutcome decode_pieces(const BodyFraming& framing, std::string_view bytes,
                          const std::vector<size_t>& cuts, bool in_place) {
  std::vector<pounce_header_t> trailer_storage(framing.limits.max_trailers + 1);
  BodyDecoder dec;
  if (framing.kind == BodyKind::Chunked) {
    dec.start_chunked(framing.limits, trailer_storage.data());
  } else {
    dec.start_content_length(
        framing.kind == BodyKind::ContentLength ? framing.content_length : 0);
  }
  BodyOutcome o;
  std::string pending;  // offered but not consumed yet
  size_t start = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(bytes.size());
  for (size_t end : ends) {
    end = std::max(end, start);
    pending.append(bytes.substr(start, end - start));
    start = end;
    const auto in = exact_copy(pending);
    std::unique_ptr<char[]> separate;
    char* out = in.get();
    if (!in_place) {
      separate = std::make_unique<char[]>(pending.size());
      out = separate.get();
    }
    const DecodeResult r = dec.decode(in.get(), pending.size(), out);
    o.body.append(out, r.produced);
    o.consumed += r.consumed;
    o.status = r.status;
    o.error = r.error;
    if (r.status == DecodeStatus::Done) {
      for (size_t i = 0; i < dec.trailer_count(); ++i) {
        const pounce_header_t& t = dec.trailers()[i];
        o.trailers.emplace_back(std::string(t.name.data, t.name.len),
                                std::string(t.value.data, t.value.len));
      }
    }
    if (r.status != DecodeStatus::NeedMore) break;
    pending.erase(0, r.consumed);
  }
  return o;
}

const std::string_view kBrowserRequest703 =
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

namespace {

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s += static_cast<char>(i);
  return s;
}

std::string many_headers(int n) {
  std::string s;
  for (int i = 0; i < n; ++i) {
    s += "X-Field-" + std::to_string(i) + ": value " + std::to_string(i) +
         "\r\n";
  }
  return s;
}

std::vector<CorpusEntry> make_corpus() {
  const std::string binary = all_bytes();
  const std::string big(1000, 'z');
  const std::string next = "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  std::vector<CorpusEntry> c = {
      {"MinimalGet", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
      {"BrowserRequest703", std::string(kBrowserRequest703), ""},
      {"Http10WithoutHost", "GET /index.html HTTP/1.0\r\n\r\n", ""},
      {"LeadingEmptyLines", "\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", ""},
      {"QueryAndManyHeaders",
       "GET /search?q=pounce&lang=en HTTP/1.1\r\nHost: example.com:8080\r\n" +
           many_headers(40) + "\r\n",
       ""},
      {"AbsoluteForm",
       "GET http://example.com/a/b?c=d HTTP/1.1\r\nHost: example.com\r\n\r\n",
       ""},
      {"AsteriskForm", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", ""},
      {"PostContentLength",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
       "Content-Type: text/plain\r\n\r\nhello",
       "hello"},
      {"PostContentLengthZero",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", ""},
      {"PutBinaryBody",
       "PUT /blob HTTP/1.1\r\nHost: a\r\nContent-Length: 256\r\n\r\n" + binary,
       binary},
      {"ChunkedSimple",
       "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5\r\nhello\r\n0\r\n\r\n",
       "hello"},
      {"ChunkedWithExtensions",
       "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "5;a=b;c\r\nhello\r\n"
       "6 ; name = \"q\\\"x; y\" ;flag\r\n world\r\n"
       "0;last=\"\"\r\n\r\n",
       "hello world"},
      {"ChunkedWithTrailers",
       "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
       "Trailer: X-Checksum\r\n\r\n"
       "3\r\nabc\r\n0\r\nX-Checksum:  sha256=abc \r\nX-Other:1\r\n\r\n",
       "abc",
       {{"X-Checksum", "sha256=abc"}, {"X-Other", "1"}}},
      {"ChunkedHexSizes",
       "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "000A\r\n0123456789\r\n1f\r\nabcdefghijklmnopqrstuvwxyz01234\r\n"
       "0000\r\n\r\n",
       "0123456789abcdefghijklmnopqrstuvwxyz01234"},
      {"ChunkedLargeChunk",
       "PATCH /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "3e8\r\n" +
           big + "\r\n0\r\n\r\n",
       big},
      {"ChunkedCaseInsensitiveCoding",
       "POST /up HTTP/1.1\r\nHost: a\r\ntransfer-encoding:  CHUNKED \r\n\r\n"
       "1\r\nx\r\n0\r\n\r\n",
       "x"},
      {"WebSocketUpgrade",
       "GET /chat HTTP/1.1\r\nHost: server.example.com\r\n"
       "Upgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n",
       ""},
      {"ExpectContinue",
       "PUT /file HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
       "Content-Length: 3\r\n\r\nabc",
       "abc"},
      {"TabsAndObsTextInValues",
       "GET / HTTP/1.1\r\nHost: a\r\nX-Tab:\tleft\tand right\t\r\n"
       "X-Utf8: caf\xc3\xa9 \xe2\x98\x83\r\n\r\n",
       ""},
      {"ConnectionClose",
       "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", ""},
      {"Http10KeepAlive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
       ""},
      {"Http12ServedAs11", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", ""},
      {"LongCookie",
       "GET /img.png HTTP/1.1\r\nHost: a\r\nCookie: " + std::string(333, 'c') +
           "; b=" + std::string(65, 'd') + "\r\nAccept: */*\r\n\r\n",
       ""},
      {"PipelinedAfterContentLength",
       "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody" + next,
       "body",
       {},
       next.size()},
      {"PipelinedAfterChunked",
       "POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "2\r\nok\r\n0\r\nX-T: 1\r\n\r\n" +
           next,
       "ok",
       {{"X-T", "1"}},
       next.size()},
      {"EmptyHeaderValue",
       "DELETE /item/7 HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Blank:   \r\n\r\n",
       ""},
  };
  return c;
}

}  // namespace

const std::vector<CorpusEntry>& valid_corpus() {
  static const std::vector<CorpusEntry> corpus = make_corpus();
  return corpus;
}

}  // namespace pounce::http::testing
