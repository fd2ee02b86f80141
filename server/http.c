/*
 * libmicrohttpd on the libuv loop (see service.h). MHD runs in external
 * polling mode with epoll: its epoll descriptor sits under a uv_poll_t and
 * its timeout under a uv_timer_t, so every MHD call happens on the loop
 * thread. Model-bound requests are parsed and tokenized here, queued, and
 * their connections suspended (inside the access handler, as MHD requires)
 * until a worker's batch finishes and the loop resumes them.
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "http-impl.h"
#include "log.h"
#include "service.h"

void job_destroy(struct job *j)
{
	if (j == NULL)
		return;
	request_dispose(&j->req);
	json_decref(j->body);
	free(j);
}

static void on_mhd_timer(uv_timer_t *t)
{
	http_run(t->data);
}

static void on_mhd_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	http_run(p->data);
}

void http_run(struct service *s)
{
	if (s->mhd == NULL)
		return;
	MHD_run(s->mhd);
	MHD_UNSIGNED_LONG_LONG timeout_ms;
	if (MHD_get_timeout(s->mhd, &timeout_ms) == MHD_YES)
		uv_timer_start(&s->mhd_timer, on_mhd_timer,
		               timeout_ms > 60000 ? 60000 : (uint64_t)timeout_ms, 0);
	else
		uv_timer_stop(&s->mhd_timer);
	service_maybe_finish(s);
}

/* Schedules an MHD run on the next loop iteration (never from inside an
 * MHD callback). */
static void run_soon(struct service *s)
{
	if (s->mhd != NULL)
		uv_timer_start(&s->mhd_timer, on_mhd_timer, 0, 0);
}

void http_job_finished(struct service *s, struct job *j)
{
	MHD_resume_connection(j->conn);
	run_soon(s);
}

int http_job_disconnected(struct job *j)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(j->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return 0;
	char c;
	ssize_t n = recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0)
		return 1; /* orderly shutdown by the peer */
	return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
}

static int resolve(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len,
                   char *err, size_t n_err)
{
	struct addrinfo hints = {0}, *res = NULL;
	char service[16];
	snprintf(service, sizeof(service), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	int rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0 || res == NULL) {
		snprintf(err, n_err, "--hostname %s: %s", host, gai_strerror(rc));
		return -1;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int http_start(struct service *s, char *err, size_t n_err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	if (resolve(s->cfg->hostname, (int)s->cfg->port, &ss, &len, err, n_err) != 0)
		return -1;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, (uint16_t)s->cfg->port, NULL, NULL, http_on_request, s,
	                          MHD_OPTION_EXTERNAL_LOGGER, log_mhd, NULL, MHD_OPTION_SOCK_ADDR,
	                          (struct sockaddr *)&ss, MHD_OPTION_NOTIFY_COMPLETED,
	                          http_on_completed, s, MHD_OPTION_CONNECTION_TIMEOUT,
	                          (unsigned)120, MHD_OPTION_CONNECTION_LIMIT,
	                          (unsigned)(s->cfg->max_concurrent_requests + 256),
	                          MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, n_err, "cannot listen on %s:%d: %s", s->cfg->hostname,
		         (int)s->cfg->port, strerror(errno));
		return -1;
	}
	const union MHD_DaemonInfo *port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = port != NULL ? port->port : (int)s->cfg->port;
	const union MHD_DaemonInfo *ep = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (ep == NULL) {
		snprintf(err, n_err, "libmicrohttpd has no epoll descriptor");
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
		return -1;
	}
	uv_poll_init(&s->loop, &s->mhd_poll, ep->epoll_fd);
	s->mhd_poll.data = s;
	uv_poll_start(&s->mhd_poll, UV_READABLE, on_mhd_poll);
	uv_timer_init(&s->loop, &s->mhd_timer);
	s->mhd_timer.data = s;
	run_soon(s);
	return 0;
}

void http_quiesce(struct service *s)
{
	if (s->mhd == NULL)
		return;
	MHD_socket fd = MHD_quiesce_daemon(s->mhd);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	run_soon(s);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

void http_stop(struct service *s)
{
	if (s->mhd == NULL)
		return;
	uv_poll_stop(&s->mhd_poll);
	uv_timer_stop(&s->mhd_timer);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	uv_close((uv_handle_t *)&s->mhd_poll, on_closed);
	uv_close((uv_handle_t *)&s->mhd_timer, on_closed);
}
