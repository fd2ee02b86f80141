/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libmicrohttpd on the libuv loop (see service.h). MHD runs in external
 * polling mode with epoll: its epoll descriptor sits under a uv_poll_t and
 * its timeout under a uv_timer_t, so every MHD call happens on the loop
 * thread. Connections of model requests are suspended (inside the access
 * handler, as MHD requires) while their work is done elsewhere, and resumed
 * here, outside MHD's callbacks, just before MHD_run: MHD 0.9.75 does not
 * act on a resume issued from inside its own callbacks until more I/O
 * arrives.
 *
 * It also keeps every connection's upload deadlines: complete headers within
 * --header-timeout-s of connecting (or of the previous answer plus
 * --idle-timeout-s on a kept-alive connection), a complete body within
 * --body-timeout-s of the headers. MHD's own inactivity timeout is reset by
 * every byte, so a client trickling bytes would hold a connection forever;
 * a connection past its deadline is shut down (shutdown(2) on MHD's socket:
 * MHD sees the end of stream and closes it through its usual path).
 */
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http-impl.h"
#include "log.h"
#include "service.h"

enum watch_phase { WATCH_HEADERS = 0, WATCH_BODY, WATCH_BUSY, WATCH_IDLE };

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

/* Resumes every connection whose answer is ready. Outside MHD callbacks. */
static void resume_ready(struct service *s)
{
	struct job *j = s->resume_head;
	s->resume_head = s->resume_tail = NULL;
	while (j != NULL) {
		struct job *next = j->resume_next;
		j->resume_next = NULL;
		MHD_resume_connection(j->conn);
		j = next;
	}
}

void http_run(struct service *s)
{
	if (s->mhd == NULL)
		return;
	resume_ready(s);
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
	j->state = JOB_ANSWERED;
	j->resume_next = NULL;
	if (s->resume_tail != NULL)
		s->resume_tail->resume_next = j;
	else
		s->resume_head = j;
	s->resume_tail = j;
	run_soon(s);
}

int http_job_disconnected(struct job *j)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(j->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci == NULL)
		return 0;
	/* A FIN alone (POLLRDHUP) may be a client that half-closed and still
	 * reads: only an error or a reset means nobody will read the answer. */
	struct pollfd p = {.fd = ci->connect_fd, .events = POLLIN | POLLRDHUP};
	if (poll(&p, 1, 0) <= 0)
		return 0;
	if (p.revents & (POLLERR | POLLHUP))
		return 1;
	return 0;
}

/* --- upload deadlines ------------------------------------------------------ */

static struct watch_list *phase_list(struct service *s, int phase)
{
	switch (phase) {
	case WATCH_HEADERS:
		return &s->watch_headers;
	case WATCH_BODY:
		return &s->watch_body;
	case WATCH_IDLE:
		return &s->watch_idle;
	default:
		return NULL;
	}
}

static void watch_unlink(struct service *s, struct sock_watch *w)
{
	struct watch_list *l = phase_list(s, w->phase);
	if (l == NULL)
		return;
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		l->head = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	else
		l->tail = w->prev;
	w->prev = w->next = NULL;
}

static void on_watch_timer(uv_timer_t *t);

/* Arms the timer at the earliest deadline of the three lists. */
static void watch_arm(struct service *s)
{
	uint64_t first = 0;
	const struct watch_list *lists[3] = {&s->watch_headers, &s->watch_body, &s->watch_idle};
	for (int i = 0; i < 3; i++)
		if (lists[i]->head != NULL && (first == 0 || lists[i]->head->deadline_ns < first))
			first = lists[i]->head->deadline_ns;
	if (first == 0) {
		uv_timer_stop(&s->watch_timer);
		return;
	}
	uint64_t now = now_ns();
	uint64_t ms = first > now ? (first - now + 999999u) / 1000000u : 0;
	uv_timer_start(&s->watch_timer, on_watch_timer, ms, 0);
}

/* Moves w to phase, with a deadline timeout_s from now (0: none). Each
 * phase has one timeout, so appending keeps every list in deadline order. */
static void watch_set(struct service *s, struct sock_watch *w, int phase, int64_t timeout_s)
{
	if (w == NULL || w->killed)
		return;
	watch_unlink(s, w);
	w->phase = phase;
	w->deadline_ns = timeout_s > 0 ? now_ns() + (uint64_t)timeout_s * 1000000000u : 0;
	struct watch_list *l = phase_list(s, phase);
	if (l != NULL) {
		w->prev = l->tail;
		if (l->tail != NULL)
			l->tail->next = w;
		else
			l->head = w;
		l->tail = w;
	}
	watch_arm(s);
}

static void on_watch_timer(uv_timer_t *t)
{
	struct service *s = t->data;
	uint64_t now = now_ns();
	int killed = 0;
	struct watch_list *lists[3] = {&s->watch_headers, &s->watch_body, &s->watch_idle};
	for (int i = 0; i < 3; i++) {
		while (lists[i]->head != NULL && lists[i]->head->deadline_ns <= now) {
			struct sock_watch *w = lists[i]->head;
			watch_unlink(s, w);
			w->phase = WATCH_BUSY;
			w->killed = 1;
			shutdown(w->fd, SHUT_RDWR);
			killed++;
		}
	}
	if (killed > 0)
		run_soon(s);
	watch_arm(s);
}

static struct sock_watch *watch_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci != NULL ? ci->socket_context : NULL;
}

void http_watch_body(struct service *s, struct MHD_Connection *c)
{
	watch_set(s, watch_of(c), WATCH_BODY, s->cfg->body_timeout_s);
}

void http_watch_busy(struct service *s, struct MHD_Connection *c)
{
	watch_set(s, watch_of(c), WATCH_BUSY, 0);
}

int http_watch_killed(struct MHD_Connection *c)
{
	struct sock_watch *w = watch_of(c);
	return w != NULL && w->killed;
}

/* A request on c ended (answered or dropped); a kept-alive connection must
 * bring its next request's headers within the idle and header timeouts. */
void http_watch_idle(struct service *s, struct MHD_Connection *c)
{
	watch_set(s, watch_of(c), WATCH_IDLE, s->cfg->idle_timeout_s + s->cfg->header_timeout_s);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct service *s = cls;
	struct sock_watch *w = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		w = calloc(1, sizeof(*w));
		if (w == NULL || ci == NULL) {
			free(w);
			return; /* no deadlines for this one; MHD's idle timeout still holds */
		}
		w->fd = ci->connect_fd;
		w->phase = WATCH_BUSY;
		*socket_context = w;
		s->metrics.connections++;
		watch_set(s, w, WATCH_HEADERS, s->cfg->header_timeout_s);
		return;
	}
	if (w == NULL)
		return;
	watch_unlink(s, w);
	free(w);
	*socket_context = NULL;
	s->metrics.connections--;
	watch_arm(s);
	if (s->metrics.connections == 0)
		flow_trim_soon(s); /* a burst is over: give its memory back */
}

/* --- the daemon ----------------------------------------------------------- */

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
	const struct settings *cfg = s->cfg;
	struct sockaddr_storage ss;
	socklen_t len;
	if (resolve(cfg->hostname, (int)cfg->port, &ss, &len, err, n_err) != 0)
		return -1;
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	uv_timer_init(&s->loop, &s->watch_timer);
	s->watch_timer.data = s;
	s->mhd = MHD_start_daemon(
	    flags, (uint16_t)cfg->port, NULL, NULL, http_on_request, s, MHD_OPTION_EXTERNAL_LOGGER,
	    log_mhd, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_NOTIFY_COMPLETED, http_on_completed, s, MHD_OPTION_NOTIFY_CONNECTION,
	    on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout_s,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_connections_per_ip,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)(cfg->max_concurrent_requests + 256),
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024, MHD_OPTION_END);
	if (s->mhd == NULL) {
		snprintf(err, n_err, "cannot listen on %s:%d: %s", cfg->hostname, (int)cfg->port,
		         strerror(errno));
		uv_close((uv_handle_t *)&s->watch_timer, NULL);
		return -1;
	}
	const union MHD_DaemonInfo *port = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = port != NULL ? port->port : (int)cfg->port;
	const union MHD_DaemonInfo *ep = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (ep == NULL) {
		snprintf(err, n_err, "libmicrohttpd has no epoll descriptor");
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
		uv_close((uv_handle_t *)&s->watch_timer, NULL);
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
	resume_ready(s);            /* never stop the daemon with connections suspended */
	for (int i = 0; i < 4; i++) /* and let their answers go out */
		MHD_run(s->mhd);
	MHD_stop_daemon(s->mhd);
	s->mhd = NULL;
	uv_close((uv_handle_t *)&s->mhd_poll, on_closed);
	uv_close((uv_handle_t *)&s->mhd_timer, on_closed);
	uv_close((uv_handle_t *)&s->watch_timer, on_closed);
}
