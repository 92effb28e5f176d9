/*
 * pounce.h: the Pounce Host plugin ABI, version 1.1 (docs/abi.md).
 *
 * This header is the whole contract between pounce-host and a plugin. It is
 * pure C99 so that a plugin can be written in any language with a C FFI.
 *
 * Compatibility rules
 * -------------------
 * - The plugin exports a constant record, `pounce_plugin_abi`, that the host
 *   reads with dlsym() before it calls anything. A different major version is
 *   refused. The record's minor is the oldest host minor the plugin needs
 *   (POUNCE_PLUGIN_MIN_HOST_MINOR, by default this header's minor): a host
 *   of an older minor refuses the plugin, naming both versions.
 * - Every struct that can grow starts with a `size` field holding the
 *   sizeof() its ALLOCATOR was compiled with. New fields are only ever
 *   appended. Both directions:
 *   - Structs the host allocates (pounce_request_view_t, pounce_init_args_t,
 *     pounce_ws_upgrade_t, pounce_host_api_t) carry the host's size. The
 *     plugin reads, and writes (the upgrade's out fields), only fields that
 *     lie within it: test with POUNCE_HAS_FIELD / POUNCE_HOST_HAS. A field
 *     beyond `size` is absent; treat it as NULL / 0 and never write it.
 *   - Structs the plugin allocates (pounce_plugin_t, the pounce_addr_t and
 *     pounce_tls_info_t out-parameters) carry the plugin's size. The host
 *     reads and writes only fields within it; a field the plugin's size
 *     does not cover is absent (a hook beyond it is never called).
 * - Enumerations are int32_t with defined constants: their width is fixed.
 *   A later minor may add values. A plugin treats a value it does not know
 *   (a close reason, a drain reason, an opcode) as an error or the most
 *   conservative case, never as undefined. The host refuses, at load, a
 *   descriptor with a mode it does not know (docs/abi.md).
 *
 * Strings
 * -------
 * All strings are `pounce_str_t` views: a pointer and a length, never assumed
 * to be NUL-terminated.
 *
 * Ownership
 * ---------
 * - Bytes passed *to* a host call are copied before the call returns; the
 *   plugin may free or reuse them immediately.
 * - Views passed *from* the host into a hook are valid until that hook
 *   returns, unless the hook's comment says otherwise. Copy what you keep.
 *
 * Threads
 * -------
 * - Sync handlers run inline on worker threads, concurrently on all workers.
 *   A sync handler must be thread-safe with respect to its instance.
 * - Async and WebSocket hooks for one connection all run on the one loop
 *   thread that owns that connection ("the owning loop").
 * - Streams and WebSockets are named by 64-bit, generation-checked handles.
 *   A handle that is used after its connection closed returns
 *   POUNCE_ERR_CLOSED, it never touches freed memory. A handle carries its
 *   kind: a WebSocket or timer handle passed to a stream_* call (or the
 *   reverse), from any thread, returns POUNCE_ERR_INVALID.
 * - Re-entry: the host never calls a hook from inside a host call. Whatever
 *   a host call causes (on_close, on_writable, on_ws_close, on_ws_writable,
 *   a timer) runs on a later turn of the owning loop, after the hook that
 *   made the call has returned.
 * - Functions marked "any thread" may be called from any thread, including
 *   threads the plugin started itself. When they are not called on the owning
 *   loop, the host copies the arguments and queues the work to that loop.
 */
#ifndef POUNCE_POUNCE_H
#define POUNCE_POUNCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Versioning                                                               */
/* ------------------------------------------------------------------------ */

#define POUNCE_ABI_MAGIC 0x504f554eu /* "POUN" */
#define POUNCE_ABI_MAJOR 1
#define POUNCE_ABI_MINOR 1

/* The oldest host minor this plugin needs; it goes into the plugin's ABI
 * record. Define it before including this header to load on older hosts,
 * e.g. `#define POUNCE_PLUGIN_MIN_HOST_MINOR 0` for a plugin that uses only
 * 1.0 features (test optional ones with POUNCE_HOST_HAS / POUNCE_HAS_FIELD,
 * and set the descriptor's size to POUNCE_PLUGIN_SIZE). */
#ifndef POUNCE_PLUGIN_MIN_HOST_MINOR
#define POUNCE_PLUGIN_MIN_HOST_MINOR POUNCE_ABI_MINOR
#endif
#if POUNCE_PLUGIN_MIN_HOST_MINOR > POUNCE_ABI_MINOR
#error "POUNCE_PLUGIN_MIN_HOST_MINOR is newer than this SDK"
#endif

#if defined(__GNUC__)
#define POUNCE_EXPORT __attribute__((visibility("default")))
#else
#define POUNCE_EXPORT
#endif

/* The record a plugin exports as `pounce_plugin_abi`. Never grows: a new
 * layout would be a new magic. */
typedef struct pounce_plugin_abi {
  uint32_t magic; /* POUNCE_ABI_MAGIC */
  uint16_t major; /* POUNCE_ABI_MAJOR the plugin was built against */
  uint16_t minor; /* the oldest host minor it needs (1.0: the SDK's minor) */
} pounce_plugin_abi_t;

#ifdef __cplusplus
#define POUNCE_C_LINKAGE extern "C"
#else
#define POUNCE_C_LINKAGE
#endif

/* Put this once in a plugin's source file (C or C++). */
#define POUNCE_DECLARE_PLUGIN_ABI()                                            \
  POUNCE_C_LINKAGE POUNCE_EXPORT const pounce_plugin_abi_t pounce_plugin_abi = \
      {POUNCE_ABI_MAGIC, POUNCE_ABI_MAJOR, POUNCE_PLUGIN_MIN_HOST_MINOR}

/* ------------------------------------------------------------------------ */
/* Basic types                                                              */
/* ------------------------------------------------------------------------ */

typedef struct pounce_str {
  const char* data;
  size_t len;
} pounce_str_t;

#define POUNCE_STR(literal) \
  { (literal), sizeof(literal) - 1 }

typedef struct pounce_header {
  pounce_str_t name;
  pounce_str_t value;
} pounce_header_t;

/* Result codes of host calls. Negative values are errors; treat a negative
 * value you do not know as an error, a positive one as POUNCE_OK. */
typedef int32_t pounce_result_t;
enum {
  POUNCE_OK = 0,
  /* A stream write was accepted but more than --stream-high-water bytes are
   * now queued. Stop writing until on_writable. */
  POUNCE_HIGH_WATER = 1,
  POUNCE_ERR_CLOSED = -1,  /* the handle's connection is gone */
  POUNCE_ERR_INVALID = -2, /* a bad argument: unknown handle, bad header... */
  POUNCE_ERR_STATE = -3,   /* not allowed now: write before start, ... */
  POUNCE_ERR_NOMEM = -4,
  POUNCE_ERR_TOO_LARGE = -5, /* over a configured size limit */
  POUNCE_ERR_UNSUPPORTED = -6
};

/* Opaque host objects. Pointers to them are valid during the hook call that
 * received them only. */
typedef struct pounce_request pounce_request_t;
typedef struct pounce_response pounce_response_t;

/* Generation-checked handles. 0 is never a valid handle. */
typedef uint64_t pounce_stream_t; /* an async HTTP response stream */
typedef uint64_t pounce_ws_t;     /* an open WebSocket */
typedef uint64_t pounce_timer_t;  /* a timer on a connection's loop */

/* A host of an older minor refuses a mode it does not know at load. */
typedef int32_t pounce_mode_t;
enum {
  POUNCE_MODE_SYNC = 0,    /* handler runs inline on a worker thread */
  POUNCE_MODE_ASYNC = 1,   /* the connection moves to the async pool */
  POUNCE_MODE_BLOCKING = 2 /* 1.1: sync API, run on a blocking pool */
};

/* Another level is logged as POUNCE_LOG_ERROR. */
typedef int32_t pounce_log_level_t;
enum {
  POUNCE_LOG_DEBUG = 0,
  POUNCE_LOG_INFO = 1,
  POUNCE_LOG_WARN = 2,
  POUNCE_LOG_ERROR = 3
};

/* Treat an unknown reason like POUNCE_DRAIN_SHUTDOWN. */
typedef int32_t pounce_drain_reason_t;
enum {
  POUNCE_DRAIN_RELOAD = 1,  /* a newer generation serves new requests */
  POUNCE_DRAIN_SHUTDOWN = 2 /* the process is shutting down */
};

/* ws_send refuses another value with POUNCE_ERR_INVALID. */
typedef int32_t pounce_ws_opcode_t;
enum { POUNCE_WS_TEXT = 1, POUNCE_WS_BINARY = 2 };

/* Why an async stream's on_close fired. Treat an unknown reason like
 * POUNCE_CLOSE_ERROR (the response did not complete). */
typedef int32_t pounce_close_reason_t;
enum {
  POUNCE_CLOSE_DONE = 0,     /* the response ended normally */
  POUNCE_CLOSE_PEER = 1,     /* the client went away */
  POUNCE_CLOSE_TIMEOUT = 2,  /* a host timeout ended it */
  POUNCE_CLOSE_OVERFLOW = 3, /* it wrote past --stream-max-buffer */
  POUNCE_CLOSE_SHUTDOWN = 4, /* drain deadline reached */
  POUNCE_CLOSE_ERROR = 5,    /* a socket or protocol error */
  /* 1.1, HTTP/2: the peer reset this one stream (RST_STREAM); the
   * connection lives on. */
  POUNCE_CLOSE_RESET = 6
};

/* Address families of pounce_addr_t.family. These are Pounce's own
 * constants: they happen to equal Linux's AF_* numbers (which 1.0 plugins
 * compared against), and the host translates on systems where AF_* differ.
 * Treat another value as unknown. */
enum {
  POUNCE_AF_UNSPEC = 0,
  POUNCE_AF_UNIX = 1, /* a --listen unix:PATH client: text "unix:", port 0 */
  POUNCE_AF_INET = 2,
  POUNCE_AF_INET6 = 10
};

/* A socket address as text, for logging and access control. The plugin
 * allocates it: `size` is the plugin's sizeof(pounce_addr_t), and the host
 * writes only within it (POUNCE_ERR_INVALID when it is smaller than the 1.0
 * struct, writing nothing). */
typedef struct pounce_addr {
  uint32_t size;  /* sizeof(pounce_addr_t), set by the caller */
  int32_t family; /* POUNCE_AF_INET, POUNCE_AF_INET6, POUNCE_AF_UNIX, or 0
                     when unknown */
  uint16_t port;
  char text[48]; /* NUL-terminated numeric host, e.g. "127.0.0.1" */
} pounce_addr_t;

/* 1.1: the TLS session of a request's connection, as request_tls reports
 * it. The plugin allocates it and sets `size` to its sizeof; the host writes
 * only the fields that lie wholly within `size` (a plugin built against an
 * older, smaller struct gets just its own fields) and never reads anything
 * but `size`.
 *
 * Strings are views whose bytes are also NUL-terminated (len excludes the
 * NUL); an absent one is {NULL, 0}. They stay valid until the hook that
 * received the request returns (a blocking handler: until it returns, on its
 * pool thread); copy what you keep. */
typedef struct pounce_tls_info {
  uint32_t size;        /* sizeof(pounce_tls_info_t), set by the caller */
  int32_t resumed;      /* 1 when the handshake resumed a session (a
                           ticket or a session id), else 0 */
  pounce_str_t version; /* "TLSv1.3", "TLSv1.2" */
  pounce_str_t cipher;  /* "TLS_AES_128_GCM_SHA256",
                           "ECDHE-ECDSA-AES128-GCM-SHA256" (OpenSSL names) */
  pounce_str_t sni;     /* the server name the client asked for; {NULL, 0}
                           when it sent none */
  pounce_str_t alpn;    /* "http/1.1", "h2"; {NULL, 0} when none was agreed */
  /* Client certificates (--tls-client-ca). The fields below are {NULL, 0}
   * and 0 when the client sent no certificate. `verify_result` is 0 when
   * the client's chain verified against --tls-client-ca, else OpenSSL's
   * X509_V_ERR_* code: with --tls-client-auth optional, a client whose
   * chain failed is still served, and this is where the plugin sees it. */
  int32_t client_cert; /* 1 when the client presented a certificate */
  int32_t verify_result;
  pounce_str_t client_subject; /* RFC 2253, e.g. "CN=alice,O=Example" */
  pounce_str_t client_issuer;  /* RFC 2253 */
  pounce_str_t client_serial;  /* hex, upper case, e.g. "1A2B" */
  pounce_str_t client_sha256;  /* SHA-256 of the DER certificate: 64 hex
                                  digits, lower case, no colons */
  pounce_str_t verify_text;    /* "ok", or OpenSSL's text for the
                                  verify_result code */
} pounce_tls_info_t;

/* ------------------------------------------------------------------------ */
/* The request                                                              */
/* ------------------------------------------------------------------------ */

/*
 * A parsed request, as the plugin sees it. All views point into host memory
 * that stays valid until the hook that received the request returns.
 * (on_request/on_upgrade: copy what you need for later.) The host allocates
 * it: read a 1.1 field only when POUNCE_HAS_FIELD(req, pounce_request_view_t,
 * field) says the host's struct has it.
 */
typedef struct pounce_request_view {
  uint32_t size;         /* sizeof(pounce_request_view_t) of the host */
  uint8_t version_major; /* the HTTP version: 1 today; 2 (and 3) later */
  uint8_t version_minor; /* HTTP/1: 0 or 1 (1.x with x > 1 is served as 1.1);
                            0 for HTTP/2 */
  uint16_t reserved;
  pounce_str_t method;       /* e.g. "GET", case-sensitive */
  pounce_str_t target;       /* the raw request-target */
  pounce_str_t path;         /* normalized path, used for routing */
  pounce_str_t mount_prefix; /* the prefix the plugin is mounted at */
  pounce_str_t path_info;    /* path after mount_prefix; starts with '/', or
                                is empty when path == mount_prefix */
  pounce_str_t query;        /* after '?', without it; empty when absent */
  /* In arrival order. Names as sent on HTTP/1 (HTTP/2 sends them lower
   * case): compare names case-insensitively. A field may repeat (and HTTP/2
   * may split Cookie into several): iterate to see them all, or use
   * request_header_at. */
  const pounce_header_t* headers;
  size_t header_count;
  pounce_str_t body; /* sync: the whole decoded body. async: empty,
                        the body arrives through on_body */
  const pounce_header_t* trailers; /* sync chunked bodies: the trailer fields */
  size_t trailer_count;
  pounce_request_t* handle; /* pass to the request_* host functions */
  /* ---- 1.1 ---- */
  pounce_str_t scheme;    /* "http" (later "https"), lower case */
  pounce_str_t authority; /* HTTP/1: the Host header's value, empty when
                             absent; HTTP/2: the :authority pseudo-header */
} pounce_request_view_t;

/* True when the host-allocated struct at `ptr` (which starts with a `size`
 * field) contains `field`: read or write the field only then. */
#define POUNCE_HAS_FIELD(ptr, type, field) \
  ((ptr) != NULL &&                        \
   (ptr)->size >= offsetof(type, field) + sizeof(((type*)0)->field))

/* ------------------------------------------------------------------------ */
/* The host function table                                                  */
/* ------------------------------------------------------------------------ */

typedef void (*pounce_callback_fn)(void* user);
typedef void (*pounce_timer_fn)(void* user, pounce_timer_t timer);

/*
 * Errors. Every function below lists what it returns. Common to all the
 * handle calls: POUNCE_ERR_INVALID for 0, a handle this host never made, or
 * a handle of another kind (a WebSocket or timer handle given to a stream_*
 * call, ...); POUNCE_ERR_CLOSED once the handle's owner has closed (or
 * from its own on_close / on_ws_close).
 */
/* 1.1: plugin-defined metrics, shown by the host's /metrics (Prometheus
 * text format) with a leading `mount` label. */
typedef enum pounce_metric_type {
  POUNCE_METRIC_COUNTER = 0,  /* only goes up: metric_add with value >= 0 */
  POUNCE_METRIC_GAUGE = 1,    /* metric_set or metric_add (either sign) */
  POUNCE_METRIC_HISTOGRAM = 2 /* metric_observe */
} pounce_metric_type_t;

/* Opaque: a metric of one mount, valid until that mount's shutdown()
 * returns. */
typedef struct pounce_metric pounce_metric_t;
struct pounce_init_args; /* pounce_init_args_t, below */

/* What metric_define reads. The plugin allocates it and sets `size`. */
typedef struct pounce_metric_def {
  uint32_t size; /* sizeof(pounce_metric_def_t) */
  pounce_metric_type_t type;
  /* [a-zA-Z_:][a-zA-Z0-9_:]*, not starting with "pounce_" (the host's
   * own); a counter's name should end in "_total". NUL-terminated. */
  const char* name;
  const char* help; /* NUL-terminated; may be NULL */
  /* Label names ([a-zA-Z_][a-zA-Z0-9_]*, not "mount", not starting with
   * "__"), at most 8. */
  const char* const* label_names;
  size_t label_count;
  /* Histograms: ascending upper bounds (+Inf is implied), at most 32;
   * NULL/0 for the host's request-duration buckets (100 us .. 10 s). */
  const double* buckets;
  size_t bucket_count;
} pounce_metric_def_t;

typedef struct pounce_host_api {
  uint32_t size;      /* sizeof(pounce_host_api_t) of the host */
  uint16_t abi_major; /* the host's POUNCE_ABI_MAJOR */
  uint16_t abi_minor; /* the host's POUNCE_ABI_MINOR */

  /* ---- logging (any thread, never blocks) ---- */

  /* Writes one line to the host's error log, prefixed with the plugin name.
   * `instance` may be NULL before init. A level that is not one of the
   * POUNCE_LOG_* constants is logged as POUNCE_LOG_ERROR. */
  void (*log)(void* instance, pounce_log_level_t level, pounce_str_t message);

  /* ---- request access (the hook's thread, during the hook) ---- */

  /* Case-insensitive lookup of the FIRST header called `name`. Returns 1 and
   * sets *value when found, 0 otherwise. A field may occur several times
   * (HTTP/2 may split Cookie): see request_header_at, or iterate
   * req->headers. */
  int (*request_header)(const pounce_request_t* req, pounce_str_t name,
                        pounce_str_t* value);
  /* Fills *out with the client's (which = 0) or the local (which = 1)
   * address, writing only within out->size. Returns POUNCE_OK, or
   * POUNCE_ERR_INVALID: NULL arguments, another `which`, out->size smaller
   * than the 1.0 pounce_addr_t (nothing is written then), or an address the
   * host cannot tell (out->family is 0 then). */
  int (*request_addr)(const pounce_request_t* req, int which,
                      pounce_addr_t* out);

  /* ---- sync responses (the worker thread, during on_handle) ---- */

  /* Sets the status, 200..599. Default 200. Returns POUNCE_OK, or
   * POUNCE_ERR_INVALID for another status (the response becomes a 500). */
  int (*response_status)(pounce_response_t* res, int status);
  /* Adds a header. The name and value are validated: CR, LF or NUL anywhere,
   * an invalid name, or a framing header the host owns (Content-Length,
   * Transfer-Encoding, Connection) make the response a 500 and return
   * POUNCE_ERR_INVALID. POUNCE_ERR_NOMEM when out of memory. */
  int (*response_header)(pounce_response_t* res, pounce_str_t name,
                         pounce_str_t value);
  /* Appends to the body. May be called several times. Returns POUNCE_OK,
   * POUNCE_ERR_INVALID (data NULL with len > 0), or POUNCE_ERR_NOMEM (the
   * body so far is kept). */
  int (*response_body)(pounce_response_t* res, const void* data, size_t len);

  /* ---- async streams (owning loop, or any thread: see each) ---- */

  /* Starts the response. `content_length` < 0 means unknown: the body is sent
   * chunked (HTTP/1.1) or close-delimited (HTTP/1.0). When >= 0 the plugin
   * must write exactly that many bytes (a compressed response is sent
   * chunked anyway). Any thread.
   *
   * From a thread other than the owning loop, stream calls are queued to the
   * loop: they answer POUNCE_OK (or POUNCE_HIGH_WATER) when the stream was
   * alive when queued, and do nothing if it closes first; on_close tells. On
   * the owning loop they act at once. The host never calls on_close from
   * inside one of these calls: it follows on a later turn of the loop.
   *
   * stream_start returns POUNCE_OK, POUNCE_ERR_STATE (already started),
   * POUNCE_ERR_INVALID (bad status or header), POUNCE_ERR_CLOSED. */
  int (*stream_start)(pounce_stream_t stream, int status,
                      const pounce_header_t* headers, size_t header_count,
                      int64_t content_length);
  /* Sends one chunk, compressed and flushed on its own when compression is
   * on. Returns POUNCE_OK, POUNCE_HIGH_WATER (accepted, but stop until
   * on_writable), POUNCE_ERR_STATE (before stream_start, or after
   * stream_end), POUNCE_ERR_INVALID (NULL data, or more than the declared
   * content_length), POUNCE_ERR_CLOSED (also when this write overflowed
   * --stream-max-buffer: on_close(OVERFLOW) follows). Any thread. */
  int (*stream_write)(pounce_stream_t stream, const void* data, size_t len);
  /* Ends the response, with optional trailers (chunked responses only).
   * on_close(DONE) follows once the bytes are handed to the socket. Returns
   * POUNCE_OK, POUNCE_ERR_STATE (not started, or ended), POUNCE_ERR_INVALID
   * (fewer bytes than the declared content_length, a bad trailer),
   * POUNCE_ERR_CLOSED. Any thread. */
  int (*stream_end)(pounce_stream_t stream, const pounce_header_t* trailers,
                    size_t trailer_count);
  /* Attaches plugin data to the stream; it is passed back to every stream
   * hook. Owning loop only. Returns POUNCE_OK; POUNCE_ERR_STATE from another
   * thread and POUNCE_ERR_CLOSED after close (the user data is then NOT
   * attached: whatever it owns is still the plugin's to free). */
  int (*stream_set_user)(pounce_stream_t stream, void* user);
  /* Ends the stream abnormally: before stream_start the client gets a 500;
   * after it the connection is closed without the final chunk, so that the
   * client sees a truncated response rather than a complete one. on_close
   * follows with POUNCE_CLOSE_ERROR. Returns POUNCE_OK or POUNCE_ERR_CLOSED.
   * Any thread. */
  int (*stream_abort)(pounce_stream_t stream);

  /* ---- WebSocket (owning loop, or any thread) ---- */

  /* Sends a whole message. Returns POUNCE_OK, POUNCE_HIGH_WATER (accepted,
   * but stop until on_ws_writable), POUNCE_ERR_INVALID (another opcode, NULL
   * data, text that is not UTF-8), POUNCE_ERR_STATE (closing),
   * POUNCE_ERR_NOMEM, POUNCE_ERR_CLOSED. Any thread. */
  int (*ws_send)(pounce_ws_t ws, pounce_ws_opcode_t opcode, const void* data,
                 size_t len);
  /* Sends a ping with up to 125 bytes of payload. Returns POUNCE_OK,
   * POUNCE_ERR_INVALID (too long), POUNCE_ERR_STATE (closing),
   * POUNCE_ERR_CLOSED. Any thread. */
  int (*ws_ping)(pounce_ws_t ws, const void* data, size_t len);
  /* Starts the close handshake. `reason` is at most 123 bytes of UTF-8.
   * Returns POUNCE_OK (also when already closing), POUNCE_ERR_INVALID (a
   * code that may not be sent, a reason too long or not UTF-8),
   * POUNCE_ERR_CLOSED. Any thread. */
  int (*ws_close)(pounce_ws_t ws, uint16_t code, pounce_str_t reason);
  /* Attaches plugin data to the socket. Owning loop only. Returns as
   * stream_set_user. */
  int (*ws_set_user)(pounce_ws_t ws, void* user);

  /* ---- timers and posting ---- */

  /* Starts a timer on the loop that owns `owner` (a stream or WebSocket
   * handle). It fires after `delay_ms`, then every `repeat_ms` if non-zero.
   * The timer is cancelled when the owner closes; `fn` is never called after
   * on_close. Returns 0 on failure, and when the owner is closing (from its
   * on_close / on_ws_close): no timer outlives its owner. Also 0 when
   * called from another thread than the owner's loop (the host logs that
   * once: post() to the loop and start the timer there), for fn NULL, and
   * for an owner that is not a stream or WebSocket handle. Owning loop
   * only. */
  pounce_timer_t (*timer_start)(uint64_t owner, uint64_t delay_ms,
                                uint64_t repeat_ms, pounce_timer_fn fn,
                                void* user);
  /* Stops a timer. Stopping a fired one-shot or unknown timer is harmless.
   * Returns POUNCE_OK, POUNCE_ERR_INVALID (not a timer handle), or
   * POUNCE_ERR_STATE from another thread (nothing is stopped). Owning loop
   * only. */
  int (*timer_stop)(pounce_timer_t timer);
  /* Runs fn(user) on the loop that owns `owner`. Any thread. Returns
   * POUNCE_ERR_CLOSED (and does not call fn) when the owner is already gone
   * or closing (from its on_close / on_ws_close). Once it returned
   * POUNCE_OK, fn runs exactly once, even if the owner closes in the
   * meantime (its handle then answers POUNCE_ERR_CLOSED), so `user` may own
   * memory that fn frees; the plugin's code stays loaded, and its
   * shutdown() waits, until fn has returned. */
  int (*post)(uint64_t owner, pounce_callback_fn fn, void* user);

  /* ---- clock ---- */

  /* CLOCK_MONOTONIC in nanoseconds, the clock used by drain deadlines. */
  uint64_t (*now_ns)(void);

  /* ---- 1.1: test with POUNCE_HOST_HAS(host, fn) before calling ---- */

  /* The `index`-th (from 0) header called `name`, compared
   * case-insensitively, in arrival order. Returns 1 and sets *value when
   * there is one, 0 otherwise. The hook's thread, during the hook. */
  int (*request_header_at)(const pounce_request_t* req, pounce_str_t name,
                           size_t index, pounce_str_t* value);

  /* The TLS session of the request's connection. `out->size` must be set
   * (to sizeof(pounce_tls_info_t)); the host writes only fields that lie
   * within it. Returns 1 on a TLS connection, with *out filled in; 0 on a
   * cleartext one, with every string of *out {NULL, 0} and every flag 0;
   * POUNCE_ERR_INVALID for a NULL argument or an out->size smaller than
   * `size` itself (nothing is written then); POUNCE_ERR_NOMEM when the
   * host ran out of memory reading the session (*out as on cleartext).
   * Test `== 1` for TLS.
   *
   * Who may call it: the hook that received `req` (on_handle, in sync and
   * blocking mode; on_request; on_ws_upgrade), on the thread running that
   * hook (the worker or async loop, or the blocking pool's thread), during
   * the hook. The strings stay valid until that hook returns. The facts are
   * those of the handshake (a resumed session reports the client
   * certificate of the session it resumed). request_addr works on TLS
   * connections as on cleartext ones. */
  int (*request_tls)(const pounce_request_t* req, pounce_tls_info_t* out);

  /* Defines a metric for the mount being initialized: call it from init,
   * with the args init received. Defining the same name again (a reload,
   * or the same plugin at another mount) with the same type and labels
   * continues the same series, so counters survive a reload. Returns
   * POUNCE_OK with *out set; POUNCE_ERR_INVALID for a bad name, label or
   * bucket list, or a name another mount defined with another type or
   * labels (a log line says which); POUNCE_ERR_NOMEM. */
  int (*metric_define)(const struct pounce_init_args* args,
                       const pounce_metric_def_t* def, pounce_metric_t** out);
  /* Updates, from any thread, at any time until shutdown() returns; no
   * lock is taken after a thread's first update of a series. `labels`
   * holds one value per label name, in the defined order (any bytes; the
   * host escapes them). A wrong label count or type returns
   * POUNCE_ERR_INVALID. Each thread keeps its own cells and /metrics adds
   * them up: a gauge meant to be set should be set from one thread (or
   * only added to). Past 10,000 series per metric and thread, new label
   * values are dropped (logged once): label values are for small sets
   * (routes, results), never for user ids. */
  int (*metric_add)(pounce_metric_t* metric, const pounce_str_t* labels,
                    size_t label_count, double value);
  int (*metric_set)(pounce_metric_t* metric, const pounce_str_t* labels,
                    size_t label_count, double value);
  int (*metric_observe)(pounce_metric_t* metric, const pounce_str_t* labels,
                        size_t label_count, double value);

  /* ---- file bodies (1.1): POUNCE_HOST_HAS(host, response_file) ---- */

  /* The body of a sync or blocking response is `length` bytes of the open
   * file `fd`, from `offset`. The host sends them without copying them
   * through memory where it can (sendfile on cleartext HTTP/1.1; over TLS
   * and HTTP/2 it reads them in pieces as the client takes them): a large
   * download costs neither the plugin nor the host its size in memory.
   *
   * The host takes ownership of `fd` in every case: it closes it once the
   * body is sent, and also when the call fails. The plugin must not use or
   * close it after the call. The host fstat()s it: a descriptor that is not
   * a regular file (a directory, a pipe, a socket), or a range that ends
   * past the file's size, returns POUNCE_ERR_INVALID. A file that shrinks
   * while it is being sent ends the connection (HTTP/1) or the stream
   * (HTTP/2) short of the Content-Length, with a log line; it is never
   * padded.
   *
   * The response's Content-Length is `length`. The body is sent as it is:
   * never compressed on the fly (store a compressed variant and set
   * Content-Encoding to serve one). A HEAD gets the Content-Length and no
   * body; a 204 or 304 gets neither, and the file is closed unread. Ranges
   * (206) are the plugin's to decide: Content-Range is its header.
   *
   * One body per response: POUNCE_ERR_INVALID when response_body added
   * bytes before, or response_file was called before; response_body after
   * response_file returns POUNCE_ERR_INVALID too (and a 500). Every
   * POUNCE_ERR_INVALID of this call makes the response a 500 (logged), as
   * an invalid status does. POUNCE_ERR_NOMEM when out of memory (the
   * descriptor is closed; the response is unchanged). The hook's thread,
   * during on_handle. */
  int (*response_file)(pounce_response_t* res, int fd, uint64_t offset,
                       uint64_t length);
  /* Async streams: the next `length` bytes of the started response are the
   * open file `fd`'s, from `offset`, sent as response_file sends them.
   * Ownership of `fd` and the checks on it (a regular file, a range within
   * its size) are response_file's: the host closes it in every case. The
   * returns and the backpressure are stream_write's: the bytes count
   * against --stream-high-water until sent, so POUNCE_HIGH_WATER says to
   * wait for on_writable (a whole file in one call is fine: it is read as
   * the client takes it); not against --stream-max-buffer, a bound on
   * memory they do not use. They count against a declared content_length
   * (more than it: POUNCE_ERR_INVALID). From another thread a refusal
   * decided on the loop (a compressed stream, more than the declared
   * length) cannot be returned: the stream is aborted instead.
   * A compressed stream (the host chose gzip or zstd at stream_start)
   * refuses file bytes with POUNCE_ERR_UNSUPPORTED, since they would have
   * to be read into memory to be compressed: write them with stream_write,
   * or start the stream with a Content-Encoding (e.g. "identity") or a
   * type the host does not compress. Any thread: from another thread the
   * descriptor is checked (and fstat()ed) on the calling thread and the
   * write queued to the owning loop, as stream_write's bytes are. */
  int (*stream_write_file)(pounce_stream_t stream, int fd, uint64_t offset,
                           uint64_t length);
  /* 1.1: sends a `103 Early Hints` interim response (RFC 8297) with these
   * headers, before the final response, so that the client may start
   * fetching what the page will need (`Link: </style.css>; rel=preload;
   * as=style`) while the handler still works. Sync and blocking handlers,
   * during on_handle, on the thread running it. Each call sends one 103,
   * at once, while the handler goes on: a sync handler's is handed to the
   * socket before the call returns; a blocking handler's is queued to the
   * connection's loop, which sends it at once (the call returns without
   * waiting). HTTP/1.1 sends `HTTP/1.1 103 Early Hints`, HTTP/2 a HEADERS
   * frame with :status 103 (browsers act on hints over HTTP/2 only).
   * Hints are advisory: one may be lost with its connection, and the final
   * response does not repeat them (send the Link headers again with
   * response_header if the final response should carry them).
   *
   * Names and values are validated as response_header validates them:
   * CR, LF, NUL or another control character, an invalid name, or a header
   * response_header refuses (Content-Length, Transfer-Encoding, Connection,
   * Keep-Alive, Proxy-Connection, Upgrade, Date, Server) refuse the whole
   * call: nothing is sent, and the final response is not affected. Any
   * other header is allowed; browsers act on Link (rel=preload,
   * rel=preconnect) and ignore the rest.
   *
   * Returns POUNCE_OK (also when nothing is sent because the client speaks
   * HTTP/1.0, which has no interim responses); POUNCE_ERR_INVALID for NULL
   * arguments, count 0, or a refused header; POUNCE_ERR_TOO_LARGE past 64
   * KiB of header lines; POUNCE_ERR_STATE outside on_handle (an async
   * stream, which starts its own response); POUNCE_ERR_NOMEM. */
  int (*response_early_hints)(pounce_response_t* res,
                              const pounce_header_t* headers, size_t count);
} pounce_host_api_t;

/* True when the host's table is new enough to contain `fn`. */
#define POUNCE_HOST_HAS(host, fn)                                          \
  ((host) != NULL &&                                                       \
   (host)->size >= offsetof(pounce_host_api_t, fn) + sizeof((host)->fn) && \
   (host)->fn != NULL)

/* ------------------------------------------------------------------------ */
/* What the plugin provides                                                 */
/* ------------------------------------------------------------------------ */

/* Passed to init, once per mount. Host-allocated: see POUNCE_HAS_FIELD. */
typedef struct pounce_init_args {
  uint32_t size;             /* sizeof(pounce_init_args_t) of the host */
  pounce_str_t config_json;  /* the mount's --plugin-config, "{}" if none */
  pounce_str_t mount_prefix; /* e.g. "/" or "/api" */
  uint32_t workers;          /* number of worker threads */
  uint32_t async_threads;    /* number of async-pool threads */
  uint64_t generation;       /* 1 at start, +1 per reload */
  /* Where init may write a NUL-terminated reason when it fails. */
  char* error;
  size_t error_cap;
} pounce_init_args_t;

/* A per-route mode, relative to the mount: prefix "/stream" under a mount at
 * "/api" covers "/api/stream" and below, on segment boundaries. */
typedef struct pounce_route_mode {
  pounce_str_t prefix;
  pounce_mode_t mode;
} pounce_route_mode_t;

/* Accept or refuse a WebSocket upgrade, before the 101 is sent.
 * Host-allocated: the plugin writes only fields within `size`. */
typedef struct pounce_ws_upgrade {
  uint32_t size; /* sizeof(pounce_ws_upgrade_t) of the host */
  /* In: the offered subprotocols, from Sec-WebSocket-Protocol. */
  const pounce_str_t* offered_protocols;
  size_t offered_count;
  /* Out: index into offered_protocols of the chosen one, or -1 for none. */
  int32_t chosen_protocol;
  /* Out: a status >= 400 refuses the upgrade with that status. */
  int32_t reject_status;
  /* Out: data passed back to every hook of this socket. Who frees it:
   * - the plugin refused (non-zero return or reject_status >= 400): the
   *   host forgets `user` at once; the plugin frees it before returning.
   * - the plugin accepted and the socket opened: on_ws_close hands it back
   *   (exactly once per on_ws_open).
   * - the plugin accepted but the host could not complete the 101 (a
   *   chosen_protocol that was not offered, the client gone before the 101
   *   was sent): on_ws_upgrade_abandoned hands it back (1.1; a 1.0 host, or
   *   a descriptor without the hook, leaks it). */
  void* user;
} pounce_ws_upgrade_t;

typedef struct pounce_plugin {
  uint32_t size; /* sizeof(pounce_plugin_t) the plugin was compiled with */
  pounce_str_t name;
  pounce_str_t version;

  /* The mode of plain HTTP requests, for the whole plugin... */
  pounce_mode_t mode;
  /* ...with optional per-route overrides (longest prefix wins). */
  const pounce_route_mode_t* routes;
  size_t route_count;

  /* ---- lifecycle (main thread) ---- */

  /* Creates one instance per mount. Returns NULL on failure, after writing a
   * reason to args->error. */
  void* (*init)(const pounce_init_args_t* args);
  /* Destroys an instance. Every hook of it has returned and no new one will
   * start. A plugin that started threads must stop them here. */
  void (*shutdown)(void* instance);
  /* Called when this generation stops taking new work. `deadline_ns` is a
   * now_ns() time: at it, the host closes what is left (streams get a final
   * chunk, WebSockets close 1001). Called on the main thread; post to a
   * stream's loop to act on it. May be NULL. */
  void (*on_draining)(void* instance, pounce_drain_reason_t reason,
                      uint64_t deadline_ns);

  /* ---- sync mode (a worker thread, concurrently on all workers) ---- */

  /* Handles one request with a complete body. Returns 0, or non-zero for an
   * error that the host turns into a 500 (what was set is discarded). */
  int (*on_handle)(void* instance, const pounce_request_view_t* req,
                   pounce_response_t* res);

  /* ---- async mode (the owning async loop) ---- */

  /* A request has arrived. The plugin answers now or later with
   * stream_start / stream_write / stream_end. Returns 0, or non-zero for an
   * error: before stream_start the client gets a 500; after it the host
   * logs the error and aborts the stream as stream_abort does. Either way
   * on_close(POUNCE_CLOSE_ERROR) follows. */
  int (*on_request)(void* instance, pounce_stream_t stream,
                    const pounce_request_view_t* req);
  /* A piece of the request body; `last` is 1 on the final call (which may
   * carry no bytes). May be NULL: the body is then discarded. */
  void (*on_body)(void* instance, pounce_stream_t stream, void* user,
                  const void* data, size_t len, int last);
  /* The queue fell below half of --stream-high-water after a write returned
   * POUNCE_HIGH_WATER. May be NULL. */
  void (*on_writable)(void* instance, pounce_stream_t stream, void* user);
  /* The stream is finished; the handle is dead already: stream calls on it
   * answer POUNCE_ERR_CLOSED, post too, and timer_start 0. Exactly once per
   * on_request. May be NULL. */
  void (*on_close)(void* instance, pounce_stream_t stream, void* user,
                   pounce_close_reason_t reason);

  /* ---- WebSocket (the owning async loop). All NULL = no WebSocket. ---- */

  /* Before the 101. May choose a subprotocol or refuse. Returns 0 to let
   * `upgrade` decide (accepted unless reject_status >= 400), non-zero to
   * refuse with reject_status, or 500 when that is below 400. See `user`
   * for who frees it. May be NULL: every upgrade is accepted without a
   * subprotocol. */
  int (*on_ws_upgrade)(void* instance, const pounce_request_view_t* req,
                       pounce_ws_upgrade_t* upgrade);
  /* After the 101 was sent. */
  void (*on_ws_open)(void* instance, pounce_ws_t ws, void* user);
  /* A whole message, reassembled and decompressed; text is valid UTF-8. */
  void (*on_ws_message)(void* instance, pounce_ws_t ws, void* user,
                        pounce_ws_opcode_t opcode, const void* data,
                        size_t len);
  /* The socket closed. `code` is the peer's close code, or 1006 when it
   * vanished. The handle is dead already, as in on_close. Exactly once per
   * on_ws_open. */
  void (*on_ws_close)(void* instance, pounce_ws_t ws, void* user, uint16_t code,
                      pounce_str_t reason);
  /* The send queue drained below half of the high-water mark. May be NULL. */
  void (*on_ws_writable)(void* instance, pounce_ws_t ws, void* user);

  /* ---- 1.1: a host reads these only when `size` covers them ---- */

  /* The plugin accepted an upgrade (on_ws_upgrade) but the host could not
   * complete the 101: no on_ws_open or on_ws_close follows. Hands back the
   * upgrade's `user` to free. The owning loop. May be NULL. */
  void (*on_ws_upgrade_abandoned)(void* instance, void* user);
} pounce_plugin_t;

/* The size to put in pounce_plugin_t.size: the whole struct, or, for a
 * plugin that lowered POUNCE_PLUGIN_MIN_HOST_MINOR to 0, the 1.0 struct (a
 * 1.0 host refuses a larger descriptor; hooks beyond it are then absent on
 * every host). */
#if POUNCE_PLUGIN_MIN_HOST_MINOR >= 1
#define POUNCE_PLUGIN_SIZE ((uint32_t)sizeof(pounce_plugin_t))
#else
#define POUNCE_PLUGIN_SIZE \
  ((uint32_t)offsetof(pounce_plugin_t, on_ws_upgrade_abandoned))
#endif

/* The one entry function, exported as `pounce_plugin_entry`. Called once per
 * load on the main thread, after the ABI record was checked. `host` stays
 * valid until the plugin is unloaded. Returns the plugin's descriptor, which
 * must stay valid until the plugin is unloaded (a static is typical). */
typedef const pounce_plugin_t* (*pounce_plugin_entry_fn)(
    const pounce_host_api_t* host);

#define POUNCE_ENTRY_SYMBOL "pounce_plugin_entry"
#define POUNCE_ABI_SYMBOL "pounce_plugin_abi"

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* POUNCE_POUNCE_H */
