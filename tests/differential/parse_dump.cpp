// pounce-parse-dump: runs Pounce's request parser over a corpus and prints
// what it saw, one JSON object per request, for the differential test against
// python3-h11 (h11_diff.py).
//
// Input (stdin, or the file named by the only argument): one request per
// line, hex-encoded (an empty line is the empty request). Output: one JSON
// line per input line, flushed at once, so that a driver can keep the
// process open and ask questions one at a time.
//
// Byte strings that are text on the wire (method, target, names, values) are
// printed as JSON strings of code points U+0000..U+00FF, one per byte
// (latin-1), so that every byte survives and the output stays readable; the
// body and the bytes after the message are printed as hex.
//
// Each request goes through the path a connection takes
// (ARCHITECTURE.md §4):
//   1. parse_request_head with the default limits (16384 bytes, 100 fields);
//   2. a declared Content-Length over max_body_size is BODY_TOO_LARGE before
//      any body byte is read (the connection checks it, not the decoder);
//   3. the BodyDecoder over every byte after the head, in one call.
// The outcome is "accepted", "rejected" (with the error code and its status)
// or "incomplete" (no error, but the input ended first), with "stage" telling
// whether the head or the body decided it.
//
// Besides the differential facts it checks contracts that need no oracle and
// reports violations in "consistency" (the driver fails on any):
//   - the scalar and the SIMD head parsers agree;
//   - every proper prefix of a complete head is Incomplete;
//   - the body decoder gives the same result when fed one byte at a time,
//     keeping the unconsumed tail as body_decoder.h asks;
//   - NeedMore really means no more progress is possible with these bytes.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "http/body_decoder.h"
#include "http/error_code.h"
#include "http/head_parser.h"

namespace {

using nlohmann::json;
using namespace pounce::http;

constexpr HeadLimits kHeadLimits{};  // 16384 bytes, 100 fields
constexpr BodyLimits kBodyLimits{};  // 1 MiB body, 16384/100 trailers
// Complete heads up to this size get the every-prefix-is-Incomplete check;
// it costs O(n^2), and short heads exercise the same code.
constexpr size_t kPrefixCheckMax = 4096;

std::string latin1(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xF]);
  }
  return out;
}

bool from_hex(std::string_view hex, std::string* out) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (hex.size() % 2 != 0) return false;
  out->clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi << 4 | lo));
  }
  return true;
}

std::string_view view(pounce_str_t s) {
  return {s.data, s.len};
}

json fields_json(const pounce_header_t* fields, size_t count) {
  json out = json::array();
  for (size_t i = 0; i < count; ++i) {
    out.push_back(
        {latin1(view(fields[i].name)), latin1(view(fields[i].value))});
  }
  return out;
}

void set_error(json& r, std::string_view stage, ErrorCode code) {
  r["outcome"] = "rejected";
  r["stage"] = stage;
  r["error"] = std::string(error_name(code));
  r["status"] = error_status(code);
}

const char* body_kind_name(BodyKind kind) {
  switch (kind) {
    case BodyKind::None:
      return "none";
    case BodyKind::ContentLength:
      return "content-length";
    case BodyKind::Chunked:
      return "chunked";
  }
  return "?";
}

// The facts both head parsers must agree on, for the scalar/SIMD check.
json head_summary(const ParseResult& res, const RequestHead& h) {
  json s = {{"status", static_cast<int>(res.status)},
            {"error", std::string(error_name(res.error))}};
  if (res.status != ParseStatus::Complete) return s;
  s["method"] = latin1(h.method);
  s["target"] = latin1(h.target);
  s["path"] = latin1(h.path);
  s["query"] = latin1(h.query);
  s["minor"] = h.version_minor;
  s["headers"] = fields_json(h.headers, h.header_count);
  s["body_kind"] = body_kind_name(h.body_kind);
  s["content_length"] = h.content_length;
  s["keep_alive"] = h.keep_alive;
  s["upgrade_websocket"] = h.upgrade_websocket;
  s["expect_continue"] = h.expect_continue;
  s["host"] = latin1(h.host);
  s["head_size"] = h.head_size;
  return s;
}

// The observable result of decoding one body.
struct BodyOutcome {
  DecodeStatus status = DecodeStatus::NeedMore;
  ErrorCode error = ErrorCode::None;
  std::string body;
  json trailers = json::array();
  size_t consumed = 0;  // bytes of the input the message used

  // What must not depend on how the input was split. After an error the
  // bytes produced so far are not part of the contract.
  bool same_as(const BodyOutcome& o) const {
    if (status != o.status || error != o.error) return false;
    if (status == DecodeStatus::Error) return true;
    if (body != o.body) return false;
    return status != DecodeStatus::Done ||
           (trailers == o.trailers && consumed == o.consumed);
  }
};

const char* status_name(const BodyOutcome& o) {
  switch (o.status) {
    case DecodeStatus::NeedMore:
      return "NeedMore";
    case DecodeStatus::Done:
      return "Done";
    case DecodeStatus::Error:
      break;
  }
  return error_name(o.error).data();  // the names are string literals
}

void start(BodyDecoder& d, const RequestHead& head,
           std::vector<pounce_header_t>& trailer_storage) {
  if (head.body_kind == BodyKind::Chunked) {
    d.start_chunked(kBodyLimits, trailer_storage.data());
  } else {
    d.start_content_length(head.content_length);
  }
}

// The whole rest of the input in one decode() call. In place, `out` is the
// input buffer itself, as the connection uses it (body_decoder.h allows it).
BodyOutcome decode_at_once(const RequestHead& head, std::string_view in,
                           bool in_place, json& consistency) {
  std::vector<pounce_header_t> storage(kBodyLimits.max_trailers);
  BodyDecoder d;
  start(d, head, storage);
  std::string buffer(in);  // the input, or in place the input and the output
  std::string separate_out(in_place ? 0 : in.size(), '\0');
  char* out = in_place ? buffer.data() : separate_out.data();
  DecodeResult r = d.decode(buffer.data(), buffer.size(), out);
  BodyOutcome o;
  o.status = r.status;
  o.error = r.error;
  o.body.assign(out, std::min(r.produced, in.size()));
  o.consumed = r.consumed;
  if (r.status == DecodeStatus::Done) {
    o.trailers = fields_json(d.trailers(), d.trailer_count());
  }
  if (r.consumed > in.size() || r.produced > in.size()) {
    consistency.push_back("decode() reported more bytes than it was given");
    o.consumed = std::min(r.consumed, in.size());
    o.body.resize(std::min(o.body.size(), in.size()));
    return o;
  }
  // NeedMore means "everything that could be used was consumed": offering
  // the kept tail again must not make progress.
  if (!in_place && r.status == DecodeStatus::NeedMore &&
      r.consumed < in.size()) {
    std::string_view tail = in.substr(r.consumed);
    std::string out2(tail.size(), '\0');
    DecodeResult again = d.decode(tail.data(), tail.size(), out2.data());
    if (again.status != DecodeStatus::NeedMore || again.consumed != 0 ||
        again.produced != 0) {
      consistency.push_back(
          "decode() returned NeedMore, but a second call with the unconsumed "
          "tail made progress");
    }
  }
  return o;
}

// The same input, one byte per decode() call, keeping the unconsumed tail.
BodyOutcome decode_bytewise(const RequestHead& head, std::string_view in) {
  std::vector<pounce_header_t> storage(kBodyLimits.max_trailers);
  BodyDecoder d;
  start(d, head, storage);
  BodyOutcome o;
  std::string pending;
  size_t fed = 0;
  // The first call offers no bytes at all: an empty body (Content-Length: 0)
  // must be Done without any.
  for (bool first = true; first || fed < in.size(); first = false) {
    if (!first) pending.push_back(in[fed++]);
    std::string out(pending.size(), '\0');
    DecodeResult r = d.decode(pending.data(), pending.size(), out.data());
    o.body.append(out.data(), r.produced);
    o.status = r.status;
    o.error = r.error;
    if (r.status == DecodeStatus::Error) break;
    if (r.status == DecodeStatus::Done) {
      // Trailer views point into `pending`, still intact here.
      o.trailers = fields_json(d.trailers(), d.trailer_count());
      o.consumed =
          fed - (pending.size() - std::min(r.consumed, pending.size()));
      break;
    }
    pending.erase(0, std::min(r.consumed, pending.size()));
  }
  return o;
}

json parse_one(std::string_view input) {
  json r;
  json consistency = json::array();
  std::vector<pounce_header_t> storage(kHeadLimits.max_headers);
  RequestHead head;
  ParseResult res = parse_request_head(input.data(), input.size(), kHeadLimits,
                                       storage.data(), &head);

  {
    std::vector<pounce_header_t> s1(kHeadLimits.max_headers);
    std::vector<pounce_header_t> s2(kHeadLimits.max_headers);
    RequestHead h1, h2;
    ParseResult r1 = parse_request_head_scalar(input.data(), input.size(),
                                               kHeadLimits, s1.data(), &h1);
    ParseResult r2 = parse_request_head_simd(input.data(), input.size(),
                                             kHeadLimits, s2.data(), &h2);
    json j0 = head_summary(res, head);
    json j1 = head_summary(r1, h1);
    json j2 = head_summary(r2, h2);
    if (j1 != j2 || j0 != j1) {
      consistency.push_back("scalar and SIMD head parsers disagree: scalar=" +
                            j1.dump() + " simd=" + j2.dump());
    }
  }

  if (res.status == ParseStatus::Incomplete) {
    r["outcome"] = "incomplete";
    r["stage"] = "head";
  } else if (res.status == ParseStatus::Error) {
    set_error(r, "head", res.error);
  } else {
    if (head.head_size <= kPrefixCheckMax) {
      for (size_t n = 0; n < head.head_size; ++n) {
        std::vector<pounce_header_t> s(kHeadLimits.max_headers);
        RequestHead h;
        ParseResult p =
            parse_request_head(input.data(), n, kHeadLimits, s.data(), &h);
        if (p.status != ParseStatus::Incomplete) {
          consistency.push_back(
              "the first " + std::to_string(n) + " bytes of a complete head " +
              "gave " +
              (p.status == ParseStatus::Error
                   ? "Error " + std::string(error_name(p.error))
                   : std::string("Complete")) +
              ", not Incomplete");
          break;
        }
      }
    }

    r["method"] = latin1(head.method);
    r["target"] = latin1(head.target);
    r["path"] = latin1(head.path);
    r["query"] = latin1(head.query);
    r["version"] = "1." + std::to_string(head.version_minor);
    r["headers"] = fields_json(head.headers, head.header_count);
    r["keep_alive"] = head.keep_alive;
    r["host"] = latin1(head.host);
    r["body_kind"] = body_kind_name(head.body_kind);
    r["content_length"] = head.content_length;
    r["upgrade_websocket"] = head.upgrade_websocket;
    r["expect_continue"] = head.expect_continue;
    r["head_size"] = head.head_size;

    std::string_view rest =
        input.substr(std::min(head.head_size, input.size()));
    if (head.body_kind == BodyKind::None) {
      r["outcome"] = "accepted";
      r["body_hex"] = "";
      r["trailers"] = json::array();
      r["leftover_hex"] = to_hex(rest);
    } else if (head.body_kind == BodyKind::ContentLength &&
               head.content_length > kBodyLimits.max_body_size) {
      set_error(r, "body", ErrorCode::BodyTooLarge);
    } else {
      BodyOutcome once = decode_at_once(head, rest, false, consistency);
      BodyOutcome in_place = decode_at_once(head, rest, true, consistency);
      BodyOutcome split = decode_bytewise(head, rest);
      if (!once.same_as(in_place)) {
        consistency.push_back(
            std::string("body decoder differs when decoding in place: ") +
            "separate buffer " + status_name(once) +
            " body=" + to_hex(once.body) + ", in place " +
            status_name(in_place) + " body=" + to_hex(in_place.body));
      }
      if (!once.same_as(split)) {
        consistency.push_back(
            std::string("body decoder differs when fed one byte at a time: ") +
            "at once " + status_name(once) + " body=" + to_hex(once.body) +
            ", bytewise " + status_name(split) + " body=" + to_hex(split.body));
      }
      r["body_hex"] = to_hex(once.body);
      if (once.status == DecodeStatus::Error) {
        set_error(r, "body", once.error);
      } else if (once.status == DecodeStatus::NeedMore) {
        r["outcome"] = "incomplete";
        r["stage"] = "body";
      } else {
        r["outcome"] = "accepted";
        r["trailers"] = once.trailers;
        r["leftover_hex"] = to_hex(rest.substr(once.consumed));
      }
    }
  }
  r["consistency"] = consistency;
  return r;
}

int run(std::istream& in) {
  std::string line, bytes;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    json r;
    if (!from_hex(line, &bytes)) {
      r = {{"outcome", "bad-input"},
           {"message", "line " + std::to_string(line_no) + " is not hex"}};
    } else {
      r = parse_one(bytes);
    }
    std::cout << r.dump() << '\n' << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && std::string_view(argv[1]) == "--help")) {
    std::fprintf(stderr,
                 "usage: %s [FILE]\n"
                 "Reads hex-encoded requests, one per line, from FILE or "
                 "stdin; prints one JSON line per request.\n",
                 argv[0]);
    return 2;
  }
  if (argc == 2) {
    std::ifstream file(argv[1], std::ios::binary);
    if (!file) {
      std::fprintf(stderr, "%s: cannot open %s\n", argv[0], argv[1]);
      return 2;
    }
    return run(file);
  }
  return run(std::cin);
}
