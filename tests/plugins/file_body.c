/* File bodies (issue 15 §2, ABI 1.1): response_file and stream_write_file,
 * from C. The file is named in the query (the tests make it). Mounted at a
 * prefix, say /f:
 *
 *   GET /f/file?path=P[&off=N][&len=M]        sync: response_file
 *   GET /f/blk/file?path=P[&off=N][&len=M]    the same on the blocking pool
 *   GET /f/bad?what=W                          a refused response_file: W is
 *       dir (a directory), pipe (a pipe's read end), past (a range past the
 *       end of /proc/self/exe), twice (two response_file calls), body (a
 *       response_body, then response_file), after (response_file, then
 *       response_body). Logs "file_body: bad W rc R".
 *   GET /f/fdcount                             the open descriptors of the
 *       process (/proc/self/fd), as text
 *   GET /f/async/file?path=P[&off=N][&len=M][&piece=K][&declare=1][&type=T]
 *       async: stream_write_file in pieces of K bytes (default: the whole
 *       range in one call), one descriptor per piece; declare=1 declares
 *       the Content-Length. On POUNCE_HIGH_WATER it logs "file_body: high
 *       water at byte X" and waits for on_writable ("file_body: writable").
 *       Content-Type T (default application/octet-stream). A refusal is
 *       logged ("file_body: write_file rc R") and the stream aborted.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pounce/pounce.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

POUNCE_DECLARE_PLUGIN_ABI();

static const pounce_host_api_t* host;

static void say(const char* line) {
  pounce_str_t msg = {line, strlen(line)};
  host->log(NULL, POUNCE_LOG_INFO, msg);
}

static int path_is(const pounce_request_view_t* req, const char* p) {
  size_t n = strlen(p);
  return req->path_info.len == n && memcmp(req->path_info.data, p, n) == 0;
}

/* The query's value of `key`, copied into out (NUL-terminated); 0 when
 * absent. */
static int query(const pounce_request_view_t* req, const char* key, char* out,
                 size_t cap) {
  size_t klen = strlen(key);
  const char* q = req->query.data;
  size_t n = req->query.len;
  size_t i = 0;
  while (i < n) {
    size_t end = i;
    while (end < n && q[end] != '&') ++end;
    if (end - i > klen && memcmp(q + i, key, klen) == 0 && q[i + klen] == '=') {
      size_t vlen = end - i - klen - 1;
      if (vlen >= cap) vlen = cap - 1;
      memcpy(out, q + i + klen + 1, vlen);
      out[vlen] = '\0';
      return 1;
    }
    i = end + 1;
  }
  return 0;
}

static unsigned long long query_num(const pounce_request_view_t* req,
                                    const char* key, unsigned long long def) {
  char v[32];
  return query(req, key, v, sizeof v) ? strtoull(v, NULL, 10) : def;
}

static void text(pounce_response_t* res, int status, const char* body) {
  static const pounce_str_t name = POUNCE_STR("Content-Type");
  static const pounce_str_t value = POUNCE_STR("text/plain");
  host->response_status(res, status);
  host->response_header(res, name, value);
  host->response_body(res, body, strlen(body));
}

/* Opens the query's file; fills *size. -1 when it cannot. */
static int open_query_file(const pounce_request_view_t* req,
                           unsigned long long* size) {
  char path[512];
  if (!query(req, "path", path, sizeof path)) return -1;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *size = (unsigned long long)st.st_size;
  return fd;
}

static int serve_file(const pounce_request_view_t* req,
                      pounce_response_t* res) {
  unsigned long long size = 0;
  int fd = open_query_file(req, &size);
  if (fd < 0) {
    text(res, 404, "no such file\n");
    return 0;
  }
  unsigned long long off = query_num(req, "off", 0);
  unsigned long long len = query_num(req, "len", size > off ? size - off : 0);
  static const pounce_str_t name = POUNCE_STR("Content-Type");
  static const pounce_str_t value = POUNCE_STR("application/octet-stream");
  host->response_header(res, name, value);
  int rc = host->response_file(res, fd, off, len);
  if (rc != POUNCE_OK) {
    char line[96];
    snprintf(line, sizeof line, "file_body: response_file rc %d", rc);
    say(line);
  }
  return 0;
}

static int serve_bad(const pounce_request_view_t* req, pounce_response_t* res) {
  char what[16] = "";
  query(req, "what", what, sizeof what);
  int rc = 0;
  if (strcmp(what, "dir") == 0) {
    rc = host->response_file(res, open("/tmp", O_RDONLY | O_DIRECTORY), 0, 0);
  } else if (strcmp(what, "pipe") == 0) {
    int p[2];
    if (pipe(p) != 0) return 1;
    close(p[1]);
    rc = host->response_file(res, p[0], 0, 0);
  } else if (strcmp(what, "past") == 0) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    struct stat st;
    fstat(fd, &st);
    rc = host->response_file(res, fd, (uint64_t)st.st_size - 10, 11);
  } else if (strcmp(what, "twice") == 0) {
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    host->response_file(res, fd, 0, 1);
    rc = host->response_file(res, open("/proc/self/exe", O_RDONLY), 0, 1);
  } else if (strcmp(what, "body") == 0) {
    host->response_body(res, "x", 1);
    rc = host->response_file(res, open("/proc/self/exe", O_RDONLY), 0, 1);
  } else if (strcmp(what, "after") == 0) {
    host->response_file(res, open("/proc/self/exe", O_RDONLY), 0, 1);
    rc = host->response_body(res, "x", 1);
  } else {
    text(res, 400, "what?\n");
    return 0;
  }
  char line[64];
  snprintf(line, sizeof line, "file_body: bad %s rc %d", what, rc);
  say(line);
  return 0;
}

static int serve_fdcount(pounce_response_t* res) {
  DIR* d = opendir("/proc/self/fd");
  if (!d) return 1;
  int n = 0;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  char body[32];
  snprintf(body, sizeof body, "%d\n", n - 1); /* not opendir's own */
  text(res, 200, body);
  return 0;
}

static int on_handle(void* instance, const pounce_request_view_t* req,
                     pounce_response_t* res) {
  (void)instance;
  if (path_is(req, "/file") || path_is(req, "/blk/file")) {
    return serve_file(req, res);
  }
  if (path_is(req, "/bad")) return serve_bad(req, res);
  if (path_is(req, "/fdcount")) return serve_fdcount(res);
  text(res, 404, "no route\n");
  return 0;
}

/* ---- async ---- */

typedef struct job {
  char path[512];
  unsigned long long pos; /* the next byte to write */
  unsigned long long end;
  unsigned long long piece;
} job_t;

/* Writes pieces until the range is out (then ends) or the host says
 * POUNCE_HIGH_WATER (then on_writable continues). */
static void pump(pounce_stream_t stream, job_t* j) {
  while (j->pos < j->end) {
    unsigned long long n = j->end - j->pos;
    if (j->piece && n > j->piece) n = j->piece;
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    int rc = host->stream_write_file(stream, fd, j->pos, n);
    if (rc < 0) {
      char line[64];
      snprintf(line, sizeof line, "file_body: write_file rc %d", rc);
      say(line);
      host->stream_abort(stream);
      return;
    }
    j->pos += n;
    if (rc == POUNCE_HIGH_WATER && j->pos < j->end) {
      char line[80];
      snprintf(line, sizeof line, "file_body: high water at byte %llu", j->pos);
      say(line);
      return;
    }
  }
  host->stream_end(stream, NULL, 0);
}

static int on_request(void* instance, pounce_stream_t stream,
                      const pounce_request_view_t* req) {
  (void)instance;
  job_t* j = calloc(1, sizeof *j);
  if (!j) return 1;
  unsigned long long size = 0;
  int fd = open_query_file(req, &size);
  if (fd < 0 || !query(req, "path", j->path, sizeof j->path)) {
    free(j);
    if (fd >= 0) close(fd);
    static const pounce_header_t none[1] = {{{0, 0}, {0, 0}}};
    host->stream_start(stream, 404, none, 0, 0);
    host->stream_end(stream, NULL, 0);
    return 0;
  }
  close(fd);
  j->pos = query_num(req, "off", 0);
  j->end = j->pos + query_num(req, "len", size > j->pos ? size - j->pos : 0);
  j->piece = query_num(req, "piece", 0);
  char type[64] = "application/octet-stream";
  query(req, "type", type, sizeof type);
  pounce_header_t h[1] = {{POUNCE_STR("Content-Type"), {type, strlen(type)}}};
  host->stream_set_user(stream, j);
  int64_t declared =
      query_num(req, "declare", 0) ? (int64_t)(j->end - j->pos) : -1;
  host->stream_start(stream, 200, h, 1, declared);
  pump(stream, j);
  return 0;
}

static void on_writable(void* instance, pounce_stream_t stream, void* user) {
  (void)instance;
  say("file_body: writable");
  if (user) pump(stream, (job_t*)user);
}

static void on_close(void* instance, pounce_stream_t stream, void* user,
                     pounce_close_reason_t reason) {
  (void)instance;
  (void)stream;
  char line[64];
  snprintf(line, sizeof line, "file_body: closed %d", (int)reason);
  say(line);
  free(user);
}

static void* init(const pounce_init_args_t* args) {
  (void)args;
  return (void*)1;
}

static void shutdown_(void* instance) {
  (void)instance;
}

static const pounce_route_mode_t kRoutes[] = {
    {POUNCE_STR("/blk"), POUNCE_MODE_BLOCKING},
    {POUNCE_STR("/async"), POUNCE_MODE_ASYNC},
};

static const pounce_plugin_t kPlugin = {
    .size = sizeof(pounce_plugin_t),
    .name = POUNCE_STR("file_body"),
    .version = POUNCE_STR("1"),
    .mode = POUNCE_MODE_SYNC,
    .routes = kRoutes,
    .route_count = 2,
    .init = init,
    .shutdown = shutdown_,
    .on_handle = on_handle,
    .on_request = on_request,
    .on_writable = on_writable,
    .on_close = on_close,
};

POUNCE_EXPORT const pounce_plugin_t* pounce_plugin_entry(
    const pounce_host_api_t* h) {
  host = h;
  if (!POUNCE_HOST_HAS(h, stream_write_file)) return NULL;
  return &kPlugin;
}
