/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the end-to-end tests need to talk to the real server: a tiny blocking
 * HTTP/1.1 client for 127.0.0.1 (one request per connection, or raw sends
 * and reads on a socket the test holds), starting and stopping the
 * `smolserve serve` binary ($SMOLSERVE_BIN) with port 0, and running
 * `smolserve run ROUTE` for reference answers. Every wait is bounded by a
 * timeout, so a broken server fails a test instead of hanging it. Plain C,
 * no Check or jansson: callers assert.
 */
#ifndef SMOLSERVE_TESTS_HTTP_CLIENT_H
#define SMOLSERVE_TESTS_HTTP_CLIENT_H

#include <stddef.h>
#include <sys/types.h>

#define HTTP_MAX_HEADERS 64

struct http_header {
	char *name;  /* owned */
	char *value; /* owned, surrounding blanks removed */
};

struct http_response {
	int status; /* from the status line */
	int n_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
	char *body; /* owned, NUL-terminated (chunked bodies decoded) */
	size_t body_len;
};

/* Connects to 127.0.0.1:port; the socket gets send and receive timeouts of
 * timeout_ms (connect honours the send timeout). Returns the descriptor or
 * a negative errno (-ECONNREFUSED when nothing listens). */
int http_connect(int port, int timeout_ms);

/* http_connect from the local address source (an IPv4 literal such as
 * "127.0.0.2": Linux routes all of 127.0.0.0/8 to the loopback), or from
 * any address when source is NULL. */
int http_connect_from(const char *source, int port, int timeout_ms);

/* Sends all n bytes (no SIGPIPE). 0 or a negative errno. */
int http_send_all(int fd, const void *data, size_t n);

/* Reads one response from fd: the status line, the headers, then the body
 * up to Content-Length, or to end of stream when there is none. At most
 * timeout_ms in all. 0 with *out filled (http_response_dispose it), or a
 * negative errno: -ETIMEDOUT, -ENODATA (closed before any byte of a
 * response), -EPROTO (malformed or cut short), -ECONNRESET... *out is
 * empty on failure. */
int http_read_response(int fd, int timeout_ms, struct http_response *out);

/* One request on a new connection with Connection: close: method, path,
 * extra_headers (NULL or lines each ending in "\r\n"), body (NULL or
 * body_len bytes, sent with Content-Length). At most timeout_ms for
 * connecting, sending and reading. 0 or a negative errno as above. A
 * response the server sends before reading the whole body still counts. */
int http_request(int port, const char *method, const char *path, const char *extra_headers,
                 const char *body, size_t body_len, int timeout_ms, struct http_response *out);

/* The value of header name (case-insensitive), borrowed from r; NULL if
 * absent. */
const char *http_header(const struct http_response *r, const char *name);

void http_response_dispose(struct http_response *r);

/* A running `smolserve serve`. */
struct test_server {
	pid_t pid;  /* 0: not running */
	int port;   /* bound port, parsed from the "listening on" line */
	int log_fd; /* its stderr and stdout (an unlinked temporary file) */
};

/* Starts `$SMOLSERVE_BIN serve --model model_dir --hostname 127.0.0.1
 * --port 0 extra_args...` (extra_args NULL-terminated, may be NULL) and
 * waits at most timeout_ms for its "listening on http://127.0.0.1:PORT"
 * line. The server dies with the calling thread (PR_SET_PDEATHSIG), so a
 * failed test leaves nothing behind. 0, or -1 with err filled (the server's
 * log included) and nothing left running. */
int test_server_start(struct test_server *s, const char *model_dir, const char *const *extra_args,
                      int timeout_ms, char *err, size_t n_err);

/* Like test_server_start, but returns as soon as a line "<marker>HOST:PORT"
 * appears (e.g. "bound to http://", printed before the model is loaded). */
int test_server_launch(struct test_server *s, const char *model_dir, const char *const *extra_args,
                       const char *marker, int timeout_ms, char *err, size_t n_err);

/* Sends sig to the server. 0 or a negative errno. */
int test_server_signal(const struct test_server *s, int sig);

/* Waits at most timeout_ms for the server to exit. Its exit status
 * (128 + signal if killed by one), or -ETIMEDOUT while it still runs. */
int test_server_wait(struct test_server *s, int timeout_ms);

/* SIGTERM, then waits at most timeout_ms; if it is still running then,
 * SIGKILL and -ETIMEDOUT. Otherwise its exit status as test_server_wait.
 * Closes the log. Harmless on a server that is not running. */
int test_server_stop(struct test_server *s, int timeout_ms);

/* Everything the server wrote so far (malloc'd, NUL-terminated), or NULL. */
char *test_server_log(const struct test_server *s);

/* Runs argv (NULL-terminated; argv[0] looked up in PATH) with in (in_len
 * bytes) on stdin, at most timeout_ms. *out gets its stdout, and its
 * stderr too if merge_stderr (malloc'd, NUL-terminated; NULL on failure).
 * Returns its exit status (127: could not be executed), or a negative
 * errno (-ETIMEDOUT: it was killed). */
int run_program(const char *const *argv, int merge_stderr, const char *in, size_t in_len,
                int timeout_ms, char **out);

/* Runs `$SMOLSERVE_BIN run ROUTE --model model_dir extra_args...` with body
 * (body_len bytes) on stdin, at most timeout_ms. *out gets its stdout
 * (malloc'd, NUL-terminated; NULL on failure). Returns its exit status, or
 * a negative errno (-ETIMEDOUT: it was killed). */
int smolserve_run(const char *route, const char *model_dir, const char *const *extra_args,
                  const char *body, size_t body_len, int timeout_ms, char **out);

#endif
