/*
 * pounce.h: the Pounce Host plugin ABI, version 1.
 *
 * This header is the whole contract between pounce-host and a plugin. It is
 * pure C99 so that a plugin can be written in any language with a C FFI.
 *
 * Compatibility rules
 * -------------------
 * - The plugin exports a constant record, `pounce_plugin_abi`, that the host
 *   reads with dlsym() before it calls anything. A different major version is
 *   refused; a plugin built against a newer minor than the host is refused.
 * - Every struct that can grow starts with a `size` field holding the
 *   sizeof() the writer was compiled with. New fields are only ever appended.
 *   A reader treats a field that lies beyond `size` as absent (NULL / 0).
 * - The host function table (`pounce_host_api_t`) follows the same rule: use
 *   POUNCE_HOST_HAS(host, fn) before calling a function added after 1.0.
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
 *   POUNCE_ERR_CLOSED, it never touches freed memory.
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
#define POUNCE_ABI_MINOR 0

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
  uint16_t minor; /* POUNCE_ABI_MINOR the plugin was built against */
} pounce_plugin_abi_t;

#ifdef __cplusplus
#define POUNCE_C_LINKAGE extern "C"
#else
#define POUNCE_C_LINKAGE
#endif

/* Put this once in a plugin's source file (C or C++). */
#define POUNCE_DECLARE_PLUGIN_ABI()                                            \
  POUNCE_C_LINKAGE POUNCE_EXPORT const pounce_plugin_abi_t pounce_plugin_abi = \
      {POUNCE_ABI_MAGIC, POUNCE_ABI_MAJOR, POUNCE_ABI_MINOR}

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

/* Result codes of host calls. Negative values are errors. */
typedef enum pounce_result {
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
} pounce_result_t;

/* Opaque host objects. Pointers to them are valid during the hook call that
 * received them only. */
typedef struct pounce_request pounce_request_t;
typedef struct pounce_response pounce_response_t;

/* Generation-checked handles. 0 is never a valid handle. */
typedef uint64_t pounce_stream_t; /* an async HTTP response stream */
typedef uint64_t pounce_ws_t;     /* an open WebSocket */
typedef uint64_t pounce_timer_t;  /* a timer on a connection's loop */

typedef enum pounce_mode {
  POUNCE_MODE_SYNC = 0, /* handler runs inline on a worker thread */
  POUNCE_MODE_ASYNC = 1, /* the connection moves to the async pool */
  /* ABI 1.1: on_handle, as in sync mode, but on a host thread pool
   * (--blocking-threads); the worker serves other connections meanwhile. */
  POUNCE_MODE_BLOCKING = 2
} pounce_mode_t;

typedef enum pounce_log_level {
  POUNCE_LOG_DEBUG = 0,
  POUNCE_LOG_INFO = 1,
  POUNCE_LOG_WARN = 2,
  POUNCE_LOG_ERROR = 3
} pounce_log_level_t;

typedef enum pounce_drain_reason {
  POUNCE_DRAIN_RELOAD = 1,  /* a newer generation serves new requests */
  POUNCE_DRAIN_SHUTDOWN = 2 /* the process is shutting down */
} pounce_drain_reason_t;

typedef enum pounce_ws_opcode {
  POUNCE_WS_TEXT = 1,
  POUNCE_WS_BINARY = 2
} pounce_ws_opcode_t;

/* Why an async stream's on_close fired. */
typedef enum pounce_close_reason {
  POUNCE_CLOSE_DONE = 0,     /* the response ended normally */
  POUNCE_CLOSE_PEER = 1,     /* the client went away */
  POUNCE_CLOSE_TIMEOUT = 2,  /* a host timeout ended it */
  POUNCE_CLOSE_OVERFLOW = 3, /* it wrote past --stream-max-buffer */
  POUNCE_CLOSE_SHUTDOWN = 4, /* drain deadline reached */
  POUNCE_CLOSE_ERROR = 5     /* a socket or protocol error */
} pounce_close_reason_t;

/* A socket address as text, for logging and access control. */
typedef struct pounce_addr {
  uint32_t size; /* sizeof(pounce_addr_t), set by the caller */
  int family;    /* AF_INET, AF_INET6, or 0 when unknown */
  uint16_t port;
  char text[48]; /* NUL-terminated numeric host, e.g. "127.0.0.1" */
} pounce_addr_t;

/* ------------------------------------------------------------------------ */
/* The request                                                              */
/* ------------------------------------------------------------------------ */

/*
 * A parsed request, as the plugin sees it. All views point into host memory
 * that stays valid until the hook that received the request returns.
 * (on_request/on_upgrade: copy what you need for later.)
 */
typedef struct pounce_request_view {
  uint32_t size;         /* sizeof(pounce_request_view_t) of the host */
  uint8_t version_major; /* always 1 */
  uint8_t version_minor; /* 0 or 1 (HTTP/1.x with x > 1 is served as 1.1) */
  uint16_t reserved;
  pounce_str_t method;       /* e.g. "GET", case-sensitive */
  pounce_str_t target;       /* the raw request-target */
  pounce_str_t path;         /* normalized path, used for routing */
  pounce_str_t mount_prefix; /* the prefix the plugin is mounted at */
  pounce_str_t path_info;    /* path after mount_prefix; starts with '/', or
                                is empty when path == mount_prefix */
  pounce_str_t query;        /* after '?', without it; empty when absent */
  const pounce_header_t* headers; /* in arrival order, names as sent */
  size_t header_count;
  pounce_str_t body; /* sync: the whole decoded body. async: empty,
                        the body arrives through on_body */
  const pounce_header_t* trailers; /* sync chunked bodies: the trailer fields */
  size_t trailer_count;
  pounce_request_t* handle; /* pass to the request_* host functions */
} pounce_request_view_t;

/* ------------------------------------------------------------------------ */
/* The host function table                                                  */
/* ------------------------------------------------------------------------ */

typedef void (*pounce_callback_fn)(void* user);
typedef void (*pounce_timer_fn)(void* user, pounce_timer_t timer);

typedef struct pounce_host_api {
  uint32_t size;      /* sizeof(pounce_host_api_t) of the host */
  uint16_t abi_major; /* the host's POUNCE_ABI_MAJOR */
  uint16_t abi_minor; /* the host's POUNCE_ABI_MINOR */

  /* ---- logging (any thread, never blocks) ---- */

  /* Writes one line to the host's error log, prefixed with the plugin name.
   * `instance` may be NULL before init. */
  void (*log)(void* instance, pounce_log_level_t level, pounce_str_t message);

  /* ---- request access (the hook's thread, during the hook) ---- */

  /* Case-insensitive lookup of the first header called `name`. Returns 1 and
   * sets *value when found, 0 otherwise. */
  int (*request_header)(const pounce_request_t* req, pounce_str_t name,
                        pounce_str_t* value);
  /* Fills *out with the client's (which = 0) or the local (which = 1)
   * address. Returns POUNCE_OK or POUNCE_ERR_INVALID. */
  int (*request_addr)(const pounce_request_t* req, int which,
                      pounce_addr_t* out);

  /* ---- sync responses (the worker thread, during on_handle) ---- */

  /* Sets the status, 200..599. Default 200. */
  int (*response_status)(pounce_response_t* res, int status);
  /* Adds a header. The name and value are validated: CR, LF or NUL anywhere,
   * an invalid name, or a framing header the host owns (Content-Length,
   * Transfer-Encoding, Connection) make the response a 500. */
  int (*response_header)(pounce_response_t* res, pounce_str_t name,
                         pounce_str_t value);
  /* Appends to the body. May be called several times. */
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
   * inside one of these calls: it follows on a later turn of the loop. */
  int (*stream_start)(pounce_stream_t stream, int status,
                      const pounce_header_t* headers, size_t header_count,
                      int64_t content_length);
  /* Sends one chunk, compressed and flushed on its own when compression is
   * on. Returns POUNCE_OK, POUNCE_HIGH_WATER (accepted, but stop until
   * on_writable), or an error. Any thread. */
  int (*stream_write)(pounce_stream_t stream, const void* data, size_t len);
  /* Ends the response, with optional trailers (chunked responses only).
   * on_close(DONE) follows once the bytes are handed to the socket. Any
   * thread. */
  int (*stream_end)(pounce_stream_t stream, const pounce_header_t* trailers,
                    size_t trailer_count);
  /* Attaches plugin data to the stream; it is passed back to every stream
   * hook. Owning loop only. */
  int (*stream_set_user)(pounce_stream_t stream, void* user);
  /* Ends the stream abnormally: before stream_start the client gets a 500;
   * after it the connection is closed without the final chunk, so that the
   * client sees a truncated response rather than a complete one. on_close
   * follows with POUNCE_CLOSE_ERROR. Any thread. */
  int (*stream_abort)(pounce_stream_t stream);

  /* ---- WebSocket (owning loop, or any thread) ---- */

  /* Sends a whole message. Returns like stream_write. Any thread. */
  int (*ws_send)(pounce_ws_t ws, pounce_ws_opcode_t opcode, const void* data,
                 size_t len);
  /* Sends a ping with up to 125 bytes of payload. Any thread. */
  int (*ws_ping)(pounce_ws_t ws, const void* data, size_t len);
  /* Starts the close handshake. `reason` is at most 123 bytes of UTF-8.
   * Any thread. */
  int (*ws_close)(pounce_ws_t ws, uint16_t code, pounce_str_t reason);
  /* Attaches plugin data to the socket. Owning loop only. */
  int (*ws_set_user)(pounce_ws_t ws, void* user);

  /* ---- timers and posting ---- */

  /* Starts a timer on the loop that owns `owner` (a stream or WebSocket
   * handle). It fires after `delay_ms`, then every `repeat_ms` if non-zero.
   * The timer is cancelled when the owner closes; `fn` is never called after
   * on_close. Returns 0 on failure, and when the owner is closing (from its
   * on_close / on_ws_close): no timer outlives its owner. Owning loop
   * only. */
  pounce_timer_t (*timer_start)(uint64_t owner, uint64_t delay_ms,
                                uint64_t repeat_ms, pounce_timer_fn fn,
                                void* user);
  /* Stops a timer. Stopping a fired one-shot or unknown timer is harmless.
   * Owning loop only. */
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
} pounce_host_api_t;

/* True when the host's table is new enough to contain `fn`. */
#define POUNCE_HOST_HAS(host, fn)                                          \
  ((host) != NULL &&                                                       \
   (host)->size >= offsetof(pounce_host_api_t, fn) + sizeof((host)->fn) && \
   (host)->fn != NULL)

/* ------------------------------------------------------------------------ */
/* What the plugin provides                                                 */
/* ------------------------------------------------------------------------ */

/* Passed to init, once per mount. */
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

/* Accept or refuse a WebSocket upgrade, before the 101 is sent. */
typedef struct pounce_ws_upgrade {
  uint32_t size; /* sizeof(pounce_ws_upgrade_t) of the host */
  /* In: the offered subprotocols, from Sec-WebSocket-Protocol. */
  const pounce_str_t* offered_protocols;
  size_t offered_count;
  /* Out: index into offered_protocols of the chosen one, or -1 for none. */
  int32_t chosen_protocol;
  /* Out: a status >= 400 refuses the upgrade with that status. */
  int32_t reject_status;
  /* Out: data passed back to every hook of this socket. */
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
   * stream_start / stream_write / stream_end. Returns 0, or non-zero for a
   * 500 (only before stream_start). */
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

  /* Before the 101. May choose a subprotocol or refuse. May be NULL: every
   * upgrade is accepted without a subprotocol. */
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
} pounce_plugin_t;

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
