#include "static/handler.h"

#include <sys/random.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "exchange/exchange.h"
#include "exchange/loop.h"
#include "http/head_parser.h"
#include "log/logger.h"
#include "pipeline/accept_encoding.h"
#include "pipeline/access_log.h"
#include "pipeline/content_type_rules.h"
#include "pipeline/response.h"
#include "pipeline/server_timing.h"
#include "plugin/dispatch.h"
#include "plugin/request_response.h"
#include "static/conditional.h"
#include "static/file_cache.h"
#include "static/path_map.h"
#include "static/range.h"
#include "static/static_root.h"

namespace pounce::static_files {
namespace {

using http::RequestHead;
using pipeline::AcceptEncoding;
using pipeline::Coding;

constexpr int kIdentity = -1;

// Per loop thread, reused by every request: nothing here outlives the call
// that fills it (respond_parts copies the byte parts before it returns).
struct Scratch {
  MappedPath mapped;
  std::string index_rel;
  std::string location;
  std::string multipart;
  uint64_t boundary_state = 0;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

pounce_str_t str(std::string_view s) {
  return {s.data(), s.size()};
}

// The host's own fields, from values checked where they were made.
void header(pounce_response& res, std::string_view name,
            std::string_view value) {
  add_host_header(&res, name, value);
}

pounce_response& begin(exchange::Exchange& ex, const Route& r, int status) {
  pounce_response& res = ex.loop()->response();
  res.reset("static", r.mount->metrics_index);
  res.status = status;
  return res;
}

// A short answer of the host's own (404, 405, 412, ...), through the
// whole-response pipeline, which logs and counts it.
void answer(exchange::Exchange& ex, const RequestHead& head,
            pounce_response& res, std::string_view text) {
  if (!text.empty()) {
    header(res, "Content-Type", "text/plain; charset=utf-8");
    res.body.append(text);
  }
  // A field add_response_header refused (a Location built from a target
  // the parser let through but a field value may not hold) is a 500, as
  // for a plugin, never a response without it.
  if (res.error != http::ErrorCode::None) {
    ex.respond_error(res.error, &head);
    return;
  }
  pipeline::send_response(ex, head, res);
}

void answer_status(exchange::Exchange& ex, const RequestHead& head,
                   const Route& r, int status) {
  pounce_response& res = begin(ex, r, status);
  answer(ex, head, res, status == 403 ? "Forbidden\n" : "Not Found\n");
}

// A boundary no file is likely to hold, new for every response
// (RFC 2046 §5.1.1): 64 random bits from a per-thread generator seeded
// once from the kernel.
void make_boundary(Scratch& s, char* out /* 24 bytes */) {
  if (s.boundary_state == 0) {
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != sizeof seed) {
      seed = uv_hrtime() ^ reinterpret_cast<uintptr_t>(&s);
    }
    s.boundary_state = seed | 1;
  }
  // xorshift64*.
  uint64_t x = s.boundary_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  s.boundary_state = x;
  uint64_t v = x * 0x2545F4914F6CDD1Dull;
  memcpy(out, "pounce-", 7);
  for (int i = 0; i < 16; ++i) {
    out[7 + i] = "0123456789abcdef"[v & 15];
    v >>= 4;
  }
  out[23] = '\0';
}

// `length` bytes of `rep` from `first`: from the memory of a small file,
// else from its descriptor.
void set_file_part(const Representation& rep, uint64_t first, uint64_t length,
                   exchange::BodyPart* part) {
  if (!rep.small.empty()) {
    part->bytes = rep.small.data() + first;
    part->bytes_len = static_cast<size_t>(length);
    return;
  }
  part->file = rep.file.get();
  part->offset = first;
  part->length = length;
}

// Which precompressed variant of `e` the client's Accept-Encoding takes
// (kIdentity: none): the highest weight wins, ties in kVariant order, and
// an identity the client weighs higher than all of them keeps the file.
int choose_variant(const CacheEntry& e, const AcceptEncoding& ae) {
  if (!ae.present() || !e.has_variant()) return kIdentity;
  const int16_t weights[] = {ae.weight_zstd(), ae.weight_br(),
                             ae.weight_gzip()};
  int best = kIdentity;
  int16_t best_q = 0;
  for (int i = 0; i < static_cast<int>(Variant::Count); ++i) {
    if (!e.variants[i]) continue;
    const int16_t q = ae.accepts(weights[i]);
    if (q > best_q) {
      best = i;
      best_q = q;
    }
  }
  if (best != kIdentity && ae.weight_identity() != AcceptEncoding::kUnlisted &&
      ae.weight_identity() > best_q) {
    return kIdentity;
  }
  return best;
}

// Last-Modified, ETag and Cache-Control: the fields a 200, a 206 and a
// 304 share.
void validators(pounce_response& res, const Config& cfg,
                const Representation& rep, std::string_view etag) {
  header(res, "Last-Modified", rep.last_modified_view());
  header(res, "ETag", etag);
  if (!cfg.static_cache_control.empty()) {
    header(res, "Cache-Control", cfg.static_cache_control);
  }
}

void serve_file(exchange::Exchange& ex, const RequestHead& head, const Route& r,
                const CacheEntry& e, bool is_head) {
  const Config& cfg = ex.loop()->config();
  Scratch& s = scratch();
  RequestFields f;
  f.gather(head.headers, head.header_count);
  AcceptEncoding ae;
  for (size_t i = 0; i < head.header_count; ++i) {
    const pounce_header_t& h = head.headers[i];
    if (h.name.len == 15 &&
        http::iequals({h.name.data, h.name.len}, "accept-encoding")) {
      ae.add({h.value.data, h.value.len});
    }
  }
  // A range is always of the file itself: its bytes are what a client that
  // resumes a download counts (and a multipart body of compressed pieces
  // would say nothing about their coding). Range applies to GET only
  // (RFC 9110 §14.2).
  const bool ranged = !is_head && f.range_lines == 1;
  const int variant = ranged ? kIdentity : choose_variant(e, ae);
  const Representation& rep =
      variant == kIdentity ? e.identity : e.variants[variant];
  const uint64_t size = rep.size();
  // Without a variant, the normal rules of on-the-fly compression
  // (ARCHITECTURE.md §5), for files small enough to read whole.
  const bool compressible = cfg.compression && variant == kIdentity &&
                            !ranged && size >= cfg.compression_min_size &&
                            size <= kMaxCompressOnTheFly && e.compressible_type;
  // Whether Accept-Encoding chooses among representations of this file (so
  // every answer for it, a 206 or 304 included, says so).
  const uint64_t file_size = e.identity.size();
  const bool vary =
      cfg.compression &&
      (e.has_variant() ||
       (file_size >= cfg.compression_min_size &&
        file_size <= kMaxCompressOnTheFly && e.compressible_type));
  const Coding fly = compressible ? ae.choose() : Coding::Identity;

  switch (evaluate_preconditions(f, rep.etag_view(), rep.mtime_s)) {
    case Precondition::PreconditionFailed: {
      pounce_response& res = begin(ex, r, 412);
      answer(ex, head, res, "Precondition Failed\n");
      return;
    }
    case Precondition::NotModified: {
      // The fields the 200 would have carried (RFC 9110 §15.4.5), the
      // ETag weak as the compressed 200's is.
      pounce_response& res = begin(ex, r, 304);
      char weak[kMaxEtagLen + 2];
      std::string_view etag = rep.etag_view();
      if (fly != Coding::Identity) {
        weak[0] = 'W';
        weak[1] = '/';
        memcpy(weak + 2, etag.data(), etag.size());
        etag = std::string_view(weak, etag.size() + 2);
      }
      validators(res, cfg, rep, etag);
      if (vary) header(res, "Vary", "Accept-Encoding");
      pipeline::send_response(ex, head, res);
      return;
    }
    case Precondition::Proceed:
      break;
  }

  RangeSet ranges;
  if (ranged && if_range_allows(f, rep.etag_view(), rep.mtime_s)) {
    ranges = parse_range(f.range, size);
  }
  if (ranges.outcome == RangeOutcome::Unsatisfiable) {
    pounce_response& res = begin(ex, r, 416);
    char cr[48];
    const int n = snprintf(cr, sizeof cr, "bytes */%llu",
                           static_cast<unsigned long long>(size));
    header(res, "Content-Range", std::string_view(cr, n));
    answer(ex, head, res, "Range Not Satisfiable\n");
    return;
  }

  if (fly != Coding::Identity) {
    // Read whole and handed to the pipeline, which compresses it, makes
    // the ETag weak and adds Vary, as for a plugin's body.
    pounce_response& res = begin(ex, r, 200);
    header(res, "Content-Type", e.content_type);
    validators(res, cfg, rep, rep.etag_view());
    header(res, "Accept-Ranges", "bytes");
    char* p = res.body.prepare(size);
    uint64_t got = 0;
    while (p && got < size) {
      const ssize_t n =
          pread(rep.file->fd(), p + got, size - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<uint64_t>(n);
    }
    if (p && got == size) {
      res.body.commit(size);
      pipeline::send_response(ex, head, res);
      return;
    }
    // No memory, or the file shrank since it was opened: sent as it is
    // instead, where the protocol's sender notices the short file and
    // closes the connection (exchange.h respond_parts).
  }

  const bool partial = ranges.outcome == RangeOutcome::Single ||
                       ranges.outcome == RangeOutcome::Multiple;
  pounce_response& res = begin(ex, r, partial ? 206 : 200);
  exchange::BodyPart parts[2 * kMaxRanges + 1];
  size_t count = 0;
  uint64_t length = 0;
  char boundary[24];
  if (ranges.outcome == RangeOutcome::Multiple) {
    make_boundary(s, boundary);
    std::string& m = s.multipart;
    m.clear();
    char type[64];
    const int tn = snprintf(type, sizeof type,
                            "multipart/byteranges; boundary=%s", boundary);
    header(res, "Content-Type", std::string_view(type, tn));
    // The part headers, all written before any part points into them.
    size_t offsets[kMaxRanges + 1];
    for (size_t i = 0; i < ranges.count; ++i) {
      offsets[i] = m.size();
      char cr[96];
      const ByteRange& br = ranges.ranges[i];
      const int n =
          snprintf(cr, sizeof cr, "Content-Range: bytes %llu-%llu/%llu\r\n\r\n",
                   static_cast<unsigned long long>(br.first),
                   static_cast<unsigned long long>(br.first + br.length - 1),
                   static_cast<unsigned long long>(size));
      if (i > 0) m += "\r\n";
      m += "--";
      m += boundary;
      m += "\r\nContent-Type: ";
      m += e.content_type;
      m += "\r\n";
      m.append(cr, static_cast<size_t>(n));
    }
    offsets[ranges.count] = m.size();
    m += "\r\n--";
    m += boundary;
    m += "--\r\n";
    for (size_t i = 0; i < ranges.count; ++i) {
      exchange::BodyPart& text = parts[count++];
      text.bytes = m.data() + offsets[i];
      text.bytes_len = offsets[i + 1] - offsets[i];
      exchange::BodyPart& file = parts[count++];
      set_file_part(rep, ranges.ranges[i].first, ranges.ranges[i].length,
                    &file);
      length += text.bytes_len + ranges.ranges[i].length;
    }
    exchange::BodyPart& end = parts[count++];
    end.bytes = m.data() + offsets[ranges.count];
    end.bytes_len = m.size() - offsets[ranges.count];
    length += end.bytes_len;
  } else {
    header(res, "Content-Type", e.content_type);
    uint64_t first = 0;
    length = size;
    if (ranges.outcome == RangeOutcome::Single) {
      first = ranges.ranges[0].first;
      length = ranges.ranges[0].length;
      char cr[80];
      const int n =
          snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu",
                   static_cast<unsigned long long>(first),
                   static_cast<unsigned long long>(first + length - 1),
                   static_cast<unsigned long long>(size));
      header(res, "Content-Range", std::string_view(cr, n));
    }
    if (length > 0) {
      set_file_part(rep, first, length, &parts[count++]);
    }
  }
  validators(res, cfg, rep, rep.etag_view());
  header(res, "Accept-Ranges", "bytes");

  // As for a plugin: "app" is the time to decide the response (finding
  // the file, the conditionals), "encode" the time to hand it over.
  const uint64_t app_done_ns = cfg.server_timing ? uv_hrtime() : 0;
  exchange::ResponseStart h;
  h.status = res.status;
  h.headers = res.headers.view();
  h.content_length = static_cast<int64_t>(length);
  if (variant != kIdentity) h.content_encoding = kVariantCoding[variant];
  h.vary_accept_encoding = vary;
  char timing[96];
  if (cfg.server_timing && ex.request_start_ns()) {
    const uint64_t now = uv_hrtime();
    const uint64_t parse_end = ex.request_start_ns() + ex.parse_ns();
    h.server_timing = pipeline::format_server_timing(
        timing, sizeof timing, ex.parse_ns(),
        app_done_ns > parse_end ? app_done_ns - parse_end : 0,
        static_cast<int64_t>(now - app_done_ns));
  }
  if (!ex.respond_parts(h, is_head ? nullptr : parts, is_head ? 0 : count)) {
    ex.respond_error(http::ErrorCode::OutOfMemory, &head);
    return;
  }
  pipeline::record_response(ex, &head, r.mount->metrics_index, h.status,
                            is_head ? 0 : length);
}

}  // namespace

void serve(exchange::Exchange& ex, const RequestHead& head, const Route& r) {
  const Config& cfg = ex.loop()->config();
  const StaticRoot& root = *r.mount->static_root;
  const bool is_head = head.method == "HEAD";
  if (!is_head && head.method != "GET") {
    pounce_response& res = begin(ex, r, 405);
    header(res, "Allow", "GET, HEAD");
    answer(ex, head, res, "Method Not Allowed\n");
    return;
  }
  Scratch& s = scratch();
  if (!map_path(r.path_info, &s.mapped)) {
    answer_status(ex, head, r, 404);
    return;
  }
  FileCache& cache = FileCache::for_this_thread(cfg.static_cache_entries);
  const uint64_t now = monotonic_ms();
  const CacheEntry* e = cache.lookup(root, s.mapped.rel, cfg.compression, now);
  if (e->kind == EntryKind::Directory) {
    if (!s.mapped.trailing_slash) {
      // Relative links in the index resolve against the directory only
      // with the slash (RFC 3986 §5.2.3).
      pounce_response& res = begin(ex, r, 301);
      s.location.assign(r.path);
      s.location += '/';
      if (!head.query.empty()) {
        s.location += '?';
        s.location += head.query;
      }
      // Built from the request's path: checked as a plugin's field is.
      add_response_header(&res, str("Location"), str(s.location));
      answer(ex, head, res, {});
      return;
    }
    s.index_rel.assign(s.mapped.rel);
    if (!s.index_rel.empty()) s.index_rel += '/';
    s.index_rel += "index.html";
    e = cache.lookup(root, s.index_rel, cfg.compression, now);
  } else if (e->kind == EntryKind::File && s.mapped.trailing_slash) {
    answer_status(ex, head, r, 404);  // "file.txt/" names no directory
    return;
  }
  if (e->kind == EntryKind::Forbidden) {
    answer_status(ex, head, r, 403);
    return;
  }
  if (e->kind != EntryKind::File) {
    answer_status(ex, head, r, 404);
    return;
  }
  serve_file(ex, head, r, *e, is_head);
}

}  // namespace pounce::static_files
